"""The client namespaces a linked host is exported to, and what their NetworkPolicy allows
and blocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshlink.offline.rendered import RenderedObject
from meshlink.offline.summary.markdown import code_list


def _peer(peer: Mapping[str, Any]) -> str:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        excepted = block.get("except")
        return f"`{block.get('cidr')}`" + (f" except {code_list(excepted)}" if excepted else "")
    parts = []
    if "podSelector" in peer:
        labels = peer["podSelector"].get("matchLabels", {})
        pods = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        parts.append(f"pods `{pods}`" if pods else "every pod")
    if "namespaceSelector" in peer:
        labels = peer["namespaceSelector"].get("matchLabels", {})
        name = labels.get("kubernetes.io/metadata.name")
        if name:
            parts.append(f"in namespace `{name}`")
        elif labels:
            selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            parts.append(f"in namespaces `{selector}`")
        else:
            parts.append("in every namespace")
    elif "podSelector" in peer:
        parts.append("of the same namespace")
    return " ".join(parts)


def _rule(rule: Mapping[str, Any], peers_key: str) -> str:
    peers = rule.get(peers_key)
    where = " or ".join(_peer(p) for p in peers) if peers else "anywhere"
    ports = rule.get("ports")
    which = (
        ", ".join(f"{p.get('port', 'any')}/{p.get('protocol', 'TCP')}" for p in ports)
        if ports
        else "every port"
    )
    return f"{where} on {which}"


def _network_policy_lines(policy: Mapping[str, Any]) -> list[str]:
    spec = policy.get("spec", {})
    labels = spec.get("podSelector", {}).get("matchLabels", {})
    selected = (
        f"the pods `{','.join(f'{k}={v}' for k, v in sorted(labels.items()))}`"
        if labels
        else "**every pod** of the namespace, including workloads already there"
    )
    name = policy.get("metadata", {}).get("name")
    lines = [f"- NetworkPolicy `{name}` selects {selected}."]
    # Kubernetes' semantics (https://kubernetes.io/docs/concepts/services-networking/
    # network-policies/): without policyTypes a policy is Ingress, plus Egress when it has
    # egress rules; a pod a policy selects for a direction is isolated in it, and what the
    # policies selecting it allow is added up.
    types = spec.get("policyTypes") or ["Ingress", *(["Egress"] if spec.get("egress") else [])]
    for direction, rules_key, peers_key, verb, preposition in (
        ("Egress", "egress", "to", "outbound", "to"),
        ("Ingress", "ingress", "from", "inbound", "from"),
    ):
        if direction not in types:
            continue
        rules = spec.get(rules_key) or []
        if not rules:
            lines.append(f"  - It blocks **every {verb} connection** of the selected pods.")
            continue
        lines.append(f"  - {verb.capitalize()} connections are allowed only {preposition}:")
        lines += [f"    - {_rule(rule, peers_key)}" for rule in rules]
        lines.append(
            f"  - Every other {verb} connection of the selected pods is **blocked** (unless "
            "another NetworkPolicy selecting them allows it)."
        )
    return lines


def client_namespaces_section(objects: list[RenderedObject]) -> list[str]:
    """The namespaces a linked host is exported to, and what NetworkPolicy this program
    declares in each."""
    visible: dict[tuple[str, str], set[str]] = {}
    for o in objects:
        if o.manifest.get("kind") != "ServiceEntry":
            continue
        spec = o.manifest.get("spec", {})
        tcp = [str(p.get("number")) for p in spec.get("ports", []) if p.get("protocol") == "TCP"]
        if not tcp:
            continue
        for namespace in spec.get("exportTo", ["*"]):
            if namespace == ".":
                namespace = o.manifest.get("metadata", {}).get("namespace", "?")
            for host in spec.get("hosts", []):
                visible.setdefault((o.cluster, namespace), set()).update(
                    f"{host}:{port}" for port in tcp
                )
    policies: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for o in objects:
        if o.manifest.get("kind") == "NetworkPolicy":
            namespace = o.manifest.get("metadata", {}).get("namespace", "?")
            policies.setdefault((o.cluster, namespace), []).append(o.manifest)
    if not visible and not policies:
        return []
    lines = ["## Client namespaces and their NetworkPolicy", ""]
    for cluster, namespace in sorted(set(visible) | set(policies)):
        title = "every namespace" if namespace == "*" else f"namespace `{namespace}`"
        lines += [f"### `{cluster}`: {title}", ""]
        if (cluster, namespace) in visible:
            lines.append(
                f"- Linked services visible here: {code_list(sorted(visible[cluster, namespace]))}."
            )
        declared = sorted(
            policies.get((cluster, namespace), []), key=lambda m: str(m["metadata"]["name"])
        )
        if not declared:
            lines.append(
                "- No NetworkPolicy declared by this program: outbound connections are as "
                "the namespace's own policies allow."
            )
        for policy in declared:
            lines += _network_policy_lines(policy)
        lines.append("")
    return lines[:-1]

"""The objects a link is made of, found as the gateways find them: small readers of
rendered specs, Istio host matching, the gateways' servers and the DestinationRules that
originate mutual TLS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from meshlink.offline.rehearse.render import KubeObject, Render


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def as_strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)]


def as_int(value: Any) -> int | None:
    """An integer, also when a serialiser wrote it as ``13306.0``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def port_number(value: Any) -> int | None:
    return as_int(as_mapping(value).get("number"))


def gateway_host(entry: str) -> str:
    """Gateway hosts may carry a namespace qualifier (``ns/host``, ``./host``, ``*/host``)."""
    return entry.split("/", 1)[1] if "/" in entry else entry


def host_matches(pattern: str, name: str) -> bool:
    """Istio host matching: ``*`` matches all; ``*.x`` matches any name ending in ``.x``."""
    pattern, name = pattern.lower(), name.lower()
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return name.endswith(pattern[1:]) and len(name) > len(pattern) - 1
    return pattern == name


def any_host_matches(patterns: Iterable[str], name: str) -> bool:
    return any(host_matches(gateway_host(p), name) for p in patterns)


def _labels_match(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def gateway_namespaces(render: Render, gateway: KubeObject) -> list[str]:
    """Where the gateway's pods run, hence where its ``credentialName`` Secret must be.

    The Deployments whose pod-template labels match the Gateway's selector; the
    Gateway's own namespace when none is rendered (an existing, reused gateway).
    """
    selector = as_mapping(gateway.spec.get("selector"))
    found = sorted(
        {
            d.namespace
            for d in render.of_kind("Deployment", cluster=gateway.cluster)
            if _labels_match(
                selector,
                as_mapping(
                    as_mapping(as_mapping(d.spec.get("template")).get("metadata")).get("labels")
                ),
            )
        }
    )
    return found or [gateway.namespace]


@dataclass(frozen=True)
class GatewayServer:
    gateway: KubeObject
    index: int
    server: Mapping[str, Any]

    @property
    def tls(self) -> Mapping[str, Any]:
        return as_mapping(self.server.get("tls"))

    @property
    def hosts(self) -> list[str]:
        return as_strings(self.server.get("hosts"))

    @property
    def port(self) -> int | None:
        return port_number(self.server.get("port"))

    @property
    def ref(self) -> str:
        return f"{self.gateway.ref} servers[{self.index}]"


def gateway_servers(
    render: Render, *, mode: str, cluster: str | None = None
) -> list[GatewayServer]:
    out = []
    for gateway in render.of_kind("Gateway", cluster=cluster):
        for index, server in enumerate(as_list(gateway.spec.get("servers"))):
            server = as_mapping(server)
            if str(as_mapping(server.get("tls")).get("mode", "")).upper() == mode:
                out.append(GatewayServer(gateway, index, server))
    return out


@dataclass(frozen=True)
class Origination:
    rule: KubeObject
    where: str
    port: int | None
    tls: Mapping[str, Any]

    @property
    def host(self) -> str:
        return str(self.rule.spec.get("host", ""))

    @property
    def ref(self) -> str:
        return f"{self.rule.ref} {self.where}"


def originations(render: Render) -> list[Origination]:
    out = []
    for rule in render.of_kind("DestinationRule"):
        policy = as_mapping(rule.spec.get("trafficPolicy"))
        tls = as_mapping(policy.get("tls"))
        if str(tls.get("mode", "")).upper() == "MUTUAL":
            out.append(Origination(rule, "trafficPolicy.tls", None, tls))
        for index, setting in enumerate(as_list(policy.get("portLevelSettings"))):
            setting = as_mapping(setting)
            tls = as_mapping(setting.get("tls"))
            if str(tls.get("mode", "")).upper() == "MUTUAL":
                out.append(
                    Origination(
                        rule,
                        f"trafficPolicy.portLevelSettings[{index}].tls",
                        port_number(setting.get("port")),
                        tls,
                    )
                )
    return out

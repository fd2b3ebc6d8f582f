"""The policy pack (``policy/``) under the real CLI: ``pulumi preview --policy-pack`` of the
link program passes, and a program with one violation of each rule has every rule fire with
its message; the pack's configuration makes a rule advisory and tunes another.

The CLI runs the pack through ``policy/run-policy-pack`` (README: the policy pack), the
Kubernetes objects go to the client control plane, where the provider's preview puts each
before the API server as a dry run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pulumi import automation as auto

from policy.guardrails import LINK_LABEL
from tests.e2e.clusters import LocalCluster, ensure_crds
from tests.e2e.engine import Engine
from tests.e2e.link_program import CLIENT_NAMESPACES, Credentials, LinkCase, link_program
from tests.e2e.toolchain import Toolchain
from tests.support import certs, mesh

PROJECT = "meshlink-policy"
PACK_NAME = "meshlink-guardrails"
NAMESPACE = CLIENT_NAMESPACES[0]
LINK_HOST = "orders.link.example.com"


@pytest.fixture(scope="module")
def pack(repository: Path) -> str:
    return str(repository / "policy" / "run-policy-pack")


@pytest.fixture(scope="module")
def client_cluster(
    clusters: dict[str, LocalCluster], toolchain: Toolchain
) -> Iterator[LocalCluster]:
    for cluster in clusters.values():
        ensure_crds(cluster, toolchain)
    yield clusters["client"]


class PolicyRecorder:
    """The engine events of one preview: each policy violation, and the packs that ran."""

    def __init__(self) -> None:
        self.violations: list[auto.events.PolicyEvent] = []
        self.packs: dict[str, str] = {}

    def __call__(self, event: auto.EngineEvent) -> None:
        if event.policy_event is not None:
            self.violations.append(event.policy_event)
        if event.summary_event is not None:
            # Keyed "<name>|local|<path>" for a local pack.
            for key, version in event.summary_event.policy_packs.items():
                self.packs[key.split("|", 1)[0]] = version

    def by_policy(self) -> dict[str, list[auto.events.PolicyEvent]]:
        found: dict[str, list[auto.events.PolicyEvent]] = {}
        for violation in self.violations:
            found.setdefault(violation.policy_name, []).append(violation)
        return found


def _preview(
    engine: Engine, stack_name: str, program: Callable[[], None], pack: str, config: Any = None
) -> tuple[PolicyRecorder, str]:
    """A preview with the pack (and its configuration, as a file); the recorder and what
    the CLI printed, whether or not a mandatory violation failed it."""
    stack = engine.stack(PROJECT, stack_name, program, {})
    configs = None
    if config is not None:
        config_file = engine.home / f"{stack_name}-policy-config.json"
        config_file.write_text(json.dumps(config))
        configs = [str(config_file)]
    recorder = PolicyRecorder()
    try:
        result = stack.preview(
            policy_packs=[pack], policy_pack_configs=configs, on_event=recorder, on_output=print
        )
        output = result.stdout
    except auto.CommandError as failed:
        output = str(failed)
    finally:
        stack.workspace.remove_stack(stack_name)
    return recorder, output


def test_the_link_program_passes_every_rule(
    engine: Engine, pack: str, client_cluster: LocalCluster, clusters: dict[str, LocalCluster]
) -> None:
    fqdns = [service["fqdn"] for service in mesh.services(2)]
    case = LinkCase(
        client_kubeconfig=clusters["client"].kubeconfig,
        server_kubeconfig=clusters["server"].kubeconfig,
        credentials=Credentials.issue(fqdns),
    )
    recorder, output = _preview(engine, "compliant", link_program(case), pack)
    assert recorder.packs.get(PACK_NAME) == "0.1.0", output
    assert recorder.violations == [], [v.message for v in recorder.violations]


def _weak_long_lived_leaf() -> tuple[str, str]:
    """An RSA-2048 leaf valid 800 days: (certificate PEM, key PEM)."""
    now = dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certs.issue(
        "Orders CA",
        ca_key,
        issuer=None,
        not_before=now,
        not_after=now + dt.timedelta(3650),
        is_ca=True,
    )
    leaf = certs.issue(
        LINK_HOST,
        key,
        issuer=(ca, ca_key),
        not_before=now,
        not_after=now + dt.timedelta(800),
        is_ca=False,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH],
    )
    return certs.pem(leaf) + certs.pem(ca), certs.key_pem(key)


def metadata(name: str, **labels: str) -> k8s.meta.v1.ObjectMetaArgs:
    return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=NAMESPACE, labels=labels or None)


def _violations_program(kubeconfig: str, *, only: set[str] | None = None) -> Callable[[], None]:
    """One object per rule, each breaking it, declared by hand on the client cluster (as a
    team that uses no meshlink would), plus the labelled ServiceEntry that names the link
    host. ``only`` keeps the objects of those rules."""
    chain_pem, key_pem = _weak_long_lived_leaf()

    def program() -> None:
        provider = k8s.Provider("client", kubeconfig=pulumi.Output.secret(kubeconfig))
        opts = pulumi.ResourceOptions(provider=provider)

        def wanted(rule: str) -> bool:
            return only is None or rule in only

        if wanted("link-destination-rule-mutual-tls"):
            k8s.apiextensions.CustomResource(
                "orders-link-entry",
                api_version="networking.istio.io/v1",
                kind="ServiceEntry",
                metadata=metadata("orders-link", **{LINK_LABEL: "orders"}),
                spec={
                    "hosts": [LINK_HOST],
                    "location": "MESH_EXTERNAL",
                    "resolution": "DNS",
                    "ports": [{"name": "tls", "number": 13306, "protocol": "TLS"}],
                },
                opts=opts,
            )
            k8s.apiextensions.CustomResource(
                "orders-simple-origination",
                api_version="networking.istio.io/v1",
                kind="DestinationRule",
                metadata=metadata("orders-simple"),
                spec={"host": LINK_HOST, "trafficPolicy": {"tls": {"mode": "SIMPLE"}}},
                opts=opts,
            )
        if wanted("mutual-gateway-client-checks"):
            k8s.apiextensions.CustomResource(
                "orders-open-gateway",
                api_version="networking.istio.io/v1",
                kind="Gateway",
                metadata=metadata("orders-open"),
                spec={
                    "selector": {"istio": "orders-ingress"},
                    "servers": [
                        {
                            "hosts": [LINK_HOST],
                            "port": {"name": "tls", "number": 13306, "protocol": "TLS"},
                            "tls": {
                                "mode": "MUTUAL",
                                "credentialName": "orders-server-tls",
                                "minProtocolVersion": "TLSV1_0",
                            },
                        }
                    ],
                },
                opts=opts,
            )
        if wanted("link-certificate-strength"):
            k8s.core.v1.Secret(
                "orders-weak-credential",
                metadata=metadata("orders-server-tls"),
                type="kubernetes.io/tls",
                string_data={"tls.crt": chain_pem, "tls.key": key_pem},
                opts=opts,
            )
        if wanted("private-keys-are-secret"):
            k8s.core.v1.ConfigMap(
                "orders-key-in-config",
                metadata=metadata("orders-client-key"),
                data={"client.key": key_pem},
                opts=opts,
            )
        if wanted("load-balancer-source-ranges"):
            k8s.core.v1.Service(
                "orders-open-ingress",
                metadata=metadata("orders-ingress"),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="LoadBalancer",
                    selector={"istio": "orders-ingress"},
                    ports=[k8s.core.v1.ServicePortArgs(name="tls", port=13306, target_port=13306)],
                    load_balancer_source_ranges=["0.0.0.0/0"],
                ),
                opts=opts,
            )

    return program


EXPECTED = {
    "link-destination-rule-mutual-tls": (
        "orders-simple-origination",
        f"spec.trafficPolicy.tls.mode is SIMPLE towards link host {LINK_HOST}",
    ),
    "mutual-gateway-client-checks": (
        "orders-open-gateway",
        "spec.servers[0].tls.subjectAltNames is empty",
    ),
    "link-certificate-strength": (
        "orders-weak-credential",
        f"data.tls.crt: CN={LINK_HOST} has an RSA key of 2048 bits",
    ),
    "private-keys-are-secret": ("orders-key-in-config", "data.client.key holds a private key"),
    "load-balancer-source-ranges": (
        "orders-open-ingress",
        "spec.loadBalancerSourceRanges admits every IPv4 address (0.0.0.0/0)",
    ),
}
"""Each rule: the resource it fires on and a part of its message. The Secret's certificate is
read from ``data``: the Kubernetes provider's check turns ``stringData`` into base64 ``data``
before the engine hands the inputs to the pack."""


def test_each_rule_fires_on_its_violation(
    engine: Engine, pack: str, client_cluster: LocalCluster
) -> None:
    recorder, output = _preview(
        engine, "violations", _violations_program(client_cluster.kubeconfig), pack
    )
    found = recorder.by_policy()
    assert set(found) == set(EXPECTED), output
    for policy, (resource, message) in EXPECTED.items():
        violations = found[policy]
        assert all(v.enforcement_level == "mandatory" for v in violations)
        assert any(
            (v.resource_urn or "").endswith(f"::{resource}") and message in v.message
            for v in violations
        ), [(v.resource_urn, v.message) for v in violations]
    # Mandatory violations fail the preview, naming each.
    assert "error: preview failed" in output
    assert "spec.servers[0].tls.minProtocolVersion is TLSV1_0, below TLSV1_2" in output
    assert "is valid for 800 days; a leaf certificate lives at most 397 days" in output


def test_the_configuration_sets_levels_and_limits(
    engine: Engine, pack: str, client_cluster: LocalCluster
) -> None:
    """The load balancer rule advisory, the certificate rule allowing RSA-2048 for up to 900
    days: the preview succeeds, with one advisory violation."""
    config = {
        "load-balancer-source-ranges": "advisory",
        "link-certificate-strength": {"minRsaBits": 2048, "maxLeafValidityDays": 900},
    }
    program = _violations_program(
        client_cluster.kubeconfig,
        only={"load-balancer-source-ranges", "link-certificate-strength"},
    )
    recorder, output = _preview(engine, "configured", program, pack, config)
    assert recorder.packs.get(PACK_NAME) == "0.1.0", output
    assert [(v.policy_name, v.enforcement_level) for v in recorder.violations] == [
        ("load-balancer-source-ranges", "advisory")
    ], output
    assert "error: preview failed" not in output

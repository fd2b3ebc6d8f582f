"""Settings that would render without a word but endanger a cluster: each is refused with
one message naming the key and saying why, unless a named override accepts it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from meshlink.mesh.gateway_settings import EgressGatewaySettings, IngressGatewaySettings
from meshlink.mesh.hardening import ClientNetworkPolicy
from meshlink.validation import covers_all_addresses
from tests.test_mesh_validation import link_with, run_bad

HOSTILE: dict[str, tuple[dict[str, Any], list[str]]] = {
    "ingress gateway in kube-system": (
        {"server.ingress_gateway.namespace": "kube-system"},
        ["server.ingress_gateway", "'kube-system' is a system namespace"],
    ),
    "ingress gateway in istio-system": (
        {"server.ingress_gateway.namespace": "istio-system"},
        ["server.ingress_gateway", "allow_system_namespace"],
    ),
    "egress gateway in kube-system": (
        {"client.egress_gateway": {"namespace": "kube-system"}},
        ["client.egress_gateway", "'kube-system' is a system namespace"],
    ),
    "client namespace kube-system": (
        {"client.namespaces": ["orders", "kube-system"]},
        ["client.namespaces[1]: 'kube-system' is a system namespace"],
    ),
    "client namespace istio-system": (
        {"client.namespaces": ["istio-system"]},
        ["client.namespaces[0]: 'istio-system' is a system namespace"],
    ),
    "client namespace is the egress gateway's": (
        {"client.egress_gateway": {"namespace": "orders"}},
        ["client.namespaces: 'orders' is the egress gateway's namespace"],
    ),
    "source ranges 0.0.0.0/0": (
        {"server.ingress_gateway.source_ranges": ["0.0.0.0/0"]},
        ["source_ranges: 0.0.0.0/0 admits every address", "together cover it"],
    ),
    "source ranges split into halves": (
        {"server.ingress_gateway.source_ranges": ["0.0.0.0/1", "128.0.0.0/1"]},
        ["source_ranges: 0.0.0.0/0 admits every address", "together cover it"],
    ),
    "extra egress 0.0.0.0/0": (
        {"client.network_policy": {"extra_egress": [{"cidr": "0.0.0.0/0"}]}},
        ["client.network_policy", "extra_egress", "cover 0.0.0.0/0"],
    ),
    "extra egress split into quarters": (
        {
            "client.network_policy": {
                "extra_egress": [
                    {"cidr": c} for c in ("0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2")
                ]
            }
        },
        ["extra_egress", "cover 0.0.0.0/0"],
    ),
    "target is the API server": (
        {"services[0].target_host": "kubernetes.default.svc.cluster.local"},
        ["services[0].target_host", "is the cluster's API server"],
    ),
    "target is kubernetes.default": (
        {"services[0].target_host": "kubernetes.default"},
        ["services[0].target_host", "is the cluster's API server"],
    ),
    "target is the metadata server by name": (
        {"services[0].target_host": "metadata.google.internal"},
        ["services[0].target_host", "is the metadata server"],
    ),
    "target is the metadata server by address": (
        {"services[0].target_host": "169.254.169.254"},
        ["services[0].target_host", "is the metadata server"],
    ),
    "target is another link-local address": (
        {"services[0].target_host": "169.254.169.253"},
        ["services[0].target_host", "link-local"],
    ),
    "link port true": (
        {"services[0].link_port": True},
        ["services[0].link_port: Input should be a valid integer"],
    ),
    "link port as a string": (
        {"services[0].link_port": "13306"},
        ["services[0].link_port: Input should be a valid integer"],
    ),
    "newline in the CA common name": (
        {"link_ca": {"subject": {"common_name": "Link CA\nOU=forged"}}},
        ["link_ca.subject.common_name", "single line"],
    ),
    "newline in the rotation value": (
        {"rotation": "2026-01\nforged"},
        ["rotation", "single line"],
    ),
    "a 100-year CA": (
        {"link_ca": {"subject": {"common_name": "Link CA"}, "validity_hours": 100 * 8760}},
        ["link_ca", "exceeds 20 years"],
    ),
    "an issuing CA that expires before its leaves": (
        {
            "link_ca": {
                "subject": {"common_name": "Link CA"},
                "issuing_ca": {
                    "subject": {"common_name": "Issuing CA"},
                    "validity_hours": 720,
                    "early_renewal_hours": 24,
                },
            }
        },
        ["link_ca", "issuing_ca.validity_hours (720) is shorter than the leaves it signs"],
    ),
    "target named as from a pod (service.namespace)": (
        {"services[0].target_host": "mysql.db"},
        [
            "services[0].target_host",
            "'mysql.db' is not fully qualified",
            "'mysql.db.svc.cluster.local'",
        ],
    ),
    "target without the cluster domain": (
        {"services[0].target_host": "mysql.db.svc"},
        ["services[0].target_host", "not fully qualified", "'mysql.db.svc.cluster.local'"],
    ),
    "target with half the cluster domain": (
        {"services[0].target_host": "mysql.db.svc.cluster"},
        ["services[0].target_host", "not fully qualified", "'mysql.db.svc.cluster.local'"],
    ),
    "leaf lifetime over 397 days": (
        {"leaf_lifetime": {"validity_hours": 398 * 24}},
        ["leaf_lifetime", "validity_hours (9552) exceeds 397 days", "allow_long_validity"],
    ),
    "leaf lifetime true": (
        {"leaf_lifetime": {"validity_hours": True}},
        ["leaf_lifetime.validity_hours: Input should be a valid integer"],
    ),
    "leaf lifetime as a string": (
        {"leaf_lifetime": {"early_renewal_hours": "720"}},
        ["leaf_lifetime.early_renewal_hours: Input should be a valid integer"],
    ),
    "leaf lifetime under a day": (
        {"leaf_lifetime": {"validity_hours": 1, "early_renewal_hours": 0}},
        ["leaf_lifetime.validity_hours: Input should be greater than or equal to 24"],
    ),
    "leaves longer than a root that signs them": (
        {
            "link_ca": {
                "subject": {"common_name": "Link CA"},
                "validity_hours": 1000,
                "early_renewal_hours": 10,
            }
        },
        [
            "link_ca.validity_hours (1000) is shorter than the leaves it signs",
            "leaf_lifetime.validity_hours: 2160 hours",
        ],
    ),
    "leaves set longer than the issuing CA": (
        {
            "link_ca": {
                "subject": {"common_name": "Link CA"},
                "issuing_ca": {"subject": {"common_name": "Issuing CA"}},
            },
            "leaf_lifetime": {"validity_hours": 30000, "allow_long_validity": True},
        },
        ["link_ca.issuing_ca.validity_hours (26280) is shorter than the leaves it signs"],
    ),
    "network policy settings while it is off": (
        {"client.network_policy": {"pod_selector": {"app": "orders-api"}}},
        ["client.network_policy", "pod_selector set, but enabled is false"],
    ),
    "network policy selecting by an empty selector": (
        {"client.network_policy": {"enabled": True, "pod_selector": {}}},
        ["client.network_policy.pod_selector", "an empty selector matches every pod"],
    ),
    "max path length 10": (
        {"link_ca": {"subject": {"common_name": "Link CA"}, "max_path_length": 10}},
        ["link_ca", "max_path_length (10) is above 2"],
    ),
    "client identity is the server FQDN": (
        {"client_identity": {"dns_name": "mysql.link.example.com"}},
        ["client_identity: 'mysql.link.example.com' is a linked service's FQDN"],
    ),
    "client identity is a SPIFFE URI of the server mesh": (
        {"client_identity": {"uri": "spiffe://cluster.local/ns/db/sa/mysql"}},
        ["client_identity", "server mesh's trust domain 'cluster.local'"],
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_dangerous_settings_are_refused(case: str) -> None:
    settings, expected = HOSTILE[case]
    error, registered = run_bad(link_with(**settings))
    assert registered == []
    message = str(error)
    for text in expected:
        assert text in message, message


def test_a_system_namespace_is_accepted_with_the_named_override() -> None:
    settings = EgressGatewaySettings.model_validate(
        {"namespace": "istio-system", "allow_system_namespace": True, "create_namespace": False}
    )
    assert settings.namespace == "istio-system"


def test_any_source_is_accepted_with_the_named_override() -> None:
    settings = IngressGatewaySettings.model_validate(
        {"source_ranges": ["0.0.0.0/1", "128.0.0.0/1"], "allow_any_source": True}
    )
    assert len(settings.source_ranges) == 2


def test_egress_that_leaves_a_gap_is_not_everything() -> None:
    policy = ClientNetworkPolicy.model_validate(
        {"enabled": True, "extra_egress": [{"cidr": "0.0.0.0/1"}, {"cidr": "128.0.0.0/2"}]}
    )
    assert len(policy.extra_egress) == 2


@pytest.mark.parametrize(
    ("cidrs", "expected"),
    [
        (["0.0.0.0/0"], "0.0.0.0/0"),
        (["0.0.0.0/1", "128.0.0.0/1"], "0.0.0.0/0"),
        (["10.0.0.0/8", "0.0.0.0/1", "128.0.0.0/1"], "0.0.0.0/0"),
        (["::/1", "8000::/1"], "::/0"),
        (["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3"], None),
        (["10.0.0.0/8"], None),
        ([], None),
    ],
)
def test_coverage_is_computed_not_matched(cidrs: list[str], expected: str | None) -> None:
    assert covers_all_addresses(cidrs) == expected


def test_the_longest_sane_ca_is_accepted() -> None:
    from meshlink.pki.authority import MAX_CA_VALIDITY_HOURS, _Model

    model = _Model.model_validate(
        {"subject": {"common_name": "Link CA"}, "validity_hours": MAX_CA_VALIDITY_HOURS}
    )
    assert model.validity_hours == MAX_CA_VALIDITY_HOURS


# ---------------------------------------------------------------- checked up front


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"apiVersion": "v1", "kind": "Config"}, "got a dict; pass the kubeconfig's text"),
        (Path("/home/me/.kube/config"), "got a path; pass the file's content"),
        (
            "/home/me/.kube/config",
            "is not kubeconfig text (a YAML or JSON mapping); it looks like a file path",
        ),
        (42, "got a int"),
    ],
    ids=["dict", "path", "path-as-text", "number"],
)
def test_readiness_kubeconfig_is_checked_up_front(setting: object, expected: str) -> None:
    error, registered = run_bad(link_with(**{"client.readiness": {"kubeconfig": setting}}))
    assert registered == []
    assert f"client.readiness.kubeconfig: {expected}" in str(error), str(error)


def test_an_output_as_link_ca_says_what_to_pass() -> None:
    error, registered = run_bad(
        link_with(link_ca=pulumi.Output.from_input("-----BEGIN CERTIFICATE-----"))
    )
    assert registered == []
    assert "link_ca: got an Output" in str(error)
    assert "pass the CA component itself" in str(error)


def test_a_kubeconfig_as_provider_says_what_to_pass() -> None:
    error, registered = run_bad(link_with(**{"client.provider": "apiVersion: v1"}))
    assert registered == []
    assert "client.provider" in str(error)
    assert "pass pulumi_kubernetes.Provider(name, kubeconfig=...)" in str(error)


def test_problems_of_every_part_are_reported_with_a_top_level_one() -> None:
    error, registered = run_bad(
        link_with(
            **{
                "cipher_suites": ["ECDHE-RSA-AES128-SHA"],
                "services[0].link_port": "13306",
                "client.egress_gateway": {"replicas": 1},
                "client_identity": {"dns_name": "Not A Name"},
            }
        )
    )
    assert registered == []
    paths = sorted(p.split(":")[0] for p in error.problems)
    assert paths == [
        "cipher_suites",
        "client.egress_gateway.replicas",
        "client_identity.dns_name",
        "services[0].link_port",
    ]

"""The policy pack's rules (``policy/guardrails.py``) as plain functions: every object a real
MeshLink declares passes them all, and each rule reports what a program can get wrong, in a
message naming the field. ``tests/e2e/test_policy_pack.py`` runs the pack under the CLI."""

from __future__ import annotations

import base64
import copy
import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.offline.engine import OfflineRun, Registration
from policy import guardrails
from policy.guardrails import CertificateRules
from tests.support import certs, mesh

RULES = CertificateRules()
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def run() -> OfflineRun:
    return mesh.run_link(mesh.link_program(service_count=2))


def _one(run: OfflineRun, type_: str, name_part: str) -> dict[str, Any]:
    """A copy of the inputs of the one registration of ``type_`` whose name has ``name_part``."""
    found = [r for r in run.of_type(type_) if name_part in r.name]
    assert len(found) == 1, [r.name for r in run.of_type(type_)]
    return copy.deepcopy(found[0].inputs)


def _link_hosts(run: OfflineRun) -> set[str]:
    return guardrails.link_hosts_of_service_entries((r.type, r.inputs) for r in run.registrations)


def _problems(registration: Registration, link_hosts: set[str]) -> list[str]:
    """Every rule that applies to the registration, as ``__main__.py`` applies them."""
    type_, props = registration.type, registration.inputs
    problems: list[str] = []
    if guardrails.is_istio_networking(type_, "DestinationRule"):
        problems += guardrails.destination_rule_problems(props["spec"], link_hosts)
    if guardrails.is_istio_networking(type_, "Gateway"):
        problems += guardrails.gateway_problems(props["spec"])
    if type_ == guardrails.TLS_PRIVATE_KEY:
        problems += guardrails.tls_private_key_problems(props, RULES)
    if type_ in guardrails.TLS_CERTIFICATES:
        problems += guardrails.tls_certificate_problems(props, RULES)
    secret = set(registration.additional_secret_outputs)
    if type_ in guardrails.KUBERNETES_SECRET_TYPES:
        problems += guardrails.kubernetes_secret_certificate_problems(props, RULES)
        secret |= guardrails.KUBERNETES_SECRET_FIELDS
    if type_ == "kubernetes:core/v1:Service":
        problems += guardrails.load_balancer_problems(props)
    return problems + guardrails.private_key_problems(props, secret)


def test_every_object_of_a_meshlink_link_passes_every_rule(run: OfflineRun) -> None:
    link_hosts = _link_hosts(run)
    assert link_hosts == {"mysql.link.example.com", "postgres.link.example.com"}
    problems = {r.name: _problems(r, link_hosts) for r in run.registrations}
    assert {name: found for name, found in problems.items() if found} == {}
    checked = {r.type for r in run.registrations}
    for type_ in (
        "kubernetes:networking.istio.io/v1:DestinationRule",
        "kubernetes:networking.istio.io/v1:Gateway",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:Service",
        guardrails.TLS_PRIVATE_KEY,
        *guardrails.TLS_CERTIFICATES,
    ):
        assert type_ in checked


# --- DestinationRules -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["SIMPLE", "DISABLE"])
def test_a_link_destination_rule_that_drops_mutual_tls_is_reported(
    run: OfflineRun, mode: str
) -> None:
    rule = _one(run, "kubernetes:networking.istio.io/v1:DestinationRule", "mysql-origination")
    rule["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"]["mode"] = mode
    assert guardrails.destination_rule_problems(rule["spec"], _link_hosts(run)) == [
        f"spec.trafficPolicy.portLevelSettings[0].tls.mode is {mode} towards link host "
        "mysql.link.example.com: a link is MUTUAL (SIMPLE sends no client certificate, "
        "DISABLE sends plain text)"
    ]


def test_every_tls_block_of_a_destination_rule_is_read() -> None:
    spec = {
        "host": "*.link.example.com",
        "trafficPolicy": {"tls": {"mode": "DISABLE"}},
        "subsets": [
            {"name": "a", "trafficPolicy": {"tls": {"mode": "MUTUAL"}}},
            {"name": "b", "trafficPolicy": {"portLevelSettings": [{"tls": {"mode": "SIMPLE"}}]}},
        ],
    }
    problems = guardrails.destination_rule_problems(spec, {"mysql.link.example.com"})
    assert [p.split(" is ")[0] for p in problems] == [
        "spec.trafficPolicy.tls.mode",
        "spec.subsets[1].trafficPolicy.portLevelSettings[0].tls.mode",
    ]


def test_simple_tls_to_a_host_that_is_no_link_host_is_not_this_rules_business() -> None:
    spec = {"host": "api.partner.example.org", "trafficPolicy": {"tls": {"mode": "SIMPLE"}}}
    assert guardrails.destination_rule_problems(spec, {"mysql.link.example.com"}) == []
    # ... unless the configuration names it a link host.
    assert guardrails.destination_rule_problems(spec, {"*.partner.example.org"})


def test_only_meshlinks_service_entries_name_link_hosts(run: OfflineRun) -> None:
    entry = _one(run, "kubernetes:networking.istio.io/v1:ServiceEntry", "client-mysql-link-service")
    type_ = "kubernetes:networking.istio.io/v1beta1:ServiceEntry"
    assert guardrails.link_hosts_of_service_entries([(type_, entry)]) == {"mysql.link.example.com"}
    del entry["metadata"]["labels"][guardrails.LINK_LABEL]
    assert guardrails.link_hosts_of_service_entries([(type_, entry)]) == set()


# --- Gateways -------------------------------------------------------------------------------


def test_a_mutual_gateway_without_client_names_or_with_old_tls_is_reported(
    run: OfflineRun,
) -> None:
    gateway = _one(run, "kubernetes:networking.istio.io/v1:Gateway", "mysql-ingress")
    tls = gateway["spec"]["servers"][0]["tls"]
    assert tls["mode"] == "MUTUAL"
    del tls["subjectAltNames"]
    tls["minProtocolVersion"] = "TLSV1_1"
    assert guardrails.gateway_problems(gateway["spec"]) == [
        "spec.servers[0].tls.subjectAltNames is empty: a MUTUAL gateway without it accepts "
        "any client certificate its CA signed",
        "spec.servers[0].tls.minProtocolVersion is TLSV1_1, below TLSV1_2",
    ]
    del tls["minProtocolVersion"]
    assert guardrails.gateway_problems(gateway["spec"])[1] == (
        "spec.servers[0].tls.minProtocolVersion is not set: set TLSV1_2 or later explicitly"
    )


def test_the_minimum_tls_version_is_configurable(run: OfflineRun) -> None:
    gateway = _one(run, "kubernetes:networking.istio.io/v1:Gateway", "mysql-ingress")
    assert guardrails.gateway_problems(gateway["spec"], "TLSV1_3") == [
        "spec.servers[0].tls.minProtocolVersion is TLSV1_2, below TLSV1_3"
    ]
    with pytest.raises(ValueError, match=r"minProtocolVersion: 'TLS1\.3'"):
        guardrails.gateway_problems(gateway["spec"], "TLS1.3")


def test_gateways_that_are_not_mutual_are_left_alone(run: OfflineRun) -> None:
    egress = _one(run, "kubernetes:networking.istio.io/v1:Gateway", "mysql-egress")
    assert egress["spec"]["servers"][0]["tls"] == {"mode": "ISTIO_MUTUAL"}
    assert guardrails.gateway_problems(egress["spec"]) == []


# --- Link certificates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"algorithm": "ECDSA", "ecdsaCurve": "P384"}, []),
        ({"algorithm": "RSA", "rsaBits": 3072}, []),
        ({"algorithm": "ECDSA"}, ["ecdsaCurve is P224: a link key is ECDSA P256/P384 or RSA"]),
        ({"algorithm": "RSA"}, ["rsaBits is 2048: a link key is ECDSA P256/P384 or RSA"]),
        ({"algorithm": "ED25519"}, ["algorithm is ED25519: a link key is ECDSA P256/P384"]),
    ],
)
def test_tls_private_keys(props: dict[str, Any], expected: list[str]) -> None:
    """Unset fields are the provider's defaults: P224 and 2048 bits."""
    problems = guardrails.tls_private_key_problems(props, RULES)
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start)


def test_rsa_2048_passes_when_the_configuration_allows_it() -> None:
    rules = CertificateRules.from_config({"minRsaBits": 2048})
    assert guardrails.tls_private_key_problems({"algorithm": "RSA"}, rules) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"minRsaBits": "3072"}, "minRsaBits: '3072' is not a positive whole number"),
        ({"ecdsaCurves": ["P256", "X25519"]}, "ecdsaCurves: \\['P256', 'X25519'\\]"),
        ({"maxLeafValidityDays": 0}, "maxLeafValidityDays: 0"),
    ],
)
def test_bad_certificate_configuration_names_the_setting(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CertificateRules.from_config(config)


def test_tls_leaf_certificates_live_at_most_397_days(run: OfflineRun) -> None:
    leaf = _one(run, "tls:index/locallySignedCert:LocallySignedCert", "server-mysql")
    assert guardrails.tls_certificate_problems(leaf, RULES) == []
    leaf["validityPeriodHours"] = 398 * 24
    assert guardrails.tls_certificate_problems(leaf, RULES) == [
        "validityPeriodHours is 9552 (398 days): a leaf certificate lives at most 397 days"
    ]
    root = _one(run, "tls:index/selfSignedCert:SelfSignedCert", "")
    assert root["isCaCertificate"] is True
    assert root["validityPeriodHours"] > 397 * 24
    assert guardrails.tls_certificate_problems(root, RULES) == []


def _chain(key: Any, days: int) -> tuple[str, str]:
    """A leaf for ``key`` valid ``days`` under a P-384 CA: (leaf and CA PEM, CA PEM)."""
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca = certs.issue(
        "Link CA",
        ca_key,
        issuer=None,
        not_before=NOW,
        not_after=NOW + dt.timedelta(3650),
        is_ca=True,
    )
    leaf = certs.issue(
        "mysql.link.example.com",
        key,
        issuer=(ca, ca_key),
        not_before=NOW,
        not_after=NOW + dt.timedelta(days),
        is_ca=False,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH],
    )
    return certs.pem(leaf) + certs.pem(ca), certs.pem(ca)


def test_a_secret_with_a_weak_long_lived_leaf_is_reported() -> None:
    chain, _ = _chain(rsa.generate_private_key(public_exponent=65537, key_size=2048), days=800)
    secret = {"kind": "Secret", "stringData": {"tls.crt": chain}}
    assert guardrails.kubernetes_secret_certificate_problems(secret, RULES) == [
        "stringData.tls.crt: CN=mysql.link.example.com has an RSA key of 2048 bits: a link key "
        "is ECDSA P256/P384 or RSA of 3072 bits",
        "stringData.tls.crt: CN=mysql.link.example.com is valid for 800 days; a leaf "
        "certificate lives at most 397 days",
    ]
    encoded = {"kind": "Secret", "data": {"cert": base64.b64encode(chain.encode()).decode()}}
    assert len(guardrails.kubernetes_secret_certificate_problems(encoded, RULES)) == 2


def test_a_secret_with_a_p256_leaf_of_90_days_under_a_p384_ca_passes() -> None:
    chain, ca = _chain(ec.generate_private_key(ec.SECP256R1()), days=90)
    secret = {"stringData": {"tls.crt": chain, "ca.crt": ca}}
    assert guardrails.kubernetes_secret_certificate_problems(secret, RULES) == []


# --- Private keys ---------------------------------------------------------------------------

KEY = certs.key_pem(ec.generate_private_key(ec.SECP256R1()))


def test_a_private_key_outside_a_secret_is_reported_with_its_path() -> None:
    config_map = {"kind": "ConfigMap", "data": {"tls.key": KEY, "tls.crt": "-----BEGIN CERT"}}
    assert guardrails.private_key_problems(config_map, set()) == [
        "data.tls.key holds a private key: keep keys in a Kubernetes Secret or a pulumi-tls "
        "resource, where the engine always encrypts them"
    ]
    custom = {"spec": {"servers": [{"tls": {"privateKey": "x\n" + KEY}}]}}
    problems = guardrails.private_key_problems(custom, set())
    assert [p.split(" holds")[0] for p in problems] == ["spec.servers[0].tls.privateKey"]


def test_a_private_key_in_a_property_the_engine_encrypts_passes(run: OfflineRun) -> None:
    secret = run.of_type("kubernetes:core/v1:Secret")[0]
    assert guardrails.PRIVATE_KEY_PEM.search(secret.inputs["stringData"]["tls.key"])
    assert guardrails.private_key_problems(secret.inputs, guardrails.KUBERNETES_SECRET_FIELDS) == []
    assert guardrails.private_key_problems(secret.inputs, set()) != []


# --- LoadBalancer Services ------------------------------------------------------------------


def _service(run: OfflineRun) -> dict[str, Any]:
    return _one(run, "kubernetes:core/v1:Service", "ingress")


def test_meshlinks_ingress_service_admits_only_its_client_ranges(run: OfflineRun) -> None:
    service = _service(run)
    assert service["spec"]["loadBalancerSourceRanges"] == list(mesh.CLIENT_EGRESS_CIDRS)
    assert guardrails.load_balancer_problems(service) == []


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        (["0.0.0.0/0"], "spec.loadBalancerSourceRanges admits every IPv4 address (0.0.0.0/0)"),
        (
            ["0.0.0.0/1", "128.0.0.0/1"],
            "spec.loadBalancerSourceRanges admits every IPv4 address (0.0.0.0/0)",
        ),
        (["10.0.0.0/8", "::/0"], "spec.loadBalancerSourceRanges admits every IPv6 address (::/0)"),
        ([], "spec.loadBalancerSourceRanges is not set: the load balancer admits every source"),
        (["10.0.0.0/33"], "spec.loadBalancerSourceRanges: '10.0.0.0/33' is not an address range"),
    ],
)
def test_a_load_balancer_open_to_every_address_is_reported(
    run: OfflineRun, ranges: list[str], expected: str
) -> None:
    service = _service(run)
    service["spec"]["loadBalancerSourceRanges"] = ranges
    problems = guardrails.load_balancer_problems(service)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_the_source_ranges_annotation_counts_when_the_field_is_unset(run: OfflineRun) -> None:
    service = _service(run)
    del service["spec"]["loadBalancerSourceRanges"]
    annotations = service["metadata"].setdefault("annotations", {})
    annotations[guardrails.SOURCE_RANGES_ANNOTATION] = "203.0.113.0/24"
    assert guardrails.load_balancer_problems(service) == []
    annotations[guardrails.SOURCE_RANGES_ANNOTATION] = "0.0.0.0/0"
    assert guardrails.load_balancer_problems(service) == [
        f"metadata.annotations[{guardrails.SOURCE_RANGES_ANNOTATION}] admits every IPv4 "
        "address (0.0.0.0/0)"
    ]
    service["spec"]["type"] = "ClusterIP"
    assert guardrails.load_balancer_problems(service) == []

"""The CRD harness itself: it must reject what the API server rejects, and must never count
a CEL rule it could not run as passed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.support.istio_schema import (
    CRD_SETS,
    NEWEST,
    OLDEST,
    CelRecord,
    CrdSetUnavailable,
    assert_valid,
    catalogue,
    crd_file,
    validate_manifest,
)

pytestmark = pytest.mark.usefixtures("istio_crds")

FQDN = "mysql.link.example.internal"


def _gateway() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "egress", "namespace": "istio-system"},
        "spec": {
            "selector": {"istio": "egressgateway"},
            "servers": [
                {
                    "port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                    "hosts": [FQDN],
                    "tls": {"mode": "ISTIO_MUTUAL"},
                }
            ],
        },
    }


def _service_entry(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "hosts": [FQDN],
        "ports": [{"number": 3306, "name": "tcp", "protocol": "TCP"}],
        "resolution": "DNS",
    }
    base.update(spec)
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "mysql-external", "namespace": "app"},
        "spec": base,
    }


def _with(manifest: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``manifest`` with the dotted ``path`` (list indices as numbers) set."""
    out = copy.deepcopy(manifest)
    node: Any = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[parts[-1]] = value
    return out


@pytest.mark.parametrize("crd_set", CRD_SETS)
@pytest.mark.parametrize("version", ["v1", "v1beta1", "v1alpha3"])
def test_a_valid_gateway_passes_in_every_served_version(crd_set: str, version: str) -> None:
    manifest = _with(_gateway(), "apiVersion", f"networking.istio.io/{version}")
    assert validate_manifest(manifest, crd_set) == []


@pytest.mark.parametrize("crd_set", CRD_SETS)
@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "spec.servers.0.tls.credentialNam",
            "typo",
            "spec.servers[0].tls: unknown field(s) 'credentialNam'",
        ),
        ("spec.extra", {}, "spec: unknown field(s) 'extra'"),
        ("specs", {}, "<root>: unknown field(s) 'specs'"),
        ("metadata.labelz", {}, "metadata: unknown field(s) 'labelz'"),
        (
            "spec.servers.0.port.number",
            "15443",
            "spec.servers[0].port.number: '15443' is not of type 'integer'",
        ),
        ("spec.servers.0.hosts", FQDN, f"spec.servers[0].hosts: '{FQDN}' is not of type 'array'"),
        ("spec.servers.0.tls.mode", "MUTUALL", "spec.servers[0].tls.mode: 'MUTUALL' is not one of"),
        (
            "spec.servers.0.port.number",
            4294967296,
            "spec.servers[0].port.number: 4294967296 is greater than",
        ),
        ("spec.selector", {"istio": 1}, "spec.selector.istio: 1 is not of type 'string'"),
    ],
)
def test_schema_errors_are_reported_with_their_path(
    crd_set: str, path: str, value: Any, expected: str
) -> None:
    problems = validate_manifest(_with(_gateway(), path, value), crd_set)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("crd_set", CRD_SETS)
def test_missing_required_fields_are_reported(crd_set: str) -> None:
    manifest = _gateway()
    del manifest["spec"]["servers"][0]["port"]["name"]
    del manifest["metadata"]["name"]
    problems = validate_manifest(manifest, crd_set)
    assert any("spec.servers[0].port: 'name' is a required property" in p for p in problems)
    assert any("metadata: 'name' is a required property" in p for p in problems)


def test_fields_newer_than_a_crd_set_are_unknown_in_it() -> None:
    manifest = _with(_gateway(), "spec.servers.0.tls", {"mode": "SIMPLE", "credentialNames": ["a"]})
    assert validate_manifest(manifest, NEWEST) == []
    assert validate_manifest(manifest, OLDEST) == [
        f"{OLDEST} Gateway/egress: spec.servers[0].tls: unknown field(s) 'credentialNames'"
    ]


@pytest.mark.parametrize("crd_set", CRD_SETS)
def test_preserve_unknown_fields_keeps_fields_the_schema_does_not_list(crd_set: str) -> None:
    status = {"someController": {"anything": True}, "observedGeneration": "3"}
    assert validate_manifest(_with(_gateway(), "status", status), crd_set) == []


def test_int_or_string_takes_either_but_nothing_else() -> None:
    # The oldest set leaves status opaque; the newest types observedGeneration as int-or-string.
    for value in (3, "3"):
        status = {"observedGeneration": value}
        assert validate_manifest(_with(_gateway(), "status", status), NEWEST) == []
    problems = validate_manifest(_with(_gateway(), "status", {"observedGeneration": 2.5}), NEWEST)
    assert len(problems) == 1 and "status.observedGeneration" in problems[0], problems


@pytest.mark.parametrize("crd_set", CRD_SETS)
def test_int32_fields_are_range_checked(crd_set: str) -> None:
    manifest = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "dr", "namespace": "app"},
        "spec": {"host": "mysql", "trafficPolicy": {"connectionPool": {"tcp": {}}}},
    }
    fine = _with(manifest, "spec.trafficPolicy.connectionPool.tcp.maxConnections", 2**31 - 1)
    assert validate_manifest(fine, crd_set) == []
    too_big = _with(manifest, "spec.trafficPolicy.connectionPool.tcp.maxConnections", 2**31)
    assert validate_manifest(too_big, crd_set) == [
        f"{crd_set} DestinationRule/dr: spec.trafficPolicy.connectionPool.tcp.maxConnections: "
        "2147483648 is not a 'int32'"
    ]


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("networking.istio.io/v2", "Gateway", "Gateway is served as ['v1', 'v1alpha3', 'v1beta1']"),
        (
            "networking.istio.io/v1",
            "Gatewey",
            "no CRD for apiVersion 'networking.istio.io/v1' kind 'Gatewey'",
        ),
        ("security.istio.io/v1", "Gateway", "no CRD for apiVersion 'security.istio.io/v1'"),
    ],
)
def test_unknown_api_versions_and_kinds_are_rejected(
    api_version: str, kind: str, expected: str
) -> None:
    manifest = _with(_with(_gateway(), "apiVersion", api_version), "kind", kind)
    for crd_set in CRD_SETS:
        problems = validate_manifest(manifest, crd_set)
        assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize("crd_set", CRD_SETS)
def test_cel_rules_reject_what_the_schema_alone_allows(crd_set: str) -> None:
    """The structural schema takes any string as a host; only the CEL rule refuses ``*``."""
    wildcard = _service_entry(hosts=["*"], resolution="NONE")
    (rule,) = [
        rule
        for rule in catalogue(crd_set, ["ServiceEntry"])
        if rule.version == "v1" and rule.path == "spec.hosts[]"
    ]
    record = CelRecord()
    problems = validate_manifest(wildcard, crd_set, record=record)
    assert problems == [
        f"{crd_set} ServiceEntry/mysql-external: spec.hosts[0]: hostname cannot be wildcard "
        f"(rule {rule.rule!r})"
    ]
    assert set(record.failures) == {rule}
    assert record.evaluations[rule] == 1


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            _service_entry(resolution="NONE", endpoints=[{"address": "10.0.0.1"}]),
            "spec: NONE mode cannot set endpoints",
        ),
        (
            _service_entry(addresses=["10.0.0.0/24"]),
            "spec: CIDR addresses are allowed only for NONE/STATIC resolution types",
        ),
        (
            _service_entry(
                ports=[
                    {"number": 3306, "name": "tcp", "protocol": "TCP"},
                    {"number": 3306, "name": "tls", "protocol": "TLS"},
                ]
            ),
            "spec.ports: port number cannot be duplicated",
        ),
        (
            _service_entry(endpoints=[{"address": FQDN, "ports": {"bad_name": 1}}]),
            "spec.endpoints[0].ports: port name must be valid",
        ),
        (
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "pa", "namespace": "app"},
                "spec": {"portLevelMtls": {"3306": {"mode": "STRICT"}}},
            },
            "spec: portLevelMtls requires selector",
        ),
        (
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": {"name": "dr", "namespace": "app"},
                "spec": {
                    "host": "mysql",
                    "trafficPolicy": {"connectionPool": {"tcp": {"connectTimeout": "0s"}}},
                },
            },
            "spec.trafficPolicy.connectionPool.tcp.connectTimeout: must be a valid duration "
            "greater than 1ms",
        ),
    ],
)
def test_cel_rule_failures_name_the_node_and_the_rule_message(
    manifest: dict[str, Any], message: str
) -> None:
    problems = validate_manifest(manifest, NEWEST)
    assert any(message in problem for problem in problems), problems


def test_a_rule_that_errors_on_the_data_is_a_rejection_not_a_pass() -> None:
    manifest = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "dr", "namespace": "app"},
        "spec": {
            "host": "mysql",
            "trafficPolicy": {"connectionPool": {"tcp": {"connectTimeout": "soon"}}},
        },
    }
    record = CelRecord()
    problems = validate_manifest(manifest, NEWEST, record=record)
    assert len(problems) == 1
    assert "connectTimeout: must be a valid duration greater than 1ms" in problems[0]
    assert "raised an error on this value" in problems[0]
    assert not record.evaluations
    assert sum(record.failures.values()) == 1


def test_a_rule_cel_python_cannot_run_is_recorded_as_not_evaluated() -> None:
    manifest = _service_entry(
        resolution="STATIC", endpoints=[{"address": "unix:///var/run/mysql.sock"}]
    )
    record = CelRecord()
    validate_manifest(manifest, NEWEST, record=record)
    (rule,) = [r for r in record.not_evaluated if r.path == "spec.endpoints[].address"]
    assert "substring" in record.not_evaluated[rule]
    assert rule not in record.evaluations
    assert rule.unsupported_functions == ("substring",)
    assert "could not evaluate: 1" in record.summary()


def test_list_map_keys_must_be_unique() -> None:
    manifest = _service_entry(
        ports=[
            {"number": 3306, "name": "tcp", "protocol": "TCP"},
            {"number": 13306, "name": "tcp", "protocol": "TLS"},
        ]
    )
    problems = validate_manifest(manifest, NEWEST)
    assert problems == [
        f"{NEWEST} ServiceEntry/mysql-external: spec.ports[1]: duplicate entry for "
        "{'name': 'tcp'}"
    ]


def test_assert_valid_lists_every_problem_of_every_set() -> None:
    manifest = _with(_gateway(), "spec.servers.0.tls.mode", "NOPE")
    with pytest.raises(AssertionError) as raised:
        assert_valid(manifest)
    text = str(raised.value)
    assert f"{OLDEST} Gateway/egress: spec.servers[0].tls.mode" in text
    assert f"{NEWEST} Gateway/egress: spec.servers[0].tls.mode" in text
    assert_valid(_gateway())


@pytest.mark.parametrize("crd_set", CRD_SETS)
def test_every_cel_rule_of_the_emitted_kinds_parses_and_only_one_needs_extensions(
    crd_set: str,
) -> None:
    kinds = [
        "Gateway",
        "VirtualService",
        "DestinationRule",
        "ServiceEntry",
        "Sidecar",
        "PeerAuthentication",
        "AuthorizationPolicy",
    ]
    rules = catalogue(crd_set, kinds)
    # Gateway gained its first CEL rules after the oldest pinned release.
    ruled_kinds = set(kinds) - {"Gateway"} if crd_set == OLDEST else set(kinds)
    assert {rule.kind for rule in rules} == ruled_kinds
    needing_extensions = {rule.rule for rule in rules if rule.unsupported_functions}
    assert len(needing_extensions) == 1
    assert "substring" in next(iter(needing_extensions))
    assert not [rule for rule in rules if rule.is_transition_rule]


def test_a_missing_crd_directory_is_an_error_not_an_empty_result(tmp_path: Path) -> None:
    from tests.support import istio_schema

    with pytest.raises(CrdSetUnavailable, match="not found"):
        istio_schema._load(OLDEST, tmp_path)
    assert istio_schema.missing_crd_files(tmp_path) == [
        tmp_path / f"istio-{OLDEST}.yaml",
        tmp_path / f"istio-{NEWEST}.yaml",
    ]


def test_the_newest_module_set_is_the_reference_1_30_3_set() -> None:
    """istio.io/api 1.30.8 ships the CRDs of the 1.30.3 reference set byte for byte."""
    from tests.support import istio_schema

    reference = crd_file("1.30.3")
    if not reference.is_file():
        pytest.skip(f"reference set not beside this clone: {reference}")
    assert crd_file(NEWEST).read_bytes() == reference.read_bytes()
    assert reference.parent == istio_schema.REFERENCE_DIR

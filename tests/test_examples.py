"""The runnable programs under ``examples/``: each renders offline from its example stack
(placeholders standing in for its secure config), every object it declares passes both
Istio CRD sets and the Kubernetes schema, and (end to end) its render rehearses: real
MySQL traffic passes and every refusal case is refused."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshlink.offline.engine import OfflineMocks, OfflineRun, run_program
from meshlink.offline.program import Program, execute, load_program
from meshlink.offline.rehearse import runner
from meshlink.offline.rehearse.render import Render, load_render
from meshlink.offline.rehearse.wiring import originations
from meshlink.offline.render import render_program
from tests.support import mesh

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_STACK = "example"
EXAMPLE_DIRS = ["external-target", "fan-in"]
# The clusters each example declares objects in (its Kubernetes providers' names).
EXAMPLE_CLUSTERS = {
    "external-target": {"client", "server"},
    "fan-in": {"storefront", "billing", "server"},
}
TESTED_ELSEWHERE = ["partner-endpoint"]
"""Examples with test modules of their own: the partner endpoint declares a client side
only, once the partner has signed (tests/test_examples_partner.py), and rehearses with a
stand-in for the partner (tests/test_rehearse_partner.py)."""
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


def example(name: str) -> Program:
    return load_program(EXAMPLES / name, EXAMPLE_STACK)


def test_every_example_directory_is_listed() -> None:
    found = sorted(p.name for p in EXAMPLES.iterdir() if (p / "Pulumi.yaml").is_file())
    assert found == sorted(EXAMPLE_DIRS + TESTED_ELSEWHERE)


@pytest.fixture(scope="module", params=EXAMPLE_DIRS)
def example_run(request: pytest.FixtureRequest) -> OfflineRun:
    program = example(request.param)
    return run_program(
        lambda: execute(program),
        project=program.project,
        stack=program.stack,
        config=program.config,
        secret_config_keys=program.secret_keys,
        mocks=OfflineMocks(now=NOW, seed=f"{program.project}/{program.stack}"),
    )


def test_every_object_passes_both_istio_crd_sets_and_kubernetes(
    example_run: OfflineRun, istio_crds: Path
) -> None:
    assert mesh.kubernetes_objects(example_run), "the example declared no Kubernetes object"
    mesh.assert_every_object_valid(example_run)


@pytest.mark.parametrize("name", EXAMPLE_DIRS)
def test_the_example_renders_with_placeholders_for_its_secrets_only(
    name: str, tmp_path: Path
) -> None:
    result = render_program(example(name), tmp_path / name, now=NOW)
    assert set(result.objects_per_cluster()) == EXAMPLE_CLUSTERS[name]
    assert result.warnings
    assert all(w.startswith("secure config ") for w in result.warnings), result.warnings


# --- examples/external-target ------------------------------------------------------------


@pytest.fixture(scope="module")
def external_target(tmp_path_factory: pytest.TempPathFactory) -> Render:
    out = tmp_path_factory.mktemp("external-target") / "render"
    render_program(example("external-target"), out, now=NOW)
    return load_render(out)


def test_the_server_routes_to_the_database_through_a_static_service_entry(
    external_target: Render,
) -> None:
    (entry,) = external_target.of_kind("ServiceEntry", cluster="server")
    assert entry.spec["resolution"] == "STATIC"
    assert entry.spec["location"] == "MESH_EXTERNAL"
    assert entry.spec["endpoints"] == [{"address": "10.20.0.5"}]
    assert [p["number"] for p in entry.spec["ports"]] == [3306]
    (route,) = external_target.of_kind("VirtualService", cluster="server")
    (destination,) = route.spec["tcp"][0]["route"]
    assert destination["destination"]["host"] == entry.spec["hosts"][0]
    # A plain-TCP target: no origination rule on the server side.
    assert list(external_target.of_kind("DestinationRule", cluster="server")) == []


def test_the_external_target_gets_no_target_policies(external_target: Render) -> None:
    for kind in ("AuthorizationPolicy", "PeerAuthentication"):
        assert list(external_target.of_kind(kind, cluster="server")) == [], kind


@pytest.mark.e2e
def test_the_external_target_example_rehearses(tmp_path: Path) -> None:
    out = tmp_path / "external-target"
    # The real clock: the rehearsal refuses certificates that have expired.
    render_program(example("external-target"), out, include_private_keys=True)

    report = runner.rehearse(out, with_timing=False)

    (link,) = report.links
    assert link.fqdn == "mysql.link.internal.example.com"
    assert link.target.startswith("10.20.0.5:3306 (ServiceEntry orders-sql-ingress/")
    assert link.positive is not None and link.positive.passed
    assert link.positive.written_sha256 == link.positive.read_back_sha256
    assert [case for case in link.cases if not case.passed] == []
    refused = {case.case for case in link.cases if case.result == "refused"}
    assert len(refused) >= 9
    assert report.ok


# --- examples/fan-in ---------------------------------------------------------------------

STOREFRONT = "spiffe://link.example.com/cluster/storefront"
BILLING = "spiffe://link.example.com/cluster/billing"


@pytest.fixture(scope="module")
def fan_in(tmp_path_factory: pytest.TempPathFactory) -> Render:
    out = tmp_path_factory.mktemp("fan-in") / "render"
    render_program(example("fan-in"), out, now=NOW)
    return load_render(out)


def _admitted(render: Render, service: str) -> list[str]:
    gateway = next(
        g
        for g in render.of_kind("Gateway", cluster="server")
        if g.spec["servers"][0]["hosts"] == [f"{service}.link.internal.example.com"]
    )
    (server,) = gateway.spec["servers"]
    return list(server["tls"]["subjectAltNames"])


def test_each_fan_in_gateway_admits_only_the_clients_of_its_service(fan_in: Render) -> None:
    assert sorted(_admitted(fan_in, "mysql")) == sorted([STOREFRONT, BILLING])
    # The storefront client's own valid certificate is not enough for the ledger.
    assert _admitted(fan_in, "ledger") == [BILLING]


def test_the_fan_in_load_balancer_admits_every_clients_egress_addresses(fan_in: Render) -> None:
    (service,) = (
        s
        for s in fan_in.of_kind("Service", cluster="server")
        if s.spec.get("type") == "LoadBalancer"
    )
    assert sorted(service.spec["loadBalancerSourceRanges"]) == [
        "198.51.100.10/32",
        "198.51.100.11/32",
        "198.51.100.20/32",
    ]
    assert service.spec["loadBalancerIP"] == "203.0.113.20"


def test_each_fan_in_client_originates_only_to_the_services_it_lists(fan_in: Render) -> None:
    def originated(cluster: str) -> list[str]:
        return sorted(o.host for o in originations(fan_in) if o.rule.cluster == cluster)

    assert originated("storefront") == ["mysql.link.internal.example.com"]
    assert originated("billing") == [
        "ledger.link.internal.example.com",
        "mysql.link.internal.example.com",
    ]


ANALYTICS = "spiffe://link.example.com/cluster/analytics"


def _with_third_client(tmp_path: Path) -> Program:
    """examples/fan-in copied under ``tmp_path``, its example stack given a third client
    that uses the orders database only (same project and stack, so the same key seed)."""
    directory = tmp_path / "fan-in"
    shutil.copytree(EXAMPLES / "fan-in", directory, ignore=shutil.ignore_patterns(".venv"))
    stack_file = directory / f"Pulumi.{EXAMPLE_STACK}.yaml"
    stack = yaml.safe_load(stack_file.read_text())
    config = stack["config"]
    config["meshlink-fan-in:analytics_kubeconfig"] = {"secure": "<analytics kubeconfig>"}
    config["meshlink-fan-in:clients"]["analytics"] = {
        "namespaces": ["reports"],
        "client_identity": {"uri": ANALYTICS},
        "services": ["mysql"],
        "source_ranges": ["198.51.100.30/32"],
    }
    stack_file.write_text(yaml.safe_dump(stack))
    return load_program(directory, EXAMPLE_STACK)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _without(path: Path, *keys: str) -> Any:
    """The object in ``path`` with every mapping entry under one of ``keys`` removed."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in keys}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(yaml.safe_load(path.read_text()))


def test_adding_a_client_to_the_fan_in_example_changes_only_what_that_client_needs(
    tmp_path: Path,
) -> None:
    before_dir, after_dir = tmp_path / "two-clients", tmp_path / "three-clients"
    render_program(example("fan-in"), before_dir, now=NOW)
    render_program(_with_third_client(tmp_path), after_dir, now=NOW)
    before, after = _files(before_dir / "kubernetes"), _files(after_dir / "kubernetes")

    assert set(before) <= set(after), "adding a client removed objects"
    added = sorted(set(after) - set(before))
    assert added and all(path.startswith("analytics/") for path in added)
    changed = sorted(path for path in before if before[path] != after[path])
    gateway = "server/shared-db-ingress/gateway-shared-db-mysql-ingress.yaml"
    load_balancer = "server/shared-db-ingress/service-shared-db-ingress.yaml"
    # The ledger's Gateway, the storefront and billing clusters: byte-identical.
    assert changed == [gateway, load_balancer]

    def kube(root: Path, path: str) -> Path:
        return root / "kubernetes" / path

    sans = "subjectAltNames"
    assert _without(kube(before_dir, gateway), sans) == _without(kube(after_dir, gateway), sans)
    assert sorted(_admitted(load_render(after_dir), "mysql")) == sorted(
        [*_admitted(load_render(before_dir), "mysql"), ANALYTICS]
    )
    ranges = "loadBalancerSourceRanges"
    old_service, new_service = kube(before_dir, load_balancer), kube(after_dir, load_balancer)
    assert _without(old_service, ranges) == _without(new_service, ranges)
    assert sorted(yaml.safe_load(new_service.read_text())["spec"][ranges]) == sorted(
        [*yaml.safe_load(old_service.read_text())["spec"][ranges], "198.51.100.30/32"]
    )

    # The PKI issues one certificate more, the new client's; the others are unchanged.
    certs_before, certs_after = _files(before_dir / "certs"), _files(after_dir / "certs")
    assert {p: certs_after[p] for p in certs_before} == certs_before
    assert sorted(set(certs_after) - set(certs_before)) == [
        "shared-db-analytics-client-client-cert-cert.pem"
    ]


@pytest.mark.e2e
def test_the_fan_in_example_rehearses_every_client(tmp_path: Path) -> None:
    out = tmp_path / "fan-in"
    # The real clock: the rehearsal refuses certificates that have expired.
    render_program(example("fan-in"), out, include_private_keys=True)

    report = runner.rehearse(out, with_timing=False)

    links = {(link.client_cluster, link.fqdn.split(".")[0]): link for link in report.links}
    assert sorted(links) == [("billing", "ledger"), ("billing", "mysql"), ("storefront", "mysql")]
    for link in links.values():
        assert link.positive is not None and link.positive.passed, link.fqdn
        assert [case for case in link.cases if not case.passed] == []
    # The storefront's own valid certificate, refused by the ledger for its SAN alone.
    other = [c for c in links["billing", "ledger"].cases if c.case.startswith("client cluster")]
    assert [(c.case, c.expected, c.result) for c in other] == [
        (
            "client cluster 'storefront': its own certificate, not allowed here",
            "refused",
            "refused",
        )
    ]
    assert STOREFRONT in other[0].evidence and "not-allowed" in other[0].evidence
    # The orders database admits both clients: no other client to refuse there.
    for key in (("billing", "mysql"), ("storefront", "mysql")):
        assert not any(c.case.startswith("client cluster") for c in links[key].cases)
    assert report.ok

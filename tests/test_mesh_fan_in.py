"""Fan-in: several client clusters use services of one server cluster (``FanInLink``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from cryptography import x509

from meshlink.mesh import FanInLink
from meshlink.offline.engine import OfflineRun
from meshlink.offline.rendered import RenderedObject
from meshlink.offline.summary.links import read_links, traffic_diagram
from meshlink.validation import MeshlinkValidationError
from tests.support import mesh
from tests.support import pki as pki_support

MYSQL, POSTGRES = mesh.services(2)
# name -> (services it may use, its egress range); None uses every service.
CLIENTS: dict[str, tuple[list[str] | None, str]] = {
    "orders": (None, "203.0.113.10/32"),
    "reports": (["mysql"], "203.0.113.20/32"),
    "billing": (["postgres"], "198.51.100.30/32"),
}


def san(key: str) -> str:
    return f"{key}.link.example.com"


def fan_in_args(
    server: k8s.Provider, clients: dict[str, k8s.Provider], **overrides: Any
) -> dict[str, Any]:
    """Both services, one deployed ingress gateway, and each client of ``clients`` as
    :data:`CLIENTS` describes it."""
    client_args: dict[str, Any] = {}
    for key, provider in clients.items():
        services, cidr = CLIENTS[key]
        client_args[key] = {
            "provider": provider,
            "namespaces": ["apps"],
            "client_identity": {"dns_name": san(key)},
            "source_ranges": [cidr],
            **({"services": services} if services is not None else {}),
        }
    return {
        "services": [MYSQL, POSTGRES],
        "clients": client_args,
        "server": {"provider": server, "ingress_gateway": {"static_ip": mesh.STATIC_IP}},
        "link_ca": {"subject": {"common_name": "Example Link Root CA"}},
        "rotation": "2026-01",
        **overrides,
    }


def fan_in_program(keys: tuple[str, ...] = tuple(CLIENTS)) -> Callable[[], None]:
    def program() -> None:
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        clients = {key: k8s.Provider(f"client-{key}", kubeconfig="{}") for key in keys}
        link = FanInLink("shared-db", fan_in_args(server, clients))  # type: ignore[arg-type]
        pulumi.export("admitted", link.admitted_identities)

    return program


@pytest.fixture(scope="module")
def run() -> OfflineRun:
    return mesh.run_link(fan_in_program())


def _in_cluster(run: OfflineRun, cluster: str, kind: str) -> list[dict[str, Any]]:
    return [
        mesh.manifest(r)
        for r in mesh.kubernetes_objects(run)
        if r.inputs["kind"] == kind and mesh.cluster_of(run, r) == cluster
    ]


def test_each_service_gateway_admits_exactly_the_clients_allowed_to_use_it(
    run: OfflineRun,
) -> None:
    admitted = {
        gateway["metadata"]["name"]: set(gateway["spec"]["servers"][0]["tls"]["subjectAltNames"])
        for gateway in _in_cluster(run, "server-cluster", "Gateway")
    }
    assert admitted == {
        "shared-db-mysql-ingress": {san("orders"), san("reports")},
        "shared-db-postgres-ingress": {san("orders"), san("billing")},
    }


def test_the_load_balancer_admits_the_union_of_the_clients_egress_ranges(
    run: OfflineRun,
) -> None:
    (service,) = [
        s
        for s in _in_cluster(run, "server-cluster", "Service")
        if s["spec"]["type"] == "LoadBalancer"
    ]
    assert sorted(service["spec"]["loadBalancerSourceRanges"]) == sorted(
        cidr for _, cidr in CLIENTS.values()
    )


def test_each_client_cluster_routes_only_the_services_it_may_use(run: OfflineRun) -> None:
    for key, (allowed, _) in CLIENTS.items():
        hosts = {
            entry["spec"]["hosts"][0] for entry in _in_cluster(run, f"client-{key}", "ServiceEntry")
        }
        expected = {s["fqdn"] for s in (MYSQL, POSTGRES) if allowed is None or s["name"] in allowed}
        assert hosts == expected, key


def _client_certificates(run: OfflineRun) -> dict[str, x509.Certificate]:
    return {
        r.name: pki_support.certificate(r.outputs["certPem"])
        for r in run.of_type(pki_support.LOCALLY_SIGNED_CERT)
        if r.name.endswith("-client-cert-cert")
    }


def test_every_client_has_a_certificate_of_its_own_naming_it(run: OfflineRun) -> None:
    certificates = _client_certificates(run)
    assert set(certificates) == {f"shared-db-{key}-client-client-cert-cert" for key in CLIENTS}
    for key in CLIENTS:
        cert = certificates[f"shared-db-{key}-client-client-cert-cert"]
        names = pki_support.extension(cert, x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [san(key)]
    keys = {pki_support.public_der(c.public_key()) for c in certificates.values()}
    assert len(keys) == len(CLIENTS)


def test_every_object_passes_both_istio_crd_sets_and_the_kubernetes_schema(
    run: OfflineRun,
) -> None:
    mesh.assert_every_object_valid(run)


# --- removing a client ---------------------------------------------------------------


def _state(run: OfflineRun) -> dict[str, Any]:
    """What a preview compares: every resource's inputs, by URN."""
    return {r.urn: r.inputs for r in run.registrations}


def _names(run: OfflineRun, urns: set[str]) -> set[str]:
    return {run.by_urn(urn).name for urn in urns}


def test_removing_a_client_removes_its_objects_identity_and_ranges_and_nothing_else(
    run: OfflineRun,
) -> None:
    after = mesh.run_link(fan_in_program(("orders", "reports")))
    before_state, after_state = _state(run), _state(after)

    added = set(after_state) - set(before_state)
    removed = set(before_state) - set(after_state)
    changed = {u for u in set(before_state) & set(after_state) if before_state[u] != after_state[u]}

    assert added == set()
    # Everything of billing's own: its provider, half, gateway, certificate and key.
    assert {run.by_urn(u).name for u in removed} == {
        r.name
        for r in run.registrations
        if r.name.startswith(("shared-db-billing-", "client-billing"))
    }
    assert removed
    # On the server: the one Gateway billing could use, the load balancer's ranges, and
    # the component outputs that list clients.
    assert _names(run, changed) == {
        "shared-db-server-postgres-ingress-gateway",
        "shared-db-server-ingress-service",
    }
    postgres = after.named(
        "kubernetes:networking.istio.io/v1:Gateway", "shared-db-server-postgres-ingress-gateway"
    )
    assert postgres.inputs["spec"]["servers"][0]["tls"]["subjectAltNames"] == [san("orders")]


# --- what is refused -----------------------------------------------------------------


def _refusal(mutate: Callable[[dict[str, Any]], None]) -> list[str]:
    captured: list[str] = []

    def program() -> None:
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        clients = {key: k8s.Provider(f"client-{key}", kubeconfig="{}") for key in CLIENTS}
        args = fan_in_args(server, clients)
        mutate(args)
        try:
            FanInLink("shared-db", args)  # type: ignore[arg-type]
        except MeshlinkValidationError as error:
            captured.extend(error.problems)

    run = mesh.run_link(program)
    assert not mesh.kubernetes_objects(run), "nothing may be declared when a setting is refused"
    return captured


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(args: dict[str, Any]) -> None:
        target: Any = args
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        if value is mesh.DELETE:
            del target[last]
        else:
            target[last] = value

    return mutate


def _both(
    first: Callable[[dict[str, Any]], None], second: Callable[[dict[str, Any]], None]
) -> Callable[[dict[str, Any]], None]:
    def mutate(args: dict[str, Any]) -> None:
        first(args)
        second(args)

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set("clients.reports.services", ["mysql", "redis"]), "clients.reports.services: 'redis'"),
        (
            _set("clients.reports.client_identity", {"dns_name": san("orders")}),
            "clients.reports.client_identity:",
        ),
        (
            _set("clients.reports.source_ranges", mesh.DELETE),
            "clients.reports.source_ranges: required",
        ),
        (
            _set("server.ingress_gateway.source_ranges", ["203.0.113.0/24"]),
            "server.ingress_gateway.source_ranges: a FanInLink",
        ),
        (
            _both(
                _set("clients.billing.services", ["mysql"]),
                _set("clients.orders.services", ["mysql"]),
            ),
            "services: 'postgres' is used by no client",
        ),
        (
            _set("clients.reports.source_ranges", ["0.0.0.0/1", "128.0.0.0/1"]),
            "clients.*.source_ranges: together, 0.0.0.0/0 admits every address",
        ),
        (
            _set("clients.reports.client_identity", {"dns_name": MYSQL["fqdn"]}),
            "clients.reports.client_identity: 'mysql.link.example.com' is a linked service's FQDN",
        ),
        (_set("clients.reports.services", []), "clients.reports.services"),
        (
            _set("clients.reports.source_ranges", ["not-a-range"]),
            "clients.reports.source_ranges[0]",
        ),
    ],
)
def test_a_mistake_is_refused_naming_the_setting(
    mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    problems = _refusal(mutate)
    assert any(p.startswith(expected) for p in problems), problems


def test_two_clients_on_one_provider_are_refused_naming_both() -> None:
    def mutate(args: dict[str, Any]) -> None:
        args["clients"]["billing"]["provider"] = args["clients"]["orders"]["provider"]

    problems = _refusal(mutate)
    assert any(
        p.startswith("clients.billing.provider:") and "clients.orders" in p for p in problems
    ), problems


def test_a_client_may_not_take_the_server_s_name() -> None:
    def mutate(args: dict[str, Any]) -> None:
        args["clients"]["server"] = args["clients"].pop("billing")

    problems = _refusal(mutate)
    assert any(p.startswith("clients.server:") for p in problems), problems


def test_every_mistake_is_reported_at_once() -> None:
    def mutate(args: dict[str, Any]) -> None:
        _set("clients.reports.services", ["redis"])(args)
        _set("clients.billing.source_ranges", mesh.DELETE)(args)
        _set("services", [MYSQL, {**POSTGRES, "link_port": MYSQL["link_port"]}])(args)

    problems = _refusal(mutate)
    assert any(p.startswith("clients.reports.services") for p in problems), problems
    assert any(p.startswith("clients.billing.source_ranges") for p in problems), problems
    assert any("13306" in p for p in problems), problems


def test_an_existing_ingress_gateway_keeps_its_own_source_ranges() -> None:
    def mutate(args: dict[str, Any]) -> None:
        del args["server"]["ingress_gateway"]
        args["server"]["existing_ingress_gateway"] = {
            "namespace": "istio-ingress",
            "service_name": "istio-ingressgateway",
            "labels": {"istio": "ingressgateway"},
            "service_account": "istio-ingressgateway",
        }

    problems = _refusal(mutate)
    assert all(p.endswith("remove them here") for p in problems if "source_ranges" in p)
    assert {p.split(":")[0] for p in problems if "source_ranges" in p} == {
        f"clients.{key}.source_ranges" for key in CLIENTS
    }


def test_the_summary_shows_each_service_once_per_client_cluster_that_uses_it(
    run: OfflineRun,
) -> None:
    rendered = [
        RenderedObject(cluster, Path(), manifest) for cluster, manifest in mesh.by_cluster(run)
    ]
    rows = {(link.fqdn, link.client_cluster): link for link in read_links(rendered)}
    assert set(rows) == {
        (MYSQL["fqdn"], "client-orders"),
        (MYSQL["fqdn"], "client-reports"),
        (POSTGRES["fqdn"], "client-orders"),
        (POSTGRES["fqdn"], "client-billing"),
    }
    assert set(rows[MYSQL["fqdn"], "client-reports"].allowed_clients) == {
        san("orders"),
        san("reports"),
    }
    assert rows[POSTGRES["fqdn"], "client-billing"].app_port == str(POSTGRES["app_port"])
    diagram = "\n".join(traffic_diagram(list(rows.values())))
    for key in CLIENTS:
        assert f"### `client-{key}` → `server-cluster`" in diagram

"""The rehearsal follows an ingress route to a target outside the server mesh: the
ServiceEntry that declares the route's host gives the endpoint MariaDB plays; a route
that would reach no endpoint is refused; TLS origination to the target is found with
what verifies the target."""

from __future__ import annotations

from typing import Any

from meshlink.offline.rehearse.render import KubeObject
from meshlink.offline.rehearse.wiring import RouteEnd, TargetOrigination, route_target
from tests.test_rehearse_wiring_steps import (
    FQDN,
    bound_virtual_service,
    ingress_gateway,
    mutual_server,
    obj,
    only_server,
    render_of,
)

TARGET_HOST = "link-orders.external.invalid"
ROUTE = {
    "match": [{"port": 13306}],
    "route": [{"destination": {"host": TARGET_HOST, "port": {"number": 3306}}}],
}


def service_entry(**spec: Any) -> KubeObject:
    base: dict[str, Any] = {
        "hosts": [TARGET_HOST],
        "location": "MESH_EXTERNAL",
        "resolution": "STATIC",
        "ports": [{"name": "tcp-target", "number": 3306, "protocol": "TCP"}],
        "endpoints": [{"address": "10.20.0.5"}],
        "exportTo": ["."],
    }
    return obj("server", "ServiceEntry", "istio-ingress", "target", {**base, **spec})


def follow(*extra: KubeObject) -> tuple[RouteEnd | None, list[str], list[str]]:
    render = render_of(
        ingress_gateway("edge", [mutual_server([FQDN])]),
        bound_virtual_service([ROUTE], gateways=["istio-ingress/edge"]),
        *extra,
    )
    problems: list[str] = []
    notes: list[str] = []
    _, target = route_target(render, only_server(render), FQDN, 13306, problems, notes)
    return target, problems, notes


def test_a_static_entry_gives_its_endpoint_address_and_port() -> None:
    target, problems, notes = follow(service_entry())
    assert problems == [] and notes == []
    assert target is not None
    assert target.description.startswith("10.20.0.5:3306 (ServiceEntry istio-ingress/target")
    assert "resolution STATIC" in target.description
    assert target.tls is None


def test_an_endpoint_port_named_after_the_service_port_wins() -> None:
    entry = service_entry(endpoints=[{"address": "10.20.0.5", "ports": {"tcp-target": 13307}}])
    target, problems, _ = follow(entry)
    assert problems == []
    assert target is not None and target.description.startswith("10.20.0.5:13307 ")


def test_a_dns_entry_without_endpoints_resolves_its_host_and_says_so() -> None:
    entry = service_entry(
        hosts=["db.corp.example.com"], resolution="DNS", endpoints=[], exportTo=["*"]
    )
    route = {"route": [{"destination": {"host": "db.corp.example.com", "port": {"number": 3306}}}]}
    render = render_of(
        ingress_gateway("edge", [mutual_server([FQDN])]),
        bound_virtual_service([route], gateways=["istio-ingress/edge"]),
        entry,
    )
    problems: list[str] = []
    notes: list[str] = []
    _, target = route_target(render, only_server(render), FQDN, 13306, problems, notes)
    assert problems == []
    assert target is not None and target.description.startswith("db.corp.example.com:3306 ")
    assert notes == [f"{entry.ref}: the gateway resolves db.corp.example.com by DNS; not rehearsed"]


def test_a_never_resolving_host_without_an_entry_is_refused() -> None:
    target, problems, _ = follow()
    assert target is None
    (problem,) = problems
    assert f"routes to {TARGET_HOST}, which no ServiceEntry in cluster 'server'" in problem


def test_an_entry_exported_to_another_namespace_is_not_seen_by_the_gateway() -> None:
    target, problems, _ = follow(service_entry(exportTo=["apps"]))
    assert target is None
    assert "visible to namespace(s) ['istio-ingress']" in problems[0]


def test_a_route_port_the_entry_does_not_declare_is_refused() -> None:
    entry = service_entry(ports=[{"name": "tcp-target", "number": 5432, "protocol": "TCP"}])
    target, problems, _ = follow(entry)
    assert target is None
    (problem,) = problems
    assert problem.endswith(
        f"routes to {entry.ref} on port 3306, but the entry declares port(s) [5432]; the "
        "ingress gateway would have no endpoint for it"
    )


def test_a_static_entry_without_endpoints_gives_no_address() -> None:
    entry = service_entry(endpoints=[])
    target, problems, _ = follow(entry)
    assert target is None
    assert problems[0].startswith(f"{entry.ref}: resolution STATIC with no endpoint address")


def test_tls_origination_to_the_target_is_found_with_what_verifies_it() -> None:
    rule = obj(
        "server",
        "DestinationRule",
        "istio-ingress",
        "target-tls",
        {
            "host": TARGET_HOST,
            "exportTo": ["."],
            "trafficPolicy": {
                "portLevelSettings": [
                    {
                        "port": {"number": 3306},
                        "tls": {
                            "mode": "SIMPLE",
                            "credentialName": "target-ca",
                            "sni": "db.corp.example.com",
                            "subjectAltNames": ["db.corp.example.com"],
                        },
                    }
                ]
            },
        },
    )
    target, problems, notes = follow(service_entry(), rule)
    assert problems == [] and notes == []
    assert target is not None and target.description.startswith("10.20.0.5:3306 ")
    assert target.tls == TargetOrigination(
        rule=rule,
        setting="trafficPolicy.portLevelSettings[0].tls",
        mode="SIMPLE",
        address="10.20.0.5",
        port=3306,
        credential_name="target-ca",
        sni="db.corp.example.com",
        subject_alt_names=("db.corp.example.com",),
    )


def test_a_tls_rule_for_another_port_is_not_an_origination_to_the_target() -> None:
    rule = obj(
        "server",
        "DestinationRule",
        "istio-ingress",
        "other-port-tls",
        {
            "host": TARGET_HOST,
            "trafficPolicy": {
                "portLevelSettings": [{"port": {"number": 5432}, "tls": {"mode": "SIMPLE"}}]
            },
        },
    )
    target, problems, notes = follow(service_entry(), rule)
    assert problems == [] and notes == []
    assert target is not None and target.tls is None


def test_a_mesh_service_host_is_reported_as_the_route_names_it() -> None:
    route = {
        "route": [{"destination": {"host": "mysql.db.svc.cluster.local", "port": {"number": 3306}}}]
    }
    render = render_of(
        ingress_gateway("edge", [mutual_server([FQDN])]),
        bound_virtual_service([route], gateways=["istio-ingress/edge"]),
        service_entry(),
    )
    problems: list[str] = []
    _, target = route_target(render, only_server(render), FQDN, 13306, problems, [])
    assert (target, problems) == (RouteEnd("mysql.db.svc.cluster.local:3306"), [])

"""The steps of planning one link, each on a small in-memory render: which Gateway server
is chosen, which port and TLS settings are read, where traffic is routed, and the
problem each step reports when the render is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meshlink.offline.rehearse.render import KubeObject, Render
from meshlink.offline.rehearse.wiring import (
    GatewayServer,
    Origination,
    RouteEnd,
    check_gateway_tls,
    check_link_port,
    check_origination,
    choose_ingress_server,
    gateway_servers,
    originations,
    read_client_side,
    read_server_credential,
    route_target,
)

FQDN = "mysql.link.example.internal"


def obj(cluster: str, kind: str, namespace: str, name: str, spec: dict[str, Any]) -> KubeObject:
    doc = {"kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    return KubeObject(cluster=cluster, path=Path(f"{cluster}/{kind}-{name}.yaml"), doc=doc)


def destination_rule(tls: dict[str, Any], *, port: int | None = 13306) -> KubeObject:
    policy: dict[str, Any] = (
        {"portLevelSettings": [{"port": {"number": port}, "tls": tls}]}
        if port is not None
        else {"tls": tls}
    )
    return obj(
        "client",
        "DestinationRule",
        "istio-egress",
        "origination",
        {"host": FQDN, "trafficPolicy": policy},
    )


def ingress_gateway(name: str, servers: list[dict[str, Any]]) -> KubeObject:
    return obj(
        "server",
        "Gateway",
        "istio-ingress",
        name,
        {"selector": {"istio": name}, "servers": servers},
    )


def mutual_server(hosts: list[str], *, port: int = 13306, **tls: Any) -> dict[str, Any]:
    return {
        "port": {"number": port, "name": "tls", "protocol": "TLS"},
        "hosts": hosts,
        "tls": {"mode": "MUTUAL", "credentialName": "link-server", **tls},
    }


GOOD_TLS = {
    "mode": "MUTUAL",
    "credentialName": "link-client",
    "sni": FQDN,
    "subjectAltNames": [FQDN],
}


def render_of(*objects: KubeObject) -> Render:
    return Render(root=Path("render"), objects=list(objects))


def only_origination(render: Render) -> Origination:
    (found,) = originations(render)
    return found


def only_server(render: Render) -> GatewayServer:
    (found,) = gateway_servers(render, mode="MUTUAL")
    return found


# --- check_origination -------------------------------------------------------------------


def test_complete_origination_is_read_without_problems() -> None:
    problems: list[str] = []
    notes: list[str] = []
    asked = check_origination(
        only_origination(render_of(destination_rule(GOOD_TLS))), problems, notes
    )
    assert (asked.credential_name, asked.sni, asked.server_names) == (
        "link-client",
        FQDN,
        [FQDN],
    )
    assert problems == []
    assert notes == []


def test_origination_without_sni_names_nor_verification_is_refused_setting_by_setting() -> None:
    problems: list[str] = []
    notes: list[str] = []
    tls = {"mode": "MUTUAL", "insecureSkipVerify": True, "caCertificates": "/etc/ca.pem"}
    check_origination(only_origination(render_of(destination_rule(tls))), problems, notes)
    assert [p.split(": ", 1)[1].split(";")[0] for p in problems] == [
        "no credentialName",
        "no sni",
        "no subjectAltNames",
        "insecureSkipVerify is true",
    ]
    assert all("DestinationRule istio-egress/origination" in p for p in problems)
    assert notes == [
        "DestinationRule istio-egress/origination (cluster 'client') "
        "trafficPolicy.portLevelSettings[0].tls.caCertificates is not rehearsed"
    ]


# --- read_client_side --------------------------------------------------------------------


def test_no_egress_gateway_for_the_host_is_a_problem_and_no_client_side() -> None:
    render = render_of(destination_rule(GOOD_TLS))
    problems: list[str] = []
    side = read_client_side(render, only_origination(render), "link-client", problems)
    assert side.credential is None
    assert side.egress_gateway == ""
    assert len(problems) == 1
    assert "no egress Gateway in cluster 'client'" in problems[0]


def test_egress_gateway_on_another_port_does_not_count() -> None:
    egress = obj(
        "client",
        "Gateway",
        "istio-egress",
        "egress",
        {"servers": [{"port": {"number": 443}, "hosts": [FQDN], "tls": {"mode": "ISTIO_MUTUAL"}}]},
    )
    render = render_of(destination_rule(GOOD_TLS), egress)
    problems: list[str] = []
    read_client_side(render, only_origination(render), "link-client", problems)
    assert "port 15443" in problems[0]


def test_missing_client_secret_is_looked_for_in_the_egress_gateway_namespace() -> None:
    egress = obj(
        "client",
        "Gateway",
        "istio-egress",
        "egress",
        {"servers": [{"port": {"number": 15443}, "hosts": ["*"], "tls": {"mode": "ISTIO_MUTUAL"}}]},
    )
    render = render_of(destination_rule(GOOD_TLS), egress)
    problems: list[str] = []
    side = read_client_side(render, only_origination(render), "link-client", problems)
    assert side.egress_gateway == "Gateway istio-egress/egress (cluster 'client') servers[0]"
    assert side.credential is None
    assert problems == [
        "client Secret istio-egress/link-client (credentialName of DestinationRule "
        "istio-egress/origination (cluster 'client') trafficPolicy.portLevelSettings[0].tls) "
        "is missing from cluster 'client'"
    ]


# --- choose_ingress_server ---------------------------------------------------------------


def test_exact_host_wins_over_a_wildcard_listed_first() -> None:
    render = render_of(
        destination_rule(GOOD_TLS),
        ingress_gateway("wildcard", [mutual_server(["*.link.example.internal"])]),
        ingress_gateway("exact", [mutual_server([f"istio-ingress/{FQDN}"])]),
    )
    problems: list[str] = []
    chosen = choose_ingress_server(render, only_origination(render), FQDN, problems)
    assert chosen is not None
    assert chosen.gateway.name == "exact"
    assert problems == []


def test_wildcard_server_is_chosen_when_nothing_matches_exactly() -> None:
    render = render_of(
        destination_rule(GOOD_TLS),
        ingress_gateway("wildcard", [mutual_server(["*.link.example.internal"])]),
    )
    chosen = choose_ingress_server(render, only_origination(render), FQDN, [])
    assert chosen is not None
    assert chosen.gateway.name == "wildcard"


def test_sni_outside_the_gateway_hosts_names_the_server_that_has_the_host() -> None:
    render = render_of(
        destination_rule(GOOD_TLS),
        ingress_gateway("edge", [mutual_server([FQDN])]),
    )
    problems: list[str] = []
    chosen = choose_ingress_server(render, only_origination(render), "other.example", problems)
    assert chosen is None
    assert len(problems) == 1
    assert "sni 'other.example' is not among the hosts" in problems[0]
    assert "Gateway istio-ingress/edge (cluster 'server') servers[0]" in problems[0]


def test_no_mutual_server_for_the_host_when_there_is_no_sni() -> None:
    render = render_of(destination_rule(GOOD_TLS))
    problems: list[str] = []
    assert choose_ingress_server(render, only_origination(render), "", problems) is None
    assert problems[0].endswith(f"no Gateway in any cluster has a MUTUAL server for {FQDN!r}")


# --- check_link_port ---------------------------------------------------------------------


def test_origination_on_another_port_than_the_gateway_is_refused() -> None:
    render = render_of(
        destination_rule(GOOD_TLS, port=3306),
        ingress_gateway("edge", [mutual_server([FQDN], port=13306)]),
    )
    problems: list[str] = []
    port = check_link_port(only_server(render), only_origination(render), FQDN, problems, [])
    assert port == 13306
    assert problems == [
        "DestinationRule istio-egress/origination (cluster 'client') "
        "trafficPolicy.portLevelSettings[0].tls: originates TLS on port 3306, but Gateway "
        f"istio-ingress/edge (cluster 'server') servers[0] serves {FQDN} on port 13306"
    ]


def test_port_agnostic_origination_rehearses_the_gateway_port_with_a_note() -> None:
    render = render_of(
        destination_rule(GOOD_TLS, port=None),
        ingress_gateway("edge", [mutual_server([FQDN], port=13306)]),
    )
    problems: list[str] = []
    notes: list[str] = []
    port = check_link_port(only_server(render), only_origination(render), FQDN, problems, notes)
    assert port == 13306
    assert problems == []
    assert notes == [
        "DestinationRule istio-egress/origination (cluster 'client') trafficPolicy.tls "
        f"applies to every port of {FQDN}; rehearsing the Gateway port 13306"
    ]


def test_server_without_a_port_number_or_tls_protocol() -> None:
    server = mutual_server([FQDN])
    server["port"] = {"name": "tls"}
    render = render_of(destination_rule(GOOD_TLS), ingress_gateway("edge", [server]))
    problems: list[str] = []
    assert (
        check_link_port(only_server(render), only_origination(render), FQDN, problems, []) is None
    )
    assert problems[0].endswith("servers[0]: the server has no port.number")

    tcp = mutual_server([FQDN])
    tcp["port"]["protocol"] = "TCP"
    render = render_of(destination_rule(GOOD_TLS), ingress_gateway("edge", [tcp]))
    problems = []
    check_link_port(only_server(render), only_origination(render), FQDN, problems, [])
    assert "port protocol is TCP" in problems[0]


# --- check_gateway_tls -------------------------------------------------------------------


def test_gateway_tls_defaults_to_tls_1_2_to_1_3_and_notes_open_client_names() -> None:
    render = render_of(ingress_gateway("edge", [mutual_server([FQDN])]))
    problems: list[str] = []
    notes: list[str] = []
    settings = check_gateway_tls(only_server(render), problems, notes)
    assert (settings.min_version, settings.max_version) == ("TLSV1_2", "TLSV1_3")
    assert settings.allowed_client_sans == []
    assert problems == []
    assert notes == [
        "Gateway istio-ingress/edge (cluster 'server') servers[0] has no subjectAltNames: "
        "any certificate under its ca.crt is accepted"
    ]


def test_gateway_tls_reads_versions_ciphers_and_client_names() -> None:
    server = mutual_server(
        [FQDN],
        minProtocolVersion="TLSV1_3",
        subjectAltNames=["spiffe://client/ns/istio-egress/sa/egress"],
        cipherSuites=["ECDHE-ECDSA-AES256-GCM-SHA384"],
        verifyCertificateHash=["ab"],
    )
    render = render_of(ingress_gateway("edge", [server]))
    notes: list[str] = []
    settings = check_gateway_tls(only_server(render), [], notes)
    assert (settings.min_version, settings.max_version) == ("TLSV1_3", "TLSV1_3")
    assert settings.cipher_suites == ["ECDHE-ECDSA-AES256-GCM-SHA384"]
    assert settings.allowed_client_sans == ["spiffe://client/ns/istio-egress/sa/egress"]
    assert notes == [
        "Gateway istio-ingress/edge (cluster 'server') servers[0].tls.verifyCertificateHash "
        "is not rehearsed"
    ]


def test_maximum_below_minimum_version_is_refused() -> None:
    server = mutual_server([FQDN], minProtocolVersion="TLSV1_3", maxProtocolVersion="TLSV1_2")
    render = render_of(ingress_gateway("edge", [server]))
    problems: list[str] = []
    check_gateway_tls(only_server(render), problems, [])
    assert problems == [
        "Gateway istio-ingress/edge (cluster 'server') servers[0]: maxProtocolVersion TLSV1_2 "
        "is below minProtocolVersion"
    ]


# --- read_server_credential --------------------------------------------------------------


def test_gateway_without_credential_name_has_no_server_credential() -> None:
    server = mutual_server([FQDN])
    del server["tls"]["credentialName"]
    render = render_of(ingress_gateway("edge", [server]))
    problems: list[str] = []
    assert read_server_credential(render, only_server(render), problems) == (None, "")
    assert problems[0].endswith("no credentialName for the server certificate")


def test_server_secret_is_looked_for_where_the_gateway_pods_run() -> None:
    deployment = obj(
        "server",
        "Deployment",
        "edge-pods",
        "edge",
        {"template": {"metadata": {"labels": {"istio": "edge", "app": "edge"}}}},
    )
    render = render_of(ingress_gateway("edge", [mutual_server([FQDN])]), deployment)
    problems: list[str] = []
    credential, _ = read_server_credential(render, only_server(render), problems)
    assert credential is None
    assert problems[0].startswith("server Secret edge-pods/link-server (credentialName of")


# --- route_target ------------------------------------------------------------------------


def bound_virtual_service(tcp: list[dict[str, Any]], *, gateways: list[str]) -> KubeObject:
    return obj(
        "server",
        "VirtualService",
        "istio-ingress",
        "link",
        {"hosts": [FQDN], "gateways": gateways, "tcp": tcp},
    )


def test_route_target_is_the_first_tcp_route_destination() -> None:
    route = {
        "match": [{"port": 13306}],
        "route": [
            {"destination": {"host": "mysql.db.svc.cluster.local", "port": {"number": 3306}}}
        ],
    }
    render = render_of(
        ingress_gateway("edge", [mutual_server([FQDN])]),
        bound_virtual_service([route], gateways=["istio-ingress/edge"]),
    )
    problems: list[str] = []
    virtual_service, target = route_target(render, only_server(render), FQDN, 13306, problems, [])
    assert virtual_service == "VirtualService istio-ingress/link (cluster 'server')"
    assert target == RouteEnd("mysql.db.svc.cluster.local:3306")
    assert problems == []


def test_virtual_service_bound_to_another_gateway_routes_nothing() -> None:
    route = {"route": [{"destination": {"host": "mysql.db.svc.cluster.local"}}]}
    render = render_of(
        ingress_gateway("edge", [mutual_server([FQDN])]),
        bound_virtual_service([route], gateways=["istio-ingress/other"]),
    )
    problems: list[str] = []
    assert route_target(render, only_server(render), FQDN, 13306, problems, []) == ("", None)
    assert "no VirtualService in cluster 'server' is bound to this Gateway" in problems[0]

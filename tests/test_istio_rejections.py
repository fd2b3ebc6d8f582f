"""Bad input is refused when the model is built, with a message that names the field and
(unless it might be key material) the bad value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from meshlink.istio import (
    AuthorizationPolicy,
    ClientTLSSettings,
    Destination,
    DestinationRule,
    Gateway,
    LabelSelector,
    PeerAuthentication,
    PortTrafficPolicy,
    RouteDestination,
    Server,
    ServerPort,
    ServerTLSSettings,
    ServiceEntry,
    ServiceEntryEndpoint,
    ServicePort,
    Sidecar,
    Source,
    Subset,
    TCPRoute,
    TCPSettings,
    TLSMatchAttributes,
    TLSRoute,
    TrafficPolicy,
    VirtualService,
)

FQDN = "mysql.link.example.internal"
TLS_PORT = {"number": 15443, "protocol": "TLS", "name": "tls"}
TCP_ROUTE = [TCPRoute(route=[RouteDestination(destination=Destination(host="mysql"))])]
SE_PORTS = [ServicePort(number=3306, protocol="TCP", name="tcp")]


def _gateway(**server: Any) -> Gateway:
    spec: dict[str, Any] = {"port": TLS_PORT, "hosts": [FQDN], "tls": {"mode": "ISTIO_MUTUAL"}}
    spec.update(server)
    return Gateway.model_validate({"selector": {"istio": "egressgateway"}, "servers": [spec]})


CASES: dict[str, tuple[Callable[[], object], list[str]]] = {
    # bad enum values
    "server tls mode": (
        lambda: ServerTLSSettings(mode="MUTUALL"),
        ["mode", "'MUTUALL'", "'ISTIO_MUTUAL'"],
    ),
    "port protocol": (
        lambda: _gateway(port={**TLS_PORT, "protocol": "tls"}),
        ["servers.0.port.protocol", "'tls'", "'TLS'"],
    ),
    "resolution": (
        lambda: ServiceEntry.model_validate(
            {
                "hosts": [FQDN],
                "ports": [{"number": 1, "protocol": "TCP", "name": "t"}],
                "resolution": "DNS_ONLY",
            }
        ),
        ["resolution", "'DNS_ONLY'"],
    ),
    # unknown fields
    "unknown top-level field": (
        lambda: Gateway(selector={"a": "b"}, servers=[], extra=1),  # type: ignore[call-arg]
        ["extra", "Extra inputs are not permitted"],
    ),
    "unknown nested field (wire name typo)": (
        lambda: _gateway(tls={"mode": "SIMPLE", "credentialNames": ["x"]}),
        ["servers.0.tls.credentialNames", "Extra inputs are not permitted"],
    ),
    # ports out of range
    "server port 0": (
        lambda: _gateway(port={**TLS_PORT, "number": 0}),
        ["servers.0.port.number", "greater than or equal to 1", "input_value=0"],
    ),
    "server port 70000": (
        lambda: _gateway(port={**TLS_PORT, "number": 70000}),
        ["servers.0.port.number", "less than or equal to 65535", "input_value=70000"],
    ),
    "destination port 0": (
        lambda: Destination(host="mysql", port=0),
        ["port.number", "greater than or equal to 1"],
    ),
    "service entry port 70000": (
        lambda: ServicePort(number=70000, protocol="TCP", name="tcp"),
        ["number", "less than or equal to 65535"],
    ),
    "peer authentication port 0": (
        lambda: PeerAuthentication.model_validate(
            {"selector": {"matchLabels": {"a": "b"}}, "portLevelMtls": {"0": {"mode": "STRICT"}}}
        ),
        ["portLevelMtls.0.[key]", "greater than or equal to 1"],
    ),
    # wildcards where Istio does not take them
    "wildcard destination": (
        lambda: Destination(host="*.example.com"),
        ["host", "wildcard host is not allowed here"],
    ),
    "star service entry host": (
        lambda: ServiceEntry(hosts=["*"], ports=SE_PORTS),
        ["hosts.0", "'*' is not allowed as a ServiceEntry host"],
    ),
    "wildcard service entry host with DNS resolution": (
        lambda: ServiceEntry(hosts=["*.example.com"], ports=SE_PORTS, resolution="DNS"),
        ["wildcard hosts ['*.example.com'] need resolution NONE"],
    ),
    "partial wildcard": (
        lambda: DestinationRule(host="my*.example.com"),
        ["host", "only allowed as the whole left-most label", "my*.example.com"],
    ),
    "short gateway host": (
        lambda: _gateway(hosts=["mysql"]),
        ["servers.0.hosts.0", "'mysql' is a short name"],
    ),
    "sidecar host without namespace": (
        lambda: Sidecar.model_validate({"egress": [{"hosts": [FQDN]}]}),
        ["egress.0.hosts.0", "written 'namespace/dnsName'"],
    ),
    "star host on a mesh route": (
        lambda: VirtualService(hosts=["*"], tcp=TCP_ROUTE),
        ["host '*' is only allowed when the routes apply to gateways only"],
    ),
    "SNI outside the virtual service hosts": (
        lambda: VirtualService(
            hosts=[FQDN],
            gateways=["mesh"],
            tls=[
                TLSRoute(
                    match=[TLSMatchAttributes(sni_hosts=["other.example.com"])],
                    route=[RouteDestination(destination=Destination(host="x"))],
                )
            ],
        ),
        ["tls[0]: SNI host 'other.example.com' is not covered"],
    ),
    # bad names
    "subset name with dots": (
        lambda: Subset(name="v1.0"),
        ["name", "'v1.0' is not a valid RFC 1123 label"],
    ),
    "port name with capitals": (
        lambda: ServerPort(number=1, protocol="TCP", name="TCP-MySQL"),
        ["name", "'TCP-MySQL'"],
    ),
    "gateway reference": (
        lambda: VirtualService(hosts=[FQDN], gateways=["istio-system/Egress"], tcp=TCP_ROUTE),
        ["gateways.0", "'Egress' is not a valid DNS label"],
    ),
    "wildcard selector value": (
        lambda: LabelSelector(match_labels={"app": "*"}),
        ["match_labels.app", "'*' is not a valid label value"],
    ),
    "reserved credential name": (
        lambda: ServerTLSSettings(mode="SIMPLE", credential_name="istio-link"),
        ["credential_name", "start with 'istio'"],
    ),
    "credential name with -cacert suffix": (
        lambda: ClientTLSSettings(mode="MUTUAL", credential_name="link-cacert"),
        ["credential_name", "-cacert"],
    ),
    # what istiod's webhook refuses
    "ISTIO_MUTUAL with credentialName": (
        lambda: _gateway(tls={"mode": "ISTIO_MUTUAL", "credentialName": "link"}),
        ["servers.0.tls", "mode ISTIO_MUTUAL uses the mesh certificates"],
    ),
    "MUTUAL gateway without certificates": (
        lambda: _gateway(tls={"mode": "MUTUAL"}),
        ["servers.0.tls", "mode MUTUAL needs credentialName"],
    ),
    "TLS port without tls settings": (
        lambda: _gateway(tls=None),
        ["servers.0", "port protocol TLS needs tls settings"],
    ),
    "tls settings on a TCP port": (
        lambda: _gateway(port={**TLS_PORT, "protocol": "TCP"}),
        ["servers.0", "tls settings need port protocol TLS or HTTPS"],
    ),
    "duplicate gateway port names": (
        lambda: Gateway.model_validate(
            {
                "selector": {"istio": "x"},
                "servers": [
                    {"port": TLS_PORT, "hosts": [FQDN], "tls": {"mode": "ISTIO_MUTUAL"}},
                    {
                        "port": {**TLS_PORT, "number": 15444},
                        "hosts": [FQDN],
                        "tls": {"mode": "ISTIO_MUTUAL"},
                    },
                ],
            }
        ),
        ["port name 'tls' appears more than once"],
    ),
    "ISTIO_MUTUAL origination with credentialName": (
        lambda: ClientTLSSettings(mode="ISTIO_MUTUAL", credential_name="link"),
        ["mode ISTIO_MUTUAL uses the mesh certificates"],
    ),
    "MUTUAL origination without a certificate": (
        lambda: ClientTLSSettings(mode="MUTUAL", sni=FQDN),
        ["mode MUTUAL needs credentialName"],
    ),
    "empty port traffic policy": (
        lambda: PortTrafficPolicy(port=13306),
        ["port 13306: set at least one of loadBalancer, connectionPool or tls"],
    ),
    "empty traffic policy": (
        lambda: TrafficPolicy(),
        ["set at least one of loadBalancer, connectionPool, portLevelSettings or tls"],
    ),
    "duration below 1ms": (
        lambda: TCPSettings(connect_timeout="500us"),
        ["connect_timeout", "at least 1ms"],
    ),
    "duration that is not one": (
        lambda: TCPSettings(connect_timeout="5 seconds"),
        ["connect_timeout", "'5 seconds' is not a duration"],
    ),
    "workload selector exported": (
        lambda: DestinationRule(
            host="mysql",
            workload_selector=LabelSelector(match_labels={"app": "x"}),
            export_to=["*"],
        ),
        ["exportTo must be unset or ['.']"],
    ),
    "endpoints with resolution NONE": (
        lambda: ServiceEntry(
            hosts=[FQDN], ports=SE_PORTS, endpoints=[ServiceEntryEndpoint(address="10.0.0.1")]
        ),
        ["resolution NONE takes no endpoints"],
    ),
    "endpoint port that the entry does not declare": (
        lambda: ServiceEntry(
            hosts=[FQDN],
            ports=SE_PORTS,
            resolution="DNS",
            endpoints=[ServiceEntryEndpoint(address=FQDN, ports={"tls": 13306})],
        ),
        ["endpoints[0].ports names ['tls']"],
    ),
    "several hosts on a plain TCP port": (
        lambda: ServiceEntry(hosts=[FQDN, "b.example.com"], ports=SE_PORTS, resolution="DNS"),
        ["several hosts cannot share the plain TCP ports ['tcp']"],
    ),
    "CIDR address with DNS resolution": (
        lambda: ServiceEntry(
            hosts=[FQDN], ports=SE_PORTS, addresses=["10.0.0.0/8"], resolution="DNS"
        ),
        ["CIDR addresses ['10.0.0.0/8'] are only allowed with resolution NONE or STATIC"],
    ),
    "empty sidecar": (lambda: Sidecar(), ["set egress or outboundTrafficPolicy"]),
    "port-level mTLS without selector": (
        lambda: PeerAuthentication.model_validate({"portLevelMtls": {"3306": {"mode": "STRICT"}}}),
        ["portLevelMtls needs a selector"],
    ),
    "DENY without rules": (
        lambda: AuthorizationPolicy(action="DENY"),
        ["action DENY without rules never matches"],
    ),
    "empty source": (lambda: Source(), ["a source needs at least one field"]),
    "bad IP block": (
        lambda: Source(ip_blocks=["10.0.0.1/8"]),
        ["ip_blocks.0", "'10.0.0.1/8' is not an IP address or a CIDR block"],
    ),
    "weights adding up to zero": (
        lambda: TCPRoute(
            route=[
                RouteDestination(destination=Destination(host="a"), weight=0),
                RouteDestination(destination=Destination(host="b"), weight=0),
            ]
        ),
        ["total weight is 0"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_naming_the_field(case: str) -> None:
    build, expected = CASES[case]
    with pytest.raises(ValidationError) as raised:
        build()
    message = str(raised.value)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"


@pytest.mark.parametrize("field", ["private_key", "server_certificate", "ca_certificates"])
def test_key_material_in_a_path_field_is_refused_without_echoing_it(field: str) -> None:
    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(ValidationError) as raised:
        ServerTLSSettings.model_validate({"mode": "SIMPLE", field: pem})
    message = str(raised.value)
    assert field in message
    assert "not certificate or key material" in message
    assert "MIIEvQ" not in message and "BEGIN" not in message
    assert "MIIEvQ" not in repr(raised.value.errors())


def test_server_without_tls_mode_settings_is_plain_tcp() -> None:
    server = Server(port=ServerPort(number=13306, protocol="TCP", name="tcp"), hosts=[FQDN])
    assert server.tls is None

"""Every Istio kind, minimal and fully populated, serialises to an object both CRD sets
accept in both API versions, and parses back to the same model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from meshlink.istio import (
    ALL_KINDS,
    AuthorizationAction,
    AuthorizationPolicy,
    CaptureMode,
    ClientTLSMode,
    ClientTLSSettings,
    Condition,
    ConnectionPoolSettings,
    Destination,
    DestinationRule,
    Gateway,
    IstioApiVersion,
    IstioEgressListener,
    IstioSpec,
    L4MatchAttributes,
    LabelSelector,
    LoadBalancerAlgorithm,
    LoadBalancerSettings,
    Location,
    Operation,
    OutboundTrafficPolicy,
    OutboundTrafficPolicyMode,
    PeerAuthentication,
    PeerAuthenticationMode,
    PeerMutualTLS,
    PortProtocol,
    PortTrafficPolicy,
    Resolution,
    RouteDestination,
    Rule,
    RuleFrom,
    RuleTo,
    Server,
    ServerPort,
    ServerTLSMode,
    ServerTLSSettings,
    ServiceEntry,
    ServiceEntryEndpoint,
    ServicePort,
    Sidecar,
    SidecarPort,
    Source,
    Subset,
    TcpKeepalive,
    TCPRoute,
    TCPSettings,
    TLSMatchAttributes,
    TLSProtocolVersion,
    TLSRoute,
    TrafficPolicy,
    VirtualService,
    WorkloadSelector,
    to_manifest,
)
from tests.support.istio_schema import CRD_SETS, NEWEST, CelRecord, validate_manifest

FQDN = "mysql.link.example.internal"
EGRESS_HOST = "istio-egressgateway.istio-system.svc.cluster.local"


def minimal_gateway() -> Gateway:
    return Gateway(
        selector={"istio": "ingressgateway"},
        servers=[
            Server(
                port=ServerPort(number=13306, protocol=PortProtocol.TCP, name="tcp-mysql"),
                hosts=[FQDN],
            )
        ],
    )


def full_gateway() -> Gateway:
    return Gateway(
        selector={"istio": "ingressgateway", "app.kubernetes.io/name": "link-ingress"},
        servers=[
            Server(
                name="mysql-link",
                port=ServerPort(number=13306, protocol=PortProtocol.TLS, name="tls-mysql"),
                hosts=["./" + FQDN, "*/*.link.example.internal"],
                tls=ServerTLSSettings(
                    mode=ServerTLSMode.MUTUAL,
                    credential_name="mysql-link-server",
                    subject_alt_names=["client.link.example.internal"],
                    min_protocol_version=TLSProtocolVersion.TLSV1_2,
                    max_protocol_version=TLSProtocolVersion.TLSV1_3,
                    cipher_suites=["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"],
                ),
            ),
            Server(
                port=ServerPort(number=15443, protocol=PortProtocol.TLS, name="tls-mesh"),
                hosts=["link/" + FQDN],
                tls=ServerTLSSettings(mode=ServerTLSMode.ISTIO_MUTUAL),
            ),
            Server(
                port=ServerPort(number=8443, protocol=PortProtocol.HTTPS, name="https-files"),
                hosts=["files.link.example.internal"],
                tls=ServerTLSSettings(
                    mode=ServerTLSMode.SIMPLE,
                    server_certificate="/etc/istio/files-certs/tls.crt",
                    private_key="/etc/istio/files-certs/tls.key",
                ),
            ),
            Server(
                port=ServerPort(number=16443, protocol=PortProtocol.TLS, name="tls-passthrough"),
                hosts=["*"],
                tls=ServerTLSSettings(mode=ServerTLSMode.PASSTHROUGH),
            ),
        ],
    )


def minimal_virtual_service() -> VirtualService:
    return VirtualService(
        hosts=[FQDN],
        tcp=[TCPRoute(route=[RouteDestination(destination=Destination(host="mysql"))])],
    )


def full_virtual_service() -> VirtualService:
    return VirtualService(
        hosts=[FQDN, "*.files.link.example.internal"],
        gateways=["mesh", "istio-system/istio-egressgateway-mysql"],
        export_to=[".", "db-clients"],
        tcp=[
            TCPRoute(
                match=[
                    L4MatchAttributes(
                        gateways=["mesh"],
                        port=3306,
                        source_labels={"app": "orders"},
                        source_namespace="orders",
                        destination_subnets=["10.20.0.0/16", "10.30.0.7"],
                    )
                ],
                route=[
                    RouteDestination(
                        destination=Destination(host=EGRESS_HOST, subset="mysql", port=15443),
                        weight=90,
                    ),
                    RouteDestination(
                        destination=Destination(
                            host=EGRESS_HOST, subset="mysql-canary", port=15443
                        ),
                        weight=10,
                    ),
                ],
            ),
            TCPRoute(
                match=[
                    L4MatchAttributes(
                        gateways=["istio-system/istio-egressgateway-mysql"], port=15443
                    )
                ],
                route=[
                    RouteDestination(destination=Destination(host=FQDN, port=13306), weight=100)
                ],
            ),
        ],
        tls=[
            TLSRoute(
                match=[
                    TLSMatchAttributes(
                        sni_hosts=["a.files.link.example.internal"],
                        port=443,
                        gateways=["mesh"],
                    )
                ],
                route=[RouteDestination(destination=Destination(host="files.storage", port=443))],
            )
        ],
    )


def minimal_destination_rule() -> DestinationRule:
    return DestinationRule(host="mysql")


def full_destination_rule() -> DestinationRule:
    origination = ClientTLSSettings(
        mode=ClientTLSMode.MUTUAL,
        credential_name="mysql-link-client",
        sni=FQDN,
        subject_alt_names=[FQDN],
    )
    pool = ConnectionPoolSettings(
        tcp=TCPSettings(
            max_connections=200,
            connect_timeout="5s",
            idle_timeout=dt.timedelta(hours=1),
            max_connection_duration="24h",
            tcp_keepalive=TcpKeepalive(probes=3, time="7200s", interval=dt.timedelta(seconds=75)),
        )
    )
    return DestinationRule(
        host=FQDN,
        export_to=["."],
        workload_selector=LabelSelector(match_labels={"istio": "egressgateway"}),
        traffic_policy=TrafficPolicy(
            load_balancer=LoadBalancerSettings(simple=LoadBalancerAlgorithm.ROUND_ROBIN),
            connection_pool=pool,
            tls=ClientTLSSettings(mode=ClientTLSMode.SIMPLE, sni=FQDN),
            port_level_settings=[
                PortTrafficPolicy(port=13306, tls=origination, connection_pool=pool),
                PortTrafficPolicy(
                    port=13307,
                    load_balancer=LoadBalancerSettings(simple=LoadBalancerAlgorithm.LEAST_REQUEST),
                    tls=ClientTLSSettings(
                        mode=ClientTLSMode.MUTUAL,
                        client_certificate="/etc/certs/client.pem",
                        private_key="/etc/certs/client-key.pem",
                        ca_certificates="/etc/certs/ca.pem",
                    ),
                ),
            ],
        ),
        subsets=[
            Subset(
                name="mysql",
                labels={"version": "v1"},
                traffic_policy=TrafficPolicy(
                    port_level_settings=[
                        PortTrafficPolicy(
                            port=15443,
                            tls=ClientTLSSettings(mode=ClientTLSMode.ISTIO_MUTUAL, sni=FQDN),
                        )
                    ]
                ),
            ),
            Subset(
                name="plain", traffic_policy=TrafficPolicy(tls=ClientTLSSettings(mode="DISABLE"))
            ),
        ],
    )


def minimal_service_entry() -> ServiceEntry:
    return ServiceEntry(
        hosts=[FQDN], ports=[ServicePort(number=3306, protocol=PortProtocol.TCP, name="tcp")]
    )


def full_service_entry() -> ServiceEntry:
    return ServiceEntry(
        hosts=[FQDN],
        addresses=["240.240.0.10"],
        ports=[
            ServicePort(number=3306, protocol=PortProtocol.TCP, name="tcp"),
            ServicePort(number=13306, protocol=PortProtocol.TLS, name="tls", target_port=13306),
        ],
        location=Location.MESH_EXTERNAL,
        resolution=Resolution.DNS,
        endpoints=[
            ServiceEntryEndpoint(
                address=FQDN,
                ports={"tls": 13306},
                labels={"link": "mysql"},
                network="server-vpc",
                locality="europe-west1/europe-west1-b",
                weight=100,
            ),
            ServiceEntryEndpoint(address="203.0.113.10", ports={"tls": 13306, "tcp": 3306}),
        ],
        export_to=["."],
    )


def minimal_sidecar() -> Sidecar:
    return Sidecar(
        outbound_traffic_policy=OutboundTrafficPolicy(mode=OutboundTrafficPolicyMode.REGISTRY_ONLY)
    )


def full_sidecar() -> Sidecar:
    return Sidecar(
        workload_selector=WorkloadSelector(labels={"app": "orders"}),
        egress=[
            IstioEgressListener(
                port=SidecarPort(number=3306, protocol=PortProtocol.TCP, name="tcp-mysql"),
                hosts=["./" + FQDN, "istio-system/" + EGRESS_HOST],
                capture_mode=CaptureMode.DEFAULT,
            ),
            IstioEgressListener(hosts=["istio-system/*", "./*", "~/*.internal.example.com"]),
        ],
        outbound_traffic_policy=OutboundTrafficPolicy(mode=OutboundTrafficPolicyMode.REGISTRY_ONLY),
    )


def minimal_peer_authentication() -> PeerAuthentication:
    return PeerAuthentication(mtls=PeerMutualTLS(mode=PeerAuthenticationMode.STRICT))


def full_peer_authentication() -> PeerAuthentication:
    return PeerAuthentication(
        selector=LabelSelector(match_labels={"app": "mysql"}),
        mtls=PeerMutualTLS(mode=PeerAuthenticationMode.STRICT),
        port_level_mtls={
            3306: PeerMutualTLS(mode=PeerAuthenticationMode.STRICT),
            9104: PeerMutualTLS(mode=PeerAuthenticationMode.PERMISSIVE),
        },
    )


def minimal_authorization_policy() -> AuthorizationPolicy:
    return AuthorizationPolicy()


def full_authorization_policy() -> AuthorizationPolicy:
    return AuthorizationPolicy(
        selector=LabelSelector(match_labels={"app": "mysql"}),
        action=AuthorizationAction.ALLOW,
        rules=[
            Rule(
                from_=[
                    RuleFrom(
                        source=Source(
                            principals=["cluster.local/ns/istio-system/sa/link-ingress"],
                            namespaces=["istio-system"],
                            ip_blocks=["10.0.0.0/8"],
                            not_ip_blocks=["10.9.0.0/16"],
                        )
                    ),
                    RuleFrom(source=Source(not_principals=["cluster.local/ns/x/sa/y"])),
                ],
                to=[RuleTo(operation=Operation(ports=[3306], not_ports=[33060]))],
                when=[Condition(key="destination.port", values=["3306"])],
            ),
            Rule(),
        ],
    )


EXAMPLES: dict[str, Callable[[], IstioSpec]] = {
    "Gateway-minimal": minimal_gateway,
    "Gateway-full": full_gateway,
    "VirtualService-minimal": minimal_virtual_service,
    "VirtualService-full": full_virtual_service,
    "DestinationRule-minimal": minimal_destination_rule,
    "DestinationRule-full": full_destination_rule,
    "ServiceEntry-minimal": minimal_service_entry,
    "ServiceEntry-full": full_service_entry,
    "Sidecar-minimal": minimal_sidecar,
    "Sidecar-full": full_sidecar,
    "PeerAuthentication-minimal": minimal_peer_authentication,
    "PeerAuthentication-full": full_peer_authentication,
    "AuthorizationPolicy-minimal": minimal_authorization_policy,
    "AuthorizationPolicy-full": full_authorization_policy,
}


def test_every_kind_has_a_minimal_and_a_full_example() -> None:
    covered = {type(build()) for build in EXAMPLES.values()}
    assert covered == set(ALL_KINDS)
    for kind in ALL_KINDS:
        minimal = EXAMPLES[f"{kind.KIND}-minimal"]().to_wire()
        full = EXAMPLES[f"{kind.KIND}-full"]().to_wire()
        assert len(str(full)) > len(str(minimal))


@pytest.mark.usefixtures("istio_crds")
@pytest.mark.parametrize("api_version", list(IstioApiVersion))
@pytest.mark.parametrize("crd_set", CRD_SETS)
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_examples_validate_against_the_crds(
    example: str, crd_set: str, api_version: IstioApiVersion
) -> None:
    model = EXAMPLES[example]()
    manifest = to_manifest(
        model,
        metadata_name=example.lower().split("-")[0] + "-example",
        namespace="istio-system",
        labels={"app.kubernetes.io/managed-by": "meshlink"},
        api_version=api_version,
    )
    assert manifest["apiVersion"] == f"{model.API_GROUP}/{api_version.value}"
    assert validate_manifest(manifest, crd_set) == []


@pytest.mark.usefixtures("istio_crds")
def test_the_full_examples_exercise_cel_rules_and_pass_them() -> None:
    record = CelRecord()
    for example in sorted(EXAMPLES):
        manifest = to_manifest(EXAMPLES[example](), metadata_name="example", namespace="app")
        assert validate_manifest(manifest, NEWEST, record=record) == []
    assert not record.failures
    assert not record.not_evaluated
    kinds = {rule.kind for rule in record.evaluations}
    assert kinds == {
        "DestinationRule",
        "ServiceEntry",
        "Sidecar",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "Gateway",
    }
    assert len(record.evaluations) >= 20


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_examples_parse_back_from_the_wire(example: str) -> None:
    model = EXAMPLES[example]()
    wire = model.to_wire()
    again = type(model).model_validate(wire)
    assert again == model
    assert again.to_wire() == wire


def test_wire_form_uses_istio_names_and_omits_unset_fields() -> None:
    wire = full_destination_rule().to_wire()
    tcp = wire["trafficPolicy"]["connectionPool"]["tcp"]
    assert tcp == {
        "maxConnections": 200,
        "connectTimeout": "5s",
        "tcpKeepalive": {"probes": 3, "time": "7200s", "interval": "75s"},
        "maxConnectionDuration": "24h",
        "idleTimeout": "3600s",
    }
    assert wire["workloadSelector"] == {"matchLabels": {"istio": "egressgateway"}}
    assert wire["trafficPolicy"]["portLevelSettings"][0]["port"] == {"number": 13306}
    assert wire["subsets"][1] == {"name": "plain", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}
    policy = full_authorization_policy().to_wire()
    assert policy["rules"][0]["to"] == [{"operation": {"ports": ["3306"], "notPorts": ["33060"]}}]
    assert "from" in policy["rules"][0] and policy["rules"][1] == {}
    assert full_peer_authentication().to_wire()["portLevelMtls"] == {
        "3306": {"mode": "STRICT"},
        "9104": {"mode": "PERMISSIVE"},
    }
    assert minimal_authorization_policy().to_wire() == {}


def test_models_are_immutable() -> None:
    gateway = minimal_gateway()
    with pytest.raises(ValueError, match="frozen"):
        gateway.selector = {}  # type: ignore[misc]

"""The Istio objects of a link, as typed models, and their names.

Builders here are pure (service + gateway -> model) so the cross-references between
objects can be read in one place; declaring them is left to the sides
(:mod:`meshlink.mesh.client`, :mod:`meshlink.mesh.server`), which pass every model
through :func:`meshlink.istio.istio_custom_resource`.

Visibility (``exportTo``): Istio shares configuration mesh-wide by default, which
would hand every sidecar in the cluster a route to the link. meshlink narrows it:

- the FQDN is declared by two ServiceEntries with disjoint visibility: the app port
  (TCP) is exported to the client namespaces only, the link port (TLS, with the
  endpoint) to the egress gateway's namespace only. A client sidecar thus knows the app
  port, which its route sends to the egress gateway, but has no route of its own to
  FQDN:link port that would skip the gateway. One ServiceEntry cannot do this: its
  ``exportTo`` covers all its ports. Istio accepts several ServiceEntries for one host
  as long as no namespace sees two of them define the same port with different
  protocols (https://istio.io/latest/docs/reference/config/analysis/ist0177/); here no
  namespace sees both. ``exportTo`` is visibility, not authorization: the egress
  gateway's ``AuthorizationPolicy`` and the client NetworkPolicy are the controls;
- the client VirtualService and the DestinationRule for the egress gateway host are
  exported to the egress gateway's namespace and the client namespaces only, the
  workloads that use them;
- the origination DestinationRule (the one that carries the link client certificate)
  and the server VirtualService are exported to their own namespace only: just the
  gateway there needs them;
- ``Gateway`` objects have no ``exportTo``; their unique selector is what keeps them on
  meshlink's gateways;
- the target's objects (:mod:`meshlink.mesh.target_objects`) are exported to the ingress
  gateway's namespace only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from meshlink.istio import (
    AuthorizationAction,
    AuthorizationPolicy,
    ClientTLSMode,
    ClientTLSSettings,
    Destination,
    DestinationRule,
    Gateway,
    L4MatchAttributes,
    LabelSelector,
    Location,
    Operation,
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
    Source,
    Subset,
    TCPRoute,
    TLSProtocolVersion,
    TrafficPolicy,
    VirtualService,
)
from meshlink.istio.common import PortProtocol
from meshlink.mesh.common import EGRESS_PORT
from meshlink.mesh.services import LinkedService

APP_PORT_NAME = "tcp"
LINK_PORT_NAME = "tls"


def export_targets(own_namespace: str, client_namespaces: Sequence[str]) -> tuple[str, ...]:
    """``.`` plus the client namespaces other than the own one, in a stable order."""
    others = sorted({ns for ns in client_namespaces if ns != own_namespace})
    return (".", *others)


def client_export_targets(client_namespaces: Sequence[str]) -> tuple[str, ...]:
    """The client namespaces only, in a stable order (not the egress gateway's own)."""
    return tuple(sorted(set(client_namespaces)))


def gateway_reference(namespace: str, gateway_name: str) -> str:
    return f"{namespace}/{gateway_name}"


# --- client side ---------------------------------------------------------------------


def app_service_entry(service: LinkedService, *, export_to: Sequence[str]) -> ServiceEntry:
    """Makes the FQDN's app port (TCP) known to the client sidecars, whose route sends it
    to the egress gateway. No link port: see the module docstring."""
    return ServiceEntry(
        hosts=(service.fqdn,),
        ports=(
            ServicePort(number=service.app_port, name=APP_PORT_NAME, protocol=PortProtocol.TCP),
        ),
        location=Location.MESH_EXTERNAL,
        resolution=Resolution.DNS,
        export_to=tuple(export_to),
    )


def link_service_entry(service: LinkedService) -> ServiceEntry:
    """Makes FQDN:link port (TLS, originated at the egress gateway) known to the egress
    gateway's namespace only."""
    return ServiceEntry(
        hosts=(service.fqdn,),
        ports=(
            ServicePort(number=service.link_port, name=LINK_PORT_NAME, protocol=PortProtocol.TLS),
        ),
        location=Location.MESH_EXTERNAL,
        resolution=Resolution.DNS,
        endpoints=(
            ServiceEntryEndpoint(address=service.fqdn, ports={LINK_PORT_NAME: service.link_port}),
        ),
        export_to=(".",),
    )


def egress_gateway(service: LinkedService, *, selector: Mapping[str, str]) -> Gateway:
    """The egress gateway accepts the service's traffic from sidecars over mesh mTLS on
    15443, told apart from other services by SNI = FQDN."""
    return Gateway(
        selector=dict(selector),
        servers=(
            Server(
                port=ServerPort(
                    number=EGRESS_PORT, name=f"tls-{service.name}", protocol=PortProtocol.TLS
                ),
                hosts=(service.fqdn,),
                tls=ServerTLSSettings(mode=ServerTLSMode.ISTIO_MUTUAL),
            ),
        ),
    )


def client_virtual_service(
    service: LinkedService,
    *,
    egress_service_host: str,
    gateway_ref: str,
    export_to: Sequence[str],
) -> VirtualService:
    """Two hops: sidecars send the app port to the egress gateway subset on 15443, and
    the egress gateway sends 15443 on to FQDN:link port. ``tcp`` routes, because the
    mesh TLS is terminated at the gateway and what is left is TCP (istio#24500)."""
    return VirtualService(
        hosts=(service.fqdn,),
        gateways=(gateway_ref, "mesh"),
        export_to=tuple(export_to),
        tcp=(
            TCPRoute(
                match=(L4MatchAttributes(gateways=("mesh",), port=service.app_port),),
                route=(
                    RouteDestination(
                        destination=Destination(
                            host=egress_service_host, subset=service.name, port=EGRESS_PORT
                        )
                    ),
                ),
            ),
            TCPRoute(
                match=(L4MatchAttributes(gateways=(gateway_ref,), port=EGRESS_PORT),),
                route=(
                    RouteDestination(
                        destination=Destination(host=service.fqdn, port=service.link_port)
                    ),
                ),
            ),
        ),
    )


def egress_subsets_rule(
    services: Sequence[LinkedService], *, egress_service_host: str, export_to: Sequence[str]
) -> DestinationRule:
    """One DestinationRule for the egress gateway host with a subset per service: the
    sidecar wraps the app connection in mesh mTLS with SNI = FQDN, which is how the
    egress gateway knows which service it carries. One rule per link rather than one per
    service, because Istio does not reliably merge several rules for the same host. Links
    that share an egress gateway (``shared_egress_gateway``) declare one rule each for its
    host, exported to their own client namespaces, and the gateway refuses two links with
    a client namespace (or a service name, the subset name) in common. So no client
    namespace sees two rules for the host, and nothing depends on how Istio combines them:
    it merges the subsets of rules for one host only where their ``exportTo`` match and
    keeps the others apart (istio/istio ``pilot/pkg/model/destination_rule.go``,
    ``mergeDestinationRule``)."""
    return DestinationRule(
        host=egress_service_host,
        export_to=tuple(export_to),
        subsets=tuple(
            Subset(
                name=service.name,
                traffic_policy=TrafficPolicy(
                    port_level_settings=(
                        PortTrafficPolicy(
                            port=EGRESS_PORT,
                            tls=ClientTLSSettings(
                                mode=ClientTLSMode.ISTIO_MUTUAL, sni=service.fqdn
                            ),
                        ),
                    )
                ),
            )
            for service in services
        ),
    )


def origination_rule(service: LinkedService, *, credential_name: str) -> DestinationRule:
    """The egress gateway originates the link mTLS to FQDN:link port with the link client
    certificate. ``subjectAltNames`` as well as ``sni``: Envoy checks the server's SAN
    only when asked to (istio#35436). Both are the FQDN, except for a partner's endpoint
    (:mod:`meshlink.mesh.partner`), whose server name and certificate the partner
    chooses."""
    return DestinationRule(
        host=service.fqdn,
        export_to=(".",),
        traffic_policy=TrafficPolicy(
            port_level_settings=(
                PortTrafficPolicy(
                    port=service.link_port,
                    tls=ClientTLSSettings(
                        mode=ClientTLSMode.MUTUAL,
                        credential_name=credential_name,
                        sni=service.origination_sni,
                        subject_alt_names=service.expected_server_names,
                    ),
                ),
            )
        ),
    )


# --- server side ---------------------------------------------------------------------


def ingress_gateway(
    service: LinkedService,
    *,
    selector: Mapping[str, str],
    credential_name: str,
    min_tls_version: TLSProtocolVersion,
    allowed_clients: Sequence[str],
    cipher_suites: Sequence[str],
) -> Gateway:
    """The ingress gateway terminates the link mTLS on the link port: its certificate
    from ``credential_name``, and only client certificates from the link CA whose SAN is
    one of ``allowed_clients``."""
    return Gateway(
        selector=dict(selector),
        servers=(
            Server(
                port=ServerPort(
                    number=service.link_port, name=f"tls-{service.name}", protocol=PortProtocol.TLS
                ),
                hosts=(service.fqdn,),
                tls=ServerTLSSettings(
                    mode=ServerTLSMode.MUTUAL,
                    credential_name=credential_name,
                    min_protocol_version=min_tls_version,
                    subject_alt_names=tuple(allowed_clients),
                    cipher_suites=list(cipher_suites),
                ),
            ),
        ),
    )


def server_virtual_service(
    service: LinkedService, *, gateway_ref: str, target_host: str
) -> VirtualService:
    """Sends the link port on to ``target_host`` (the Service, or an external target's
    registry name) at the target's port."""
    return VirtualService(
        hosts=(service.fqdn,),
        gateways=(gateway_ref,),
        export_to=(".",),
        tcp=(
            TCPRoute(
                match=(L4MatchAttributes(port=service.link_port),),
                route=(
                    RouteDestination(
                        destination=Destination(host=target_host, port=service.target.port)
                    ),
                ),
            ),
        ),
    )


def egress_authorization(
    *, selector: Mapping[str, str], client_namespaces: Sequence[str]
) -> AuthorizationPolicy:
    """Only the link's client namespaces may use the egress gateway, by the namespace of
    their mesh identity (``source.namespaces`` comes from the peer's mesh certificate, so
    it needs the sidecar's mTLS, which the egress subsets' ``ISTIO_MUTUAL`` gives), and
    only on 15443. Without it any workload of the client mesh could ride the link: the
    DestinationRule with the right SNI is all it takes, and ``exportTo`` is not a
    security boundary."""
    return AuthorizationPolicy(
        selector=LabelSelector(match_labels=dict(selector)),
        action=AuthorizationAction.ALLOW,
        rules=[
            Rule(
                from_=[RuleFrom(source=Source(namespaces=sorted(set(client_namespaces))))],
                to=[RuleTo(operation=Operation(ports=[EGRESS_PORT]))],
            )
        ],
    )

"""The Istio objects at a link's target, as typed models: what protects a target in the
server mesh (only the ingress gateway may connect, mesh mTLS only) and what reaches a
target outside it (a registry entry and, for a TLS target, the origination rule).

Like :mod:`meshlink.mesh.istio_objects`, the builders are pure and
:mod:`meshlink.mesh.server` declares them. An external target's ServiceEntry and TLS
origination rule are exported to the ingress gateway's namespace only: no other workload
of the server mesh gains a route to the target from them.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshlink.istio import (
    AuthorizationAction,
    AuthorizationPolicy,
    ClientTLSMode,
    ClientTLSSettings,
    DestinationRule,
    LabelSelector,
    Location,
    Operation,
    PeerAuthentication,
    PeerAuthenticationMode,
    PeerMutualTLS,
    PortTrafficPolicy,
    Resolution,
    Rule,
    RuleFrom,
    RuleTo,
    ServiceEntry,
    ServiceEntryEndpoint,
    ServicePort,
    Source,
    TrafficPolicy,
)
from meshlink.istio.common import PortProtocol
from meshlink.mesh.services import LinkedService
from meshlink.mesh.targets import ExternalTarget

TARGET_PORT_NAME = "tcp-target"


def external_target_service_entry(target: ExternalTarget, *, registry_host: str) -> ServiceEntry:
    """Puts an external target into the ingress gateway's registry under
    ``registry_host``, with the real address as its one endpoint. A DNS name is resolved
    by the gateway (``DNS``: "If endpoints are specified, the DNS addresses specified in
    the endpoints will be resolved"), an IP address is used as it is (``STATIC``), per
    https://istio.io/latest/docs/reference/config/networking/service-entry/#ServiceEntry-Resolution.
    The port is TCP even when the target speaks TLS: the gateway originates that TLS
    itself, from the origination rule. An IP target is also its ``addresses`` entry, so a
    sidecar in the gateway's namespace matches it by address and port, not by port alone.
    """
    return ServiceEntry(
        hosts=(registry_host,),
        addresses=(target.address,) if target.is_ip else None,
        ports=(ServicePort(number=target.port, name=TARGET_PORT_NAME, protocol=PortProtocol.TCP),),
        location=Location.MESH_EXTERNAL,
        resolution=Resolution.STATIC if target.is_ip else Resolution.DNS,
        endpoints=(ServiceEntryEndpoint(address=target.address),),
        export_to=(".",),
    )


def target_origination_rule(
    target: ExternalTarget, *, registry_host: str, ca_credential_name: str
) -> DestinationRule:
    """The ingress gateway originates TLS (``SIMPLE``) to an external target that speaks
    TLS, verifying its certificate against the CA in ``ca_credential_name`` and its
    names against ``subjectAltNames``. ``credentialName`` rather than ``caCertificates``
    (a file path inside the proxy): at a gateway it names a Secret in the gateway's
    namespace whose ``cacert`` key verifies the server
    (https://istio.io/latest/docs/reference/config/networking/destination-rule/#ClientTLSSettings,
    ``credentialName``). For ``SIMPLE`` the gateway asks for ``<credentialName>-cacert``
    only, which Istio serves from the Secret ``<credentialName>`` when no Secret of the
    suffixed name exists (``GetCaCert`` and ``ExtractRoot`` in istio/istio
    ``pilot/pkg/credentials/kube/secrets.go``)."""
    assert target.tls is not None
    return DestinationRule(
        host=registry_host,
        export_to=(".",),
        traffic_policy=TrafficPolicy(
            port_level_settings=(
                PortTrafficPolicy(
                    port=target.port,
                    tls=ClientTLSSettings(
                        mode=ClientTLSMode.SIMPLE,
                        credential_name=ca_credential_name,
                        sni=target.sni,
                        subject_alt_names=tuple(target.subject_alt_names),
                    ),
                ),
            )
        ),
    )


def mesh_principal(trust_domain: str, namespace: str, service_account: str) -> str:
    """An Istio principal: the SPIFFE identity of a service account, without
    ``spiffe://`` (https://istio.io/latest/docs/reference/config/security/authorization-policy/,
    ``Source.principals``)."""
    return f"{trust_domain}/ns/{namespace}/sa/{service_account}"


def target_authorization(
    service: LinkedService, *, principals: Sequence[str]
) -> AuthorizationPolicy:
    """Only the ingress gateway may open connections to the target workload, and only on
    the target port. An ALLOW policy that selects a workload denies whatever it does not
    match (https://istio.io/latest/docs/reference/config/security/authorization-policy/),
    so every other pod of the server cluster is refused, on every port of the target."""
    assert service.target_labels is not None
    return AuthorizationPolicy(
        selector=LabelSelector(match_labels=dict(service.target_labels)),
        action=AuthorizationAction.ALLOW,
        rules=[
            Rule(
                from_=[RuleFrom(source=Source(principals=list(principals)))],
                to=[RuleTo(operation=Operation(ports=[service.target_workload_port]))],
            )
        ],
    )


def target_peer_authentication(service: LinkedService) -> PeerAuthentication:
    """The target workload accepts mesh mTLS only. Without it the mesh default
    (PERMISSIVE) also accepts plain text, which carries no identity for the
    AuthorizationPolicy to check. Selected by the target's labels, never namespace-wide."""
    assert service.target_labels is not None
    return PeerAuthentication(
        selector=LabelSelector(match_labels=dict(service.target_labels)),
        mtls=PeerMutualTLS(mode=PeerAuthenticationMode.STRICT),
    )

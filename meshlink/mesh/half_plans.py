"""What each half of a link declares, decided from its validated settings without
declaring anything: names, namespaces, export targets and which optional objects exist.

:class:`~meshlink.mesh.client.LinkClient` and :class:`~meshlink.mesh.server.LinkServer`
validate their arguments, call :func:`plan_link_client` or :func:`plan_link_server`, and
declare exactly the plan, so every decision here is testable without the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from meshlink.istio import TLSProtocolVersion
from meshlink.mesh import istio_objects as objects
from meshlink.mesh.client_settings import LinkClientSettings
from meshlink.mesh.gateway_settings import (
    EgressGatewaySettings,
    StandaloneExistingIngressGatewaySettings,
    StandaloneIngressGatewaySettings,
)
from meshlink.mesh.naming import LinkNames
from meshlink.mesh.server_settings import LinkServerSettings
from meshlink.mesh.services import LinkedService
from meshlink.mesh.targets import ExternalTarget
from meshlink.pki import LeafCertificateArgs


def egress_namespace_problems(
    egress_namespace: str | None, client_namespaces: Sequence[str], *, setting: str
) -> list[str]:
    """The egress gateway's namespace is no client namespace: the link-port ServiceEntry
    is exported to the gateway's namespace only and the NetworkPolicy confines the
    client namespaces, so a workload there would bypass both."""
    if egress_namespace is None or egress_namespace not in client_namespaces:
        return []
    return [
        f"{setting}: {egress_namespace!r} is the egress gateway's namespace; client "
        "workloads need a namespace of their own, which the link-port ServiceEntry is not "
        "exported to and the NetworkPolicy confines"
    ]


# --- client side ---------------------------------------------------------------------


@dataclass(frozen=True)
class ClientServicePlan:
    """The ``metadata.name`` of each per-service object of the client side."""

    service: LinkedService
    service_entry: str
    link_service_entry: str
    egress_gateway: str
    virtual_service: str
    origination: str


@dataclass(frozen=True)
class LinkClientPlan:
    """The client half's objects. Every Istio object goes into ``egress_namespace``."""

    egress_gateway: EgressGatewaySettings | None
    """The settings of the link's own gateway with its namespace and name resolved; None
    when the link uses a shared gateway, which is declared elsewhere."""
    egress_namespace: str
    credential_name: str
    leaf: LeafCertificateArgs | None
    """The client certificate issued here; None when it was issued elsewhere."""
    client_san: str | None
    client_namespaces: tuple[str, ...]
    export_to: tuple[str, ...]
    """Where the egress-side objects are visible: ``.`` and the client namespaces."""
    app_export_to: tuple[str, ...]
    """Where the app-port ServiceEntries are visible: the client namespaces only."""
    egress_subsets: str
    egress_authorization: str
    services: tuple[ClientServicePlan, ...]
    network_policy_name: str
    network_policy_namespaces: tuple[str, ...]
    """The client namespaces that get the egress NetworkPolicy; empty when disabled."""


def _client_leaf(settings: LinkClientSettings) -> LeafCertificateArgs | None:
    identity = settings.client_identity
    if settings.credential is not None or identity is None:
        return None
    leaf: LeafCertificateArgs = {"issuer": settings.issuer, "role": "client"}
    if identity.dns_name is not None:
        leaf["dns_names"] = [identity.dns_name]
    else:
        leaf["uris"] = [identity.san]
    return leaf


def plan_link_client(settings: LinkClientSettings, names: LinkNames) -> LinkClientPlan:
    """The client half of ``settings`` whose objects are named by ``names``."""
    gateway: EgressGatewaySettings | None = None
    if settings.shared_egress_gateway is not None:
        namespace = settings.shared_egress_gateway.namespace
    else:
        own = settings.egress_gateway or EgressGatewaySettings()
        gateway = own.model_copy(
            update={
                "namespace": own.namespace or names.egress_gateway_default(),
                "name": own.name or names.egress_gateway_default(),
            }
        )
        namespace = gateway.namespace
    assert namespace is not None
    identity = settings.client_identity
    return LinkClientPlan(
        egress_gateway=gateway,
        egress_namespace=namespace,
        credential_name=names.client_credential(),
        leaf=_client_leaf(settings),
        client_san=identity.san if identity is not None else None,
        client_namespaces=tuple(settings.namespaces),
        export_to=objects.export_targets(namespace, settings.namespaces),
        app_export_to=objects.client_export_targets(settings.namespaces),
        egress_subsets=names.egress_subsets(),
        egress_authorization=names.egress_authorization(),
        services=tuple(
            ClientServicePlan(
                service=service,
                service_entry=names.service_entry(service.name),
                link_service_entry=names.link_service_entry(service.name),
                egress_gateway=names.egress_gateway(service.name),
                virtual_service=names.client_virtual_service(service.name),
                origination=names.origination(service.name),
            )
            for service in settings.services
        ),
        network_policy_name=names.network_policy(),
        network_policy_namespaces=(
            tuple(settings.namespaces) if settings.network_policy.enabled else ()
        ),
    )


# --- server side ---------------------------------------------------------------------


@dataclass(frozen=True)
class TargetPoliciesPlan:
    """The policies in a target's namespace that admit only the ingress gateway."""

    namespace: str
    authorization: str
    peer_authentication: str


@dataclass(frozen=True)
class ExternalTargetPlan:
    """What routes the ingress gateway to a target outside the server mesh; every object
    goes into the ingress gateway's namespace."""

    target: ExternalTarget
    registry_host: str
    """The ServiceEntry host the route names; the endpoint holds the real address."""
    service_entry: str
    origination: str | None
    """The DestinationRule that originates TLS; None when the target does not speak TLS."""
    ca_secret: str | None
    """The Secret with the CA that verifies the target (the rule's ``credentialName``)."""


@dataclass(frozen=True)
class ServerServicePlan:
    """The objects of one service on the server side."""

    service: LinkedService
    leaf: LeafCertificateArgs | None
    """The service's own certificate, issued here; None when the credential given
    serves every service."""
    credential_name: str
    gateway: str
    admitted_clients: tuple[str, ...]
    """The client SANs this service's Gateway admits."""
    virtual_service: str
    target_policies: TargetPoliciesPlan | None
    """None when the service turns ``target_policies`` off."""
    external_target: ExternalTargetPlan | None
    """None when the target is a Kubernetes Service of the server mesh."""

    @property
    def route_host(self) -> str:
        """The host the server VirtualService sends the link port to."""
        if self.external_target is not None:
            return self.external_target.registry_host
        assert self.service.target_host is not None
        return self.service.target_host


@dataclass(frozen=True)
class LinkServerPlan:
    """The server half's objects. Gateways, VirtualServices and Secrets go into
    ``ingress_namespace``; target policies into each target's namespace."""

    ingress_gateway: StandaloneIngressGatewaySettings | StandaloneExistingIngressGatewaySettings
    """A gateway to deploy, or an existing one to add the link ports to."""
    ingress_namespace: str
    ingress_service_kind: Literal["Service", "ServicePatch"]
    """What exposes the link ports: the deployed gateway's Service, or a patch of the
    existing gateway's."""
    min_tls_version: TLSProtocolVersion
    services: tuple[ServerServicePlan, ...]

    @property
    def deploys_gateway(self) -> bool:
        return isinstance(self.ingress_gateway, StandaloneIngressGatewaySettings)


def _ingress_gateway(
    settings: LinkServerSettings, names: LinkNames
) -> StandaloneIngressGatewaySettings | StandaloneExistingIngressGatewaySettings:
    link_ports = [s.link_port for s in settings.services]
    if settings.ingress_gateway is not None:
        deployed = settings.ingress_gateway
        return StandaloneIngressGatewaySettings.model_validate(
            {
                **dict(deployed),
                "namespace": deployed.namespace or names.ingress_gateway_default(),
                "name": deployed.name or names.ingress_gateway_default(),
                "link_ports": link_ports,
            }
        )
    existing = settings.existing_ingress_gateway
    assert existing is not None
    return StandaloneExistingIngressGatewaySettings.model_validate(
        {
            **dict(existing),
            "field_manager": existing.field_manager or f"meshlink-{names.prefix}",
            "link_ports": link_ports,
        }
    )


def _server_service(
    settings: LinkServerSettings, names: LinkNames, service: LinkedService
) -> ServerServicePlan:
    leaf: LeafCertificateArgs | None = None
    if settings.credential is None:
        leaf = {"issuer": settings.issuer, "role": "server", "dns_names": [service.fqdn]}
    target_namespace = service.target_workload_namespace
    policies = None
    if service.target_policies:
        assert target_namespace is not None
        policies = TargetPoliciesPlan(
            namespace=target_namespace,
            authorization=names.target_authorization(service.name),
            peer_authentication=names.target_peer_authentication(service.name),
        )
    return ServerServicePlan(
        service=service,
        leaf=leaf,
        credential_name=names.server_credential(service.name),
        gateway=names.ingress_gateway(service.name),
        admitted_clients=tuple(settings.admitted_identities(service.name)),
        virtual_service=names.server_virtual_service(service.name),
        target_policies=policies,
        external_target=_external_target(names, service),
    )


def _external_target(names: LinkNames, service: LinkedService) -> ExternalTargetPlan | None:
    target = service.target_external
    if target is None:
        return None
    speaks_tls = target.tls is not None
    return ExternalTargetPlan(
        target=target,
        registry_host=names.external_target_host(service.name),
        service_entry=names.target_service_entry(service.name),
        origination=names.target_origination(service.name) if speaks_tls else None,
        ca_secret=names.target_ca(service.name) if speaks_tls else None,
    )


def plan_link_server(settings: LinkServerSettings, names: LinkNames) -> LinkServerPlan:
    """The server half of ``settings`` whose objects are named by ``names``."""
    gateway = _ingress_gateway(settings, names)
    namespace = gateway.namespace
    assert namespace is not None
    return LinkServerPlan(
        ingress_gateway=gateway,
        ingress_namespace=namespace,
        ingress_service_kind=(
            "Service" if isinstance(gateway, StandaloneIngressGatewaySettings) else "ServicePatch"
        ),
        min_tls_version=TLSProtocolVersion(settings.min_tls_version),
        services=tuple(_server_service(settings, names, s) for s in settings.services),
    )

"""The server side of a link: everything that goes into the server cluster.

Per cluster: the readiness gate and the ingress gateway (deployed here, or an existing
one that gets the link ports added). Per service: a server certificate and its Secret,
a ``Gateway`` that terminates the link mTLS on the link port, a VirtualService that
sends the connection on to the target service, and, in the target's namespace, an
``AuthorizationPolicy`` that admits only the ingress gateway's mesh identity on the
target port and a STRICT ``PeerAuthentication`` for the target's pods (unless the
service turns ``target_policies`` off).

Server certificates are issued one per service, not one for all FQDNs: adding or
removing a service then touches no other service's key, a leaked key impersonates one
service only, and a certificate does not list every other service linked through the
same gateway.

Or the server certificate was issued elsewhere (``credential``, the split-ownership
layout): then the one certificate, whose SANs list every FQDN, serves every service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Required, TypedDict

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshlink.argdocs import documents
from meshlink.mesh import istio_objects as objects
from meshlink.mesh.ciphers import DEFAULT_CIPHER_SUITES, CipherSuites
from meshlink.mesh.gateway_settings import (
    ExistingIngressGatewaySettings,
    ExistingIngressGatewaySettingsArgs,
    IngressGatewaySettings,
    IngressGatewaySettingsArgs,
    StandaloneIngressGatewaySettings,
)
from meshlink.mesh.gateways import ExistingIngressGateway, IngressGateway
from meshlink.mesh.half import (
    IssuedCredential,
    LinkCredential,
    LinkCredentialArgs,
    LinkHalf,
    LinkOptions,
    LinkOptionsArgs,
    check_one_source,
    peer_trust_bundle,
)
from meshlink.mesh.half_plans import LinkServerPlan, ServerServicePlan, plan_link_server
from meshlink.mesh.identity import check_identity
from meshlink.mesh.readiness import IstioReadinessArgs, IstioReadinessSettings
from meshlink.mesh.services import LinkedService, LinkedServiceArgs, check_target_policies
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.pki import LeafCertificate, LinkIssuer
from meshlink.pki.issuer import check_issuer
from meshlink.validation import (
    MeshlinkValidationError,
    TrustDomain,
    validate_args,
)

SERVER_KINDS = ("Gateway", "VirtualService", "AuthorizationPolicy", "PeerAuthentication")

DEFAULT_TRUST_DOMAINS = ("cluster.local",)


ONE_INGRESS_GATEWAY_PROBLEM = (
    "give exactly one of ingress_gateway (meshlink deploys the gateway) or "
    "existing_ingress_gateway (meshlink adds the link ports to yours)"
)
EXISTING_GATEWAY_ACCOUNT_PROBLEM = (
    "existing_ingress_gateway.service_account: required while a service has "
    "target_policies on: the targets' AuthorizationPolicies admit the ingress gateway by "
    "its service account"
)


class ServerClusterArgs(TypedDict, total=False):
    """The server cluster's settings: the same in ``LinkServer`` and in ``MeshLink``'s
    ``server``. Give ``ingress_gateway`` (meshlink deploys one) or
    ``existing_ingress_gateway`` (meshlink adds its ports to it)."""

    ingress_gateway: IngressGatewaySettingsArgs
    """Deploy an ingress gateway (namespace and name default to ``<prefix>-ingress``)."""
    existing_ingress_gateway: ExistingIngressGatewaySettingsArgs
    """Or reuse one, adding the link ports to its Service."""
    readiness: IstioReadinessArgs
    """How the readiness gate reaches the server cluster (give its kubeconfig)."""
    cluster_name: str
    """Named in messages (default ``server``)."""
    trust_domains: Sequence[str]
    """The server mesh's trust domain(s), for the ingress gateway's principal in the
    targets' AuthorizationPolicies (``<trust domain>/ns/<namespace>/sa/<account>``).
    Default ``[cluster.local]``, Istio's default; managed Cloud Service Mesh uses the
    fleet's workload identity pool, ``<fleet project>.svc.id.goog``."""


class ServerClusterSettings(BaseModel):
    """Validates :class:`ServerClusterArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    ingress_gateway: IngressGatewaySettings | None = None
    existing_ingress_gateway: ExistingIngressGatewaySettings | None = None
    readiness: IstioReadinessSettings = Field(default_factory=IstioReadinessSettings)
    cluster_name: str = Field(default="server", min_length=1)
    trust_domains: list[TrustDomain] = Field(
        default_factory=lambda: list(DEFAULT_TRUST_DOMAINS), min_length=1
    )

    @model_validator(mode="after")
    def _one_gateway(self) -> ServerClusterSettings:
        if (self.ingress_gateway is None) == (self.existing_ingress_gateway is None):
            raise ValueError(ONE_INGRESS_GATEWAY_PROBLEM)
        return self


class ServerTlsArgs(TypedDict, total=False):
    """What the ingress Gateway accepts from clients."""

    min_tls_version: Literal["TLSV1_2", "TLSV1_3"]
    """Lowest TLS version between the clusters (default TLSV1_2)."""
    cipher_suites: Sequence[str]
    """TLS 1.2 cipher suites the ingress Gateway accepts: ECDHE with AES-GCM or
    ChaCha20-Poly1305 only (default: all six). TLS 1.3 suites are not configurable."""


class ServerTls(BaseModel):
    """Validates :class:`ServerTlsArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    min_tls_version: Literal["TLSV1_2", "TLSV1_3"] = "TLSV1_2"
    cipher_suites: CipherSuites = Field(default_factory=lambda: list(DEFAULT_CIPHER_SUITES))


class LinkServerArgs(ServerClusterArgs, ServerTlsArgs, LinkOptionsArgs, total=False):
    """The server cluster's half of a link. Pass the cluster's ``kubernetes.Provider``
    through ``opts``. Give ``issuer`` or ``credential``."""

    services: Required[Sequence[LinkedServiceArgs]]
    issuer: LinkIssuer
    """The link CA that issues the server certificates (one per service)."""
    credential: LinkCredentialArgs
    """Instead of ``issuer``: a server certificate issued elsewhere (EKU ``serverAuth``,
    a DNS SAN for every service's FQDN), used for every service."""
    allowed_client_identities: Required[Sequence[str]]
    """Client certificate SANs (DNS names or URIs) the ingress Gateway admits."""
    client_trust_bundle_pem: pulumi.Input[str]
    """What verifies client certificates (``ca.crt`` of the server Secrets). Defaults to
    the issuer's trust bundle; required with ``credential``."""


class LinkServerSettings(ServerClusterSettings, ServerTls, LinkOptions):
    """Validates :class:`LinkServerArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    services: list[LinkedService] = Field(min_length=1)
    issuer: Any = None
    credential: LinkCredential | None = None
    allowed_client_identities: list[str] = Field(min_length=1)
    client_trust_bundle_pem: Any = None

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: Any) -> Any:
        return None if value is None else check_issuer(value)

    @field_validator("allowed_client_identities")
    @classmethod
    def _identities(cls, value: list[str]) -> list[str]:
        for identity in value:
            check_identity(identity)
        if len(set(value)) != len(value):
            raise ValueError("lists an identity twice")
        return value

    @model_validator(mode="after")
    def _certificate_source(self) -> LinkServerSettings:
        check_one_source(
            self.issuer,
            self.credential,
            trust_bundle=self.client_trust_bundle_pem,
            trust_setting="client_trust_bundle_pem",
        )
        if self.credential is not None and self.rotation is not None:
            raise ValueError(
                "rotation cannot be set with credential: rotate the certificate where it is issued"
            )
        if self.credential is not None and "leaf_lifetime" in self.model_fields_set:
            raise ValueError(
                "leaf_lifetime cannot be set with credential: the certificate's lifetime is "
                "chosen where it is issued"
            )
        if (
            self.existing_ingress_gateway is not None
            and self.existing_ingress_gateway.service_account is None
            and any(s.target_policies for s in self.services)
        ):
            raise ValueError(EXISTING_GATEWAY_ACCOUNT_PROBLEM)
        return self


@documents(LinkServerArgs)
class LinkServer(LinkHalf):
    """Everything a link needs in the server cluster."""

    ingress_namespace: Registered[str]
    """The ingress gateway's namespace."""
    ingress_address: Registered[pulumi.Output[str | None]]
    """The ingress gateway's load balancer address: the static address when one was
    given, else what the load balancer reports once provisioned."""

    def __init__(
        self,
        name: str,
        args: LinkServerArgs | LinkServerSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        where = f"LinkServer {name!r}"
        settings = validate_args(LinkServerSettings, args, where=where, show_input=False)
        problems = check_target_policies(settings.services)
        if problems:
            raise MeshlinkValidationError(where, problems)
        super().__init__(
            "meshlink:index:LinkServer",
            name,
            settings,
            where=where,
            istio_kinds=SERVER_KINDS,
            opts=opts,
        )
        plan = plan_link_server(settings, self.names)
        namespace_dependency = self._declare_ingress_gateway(name, plan)
        self.certificates: dict[str, LeafCertificate] = {}
        """The server certificates issued here, per service (empty with ``credential``)."""
        self.credential: IssuedCredential | None = (
            settings.credential.issued() if settings.credential is not None else None
        )
        trust = peer_trust_bundle(settings.client_trust_bundle_pem, settings.issuer)
        istio_opts = pulumi.ResourceOptions(
            parent=self, depends_on=[self.gate, *namespace_dependency]
        )
        for service in plan.services:
            certificate = self._server_certificate(name, settings, service)
            self._credential_secret(
                f"{name}-{service.service.name}-server-credential",
                secret_name=service.credential_name,
                namespace=plan.ingress_namespace,
                certificate=certificate,
                peer_trust_bundle_pem=trust,
                depends_on=namespace_dependency,
            )
            self._declare_ingress_routing(name, settings, plan, service, istio_opts)
        self._declare_target_policies(name, settings.trust_domains, plan)

        self.ingress_namespace = plan.ingress_namespace
        self.ingress_address = self.ingress.address
        self.fqdns = [s.fqdn for s in settings.services]
        register_declared_outputs(self)

    def _declare_ingress_gateway(self, name: str, plan: LinkServerPlan) -> list[pulumi.Resource]:
        """The ingress gateway, deployed or patched; returns its namespace when declared
        here, which everything in that namespace waits for."""
        self.ingress: IngressGateway | ExistingIngressGateway
        gateway = plan.ingress_gateway
        namespace_dependency: list[pulumi.Resource] = []
        if isinstance(gateway, StandaloneIngressGatewaySettings):
            self.ingress = IngressGateway(
                f"{name}-ingress", gateway, opts=pulumi.ResourceOptions(parent=self)
            )
            if self.ingress.workload.namespace_resource is not None:
                namespace_dependency.append(self.ingress.workload.namespace_resource)
        else:
            self.ingress = ExistingIngressGateway(
                f"{name}-ingress", gateway, opts=pulumi.ResourceOptions(parent=self)
            )
        self._record(
            plan.ingress_service_kind, plan.ingress_namespace, self.ingress.ref.service_name
        )
        return namespace_dependency

    def _server_certificate(
        self, name: str, settings: LinkServerSettings, service: ServerServicePlan
    ) -> LeafCertificate | IssuedCredential:
        """The service's own certificate issued here, or the credential every service shares."""
        if service.leaf is None:
            assert self.credential is not None
            return self.credential
        certificate = self._issue_leaf(
            f"{name}-{service.service.name}-server-cert",
            service.leaf,
            settings.rotation,
            settings.leaf_lifetime,
        )
        self.certificates[service.service.name] = certificate
        return certificate

    def _declare_ingress_routing(
        self,
        name: str,
        settings: LinkServerSettings,
        plan: LinkServerPlan,
        service: ServerServicePlan,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """The Gateway that terminates the link mTLS and the VirtualService behind it."""
        namespace = plan.ingress_namespace
        self._declare(
            f"{name}-{service.service.name}-ingress-gateway",
            objects.ingress_gateway(
                service.service,
                selector=self.ingress.ref.labels,
                credential_name=service.credential_name,
                min_tls_version=plan.min_tls_version,
                allowed_clients=settings.allowed_client_identities,
                cipher_suites=settings.cipher_suites,
            ),
            metadata_name=service.gateway,
            namespace=namespace,
            opts=opts,
        )
        self._declare(
            f"{name}-{service.service.name}-virtual-service",
            objects.server_virtual_service(
                service.service, gateway_ref=objects.gateway_reference(namespace, service.gateway)
            ),
            metadata_name=service.virtual_service,
            namespace=namespace,
            opts=opts,
        )

    def _declare_target_policies(
        self, name: str, trust_domains: Sequence[str], plan: LinkServerPlan
    ) -> None:
        """In each target's namespace: admit only the ingress gateway's mesh identity, and
        require mesh mTLS of the target's pods."""
        ingress = self.ingress.ref
        assert ingress.service_account is not None or not any(
            s.target_policies for s in plan.services
        )
        principals = [
            objects.mesh_principal(domain, plan.ingress_namespace, ingress.service_account or "")
            for domain in trust_domains
        ]
        opts = pulumi.ResourceOptions(parent=self, depends_on=[self.gate])
        for service in plan.services:
            policies = service.target_policies
            if policies is None:
                continue
            self._declare(
                f"{name}-{service.service.name}-target-authorization",
                objects.target_authorization(service.service, principals=principals),
                metadata_name=policies.authorization,
                namespace=policies.namespace,
                opts=opts,
            )
            self._declare(
                f"{name}-{service.service.name}-target-mtls",
                objects.target_peer_authentication(service.service),
                metadata_name=policies.peer_authentication,
                namespace=policies.namespace,
                opts=opts,
            )

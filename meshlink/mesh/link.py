"""``MeshLink``: the component an organisation imports to link services across clusters.

It takes one ``kubernetes.Provider`` per cluster, the link CA (or the arguments to
make one), and the services, and declares both halves: :class:`LinkClient` through
the client provider and :class:`LinkServer` through the server provider. Every
argument is checked before anything is registered, so a mistake fails the preview with
one message that names the setting, and nothing is half-declared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Required, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from meshlink.argdocs import documents
from meshlink.istio import IstioApiVersion
from meshlink.mesh.ciphers import DEFAULT_CIPHER_SUITES, CipherSuites
from meshlink.mesh.client import LinkClient, LinkClientSettings
from meshlink.mesh.gateway_settings import (
    EgressGatewayArgs,
    EgressGatewaySettings,
    ExistingIngressGatewaySettings,
    ExistingIngressGatewaySettingsArgs,
    IngressGatewaySettings,
    IngressGatewaySettingsArgs,
)
from meshlink.mesh.hardening import ClientNetworkPolicy, ClientNetworkPolicyArgs
from meshlink.mesh.identity import ClientIdentity, ClientIdentityArgs, check_identity
from meshlink.mesh.naming import LinkNames, check_names
from meshlink.mesh.readiness import IstioReadinessArgs, IstioReadinessSettings
from meshlink.mesh.server import (
    DEFAULT_TRUST_DOMAINS,
    EXISTING_GATEWAY_ACCOUNT_PROBLEM,
    ONE_INGRESS_GATEWAY_PROBLEM,
    LinkServer,
    LinkServerSettings,
)
from meshlink.mesh.services import (
    LinkedService,
    LinkedServiceArgs,
    check_services,
    check_target_policies,
)
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.pki import (
    CertificateAuthority,
    CertificateAuthorityArgs,
    LeafLifetimeArgs,
    LinkIssuer,
    Rotation,
)
from meshlink.pki.authority import CertificateAuthorityModel
from meshlink.pki.leaf import LeafLifetime, leaf_outlives_issuer
from meshlink.validation import (
    KubernetesLabel,
    MeshlinkValidationError,
    TrustDomain,
    WorkloadNamespace,
    check_dns1123_label,
    describe_validation_error,
    validate_args,
)

TYPE = "meshlink:index:MeshLink"


class MeshLinkClientArgs(TypedDict, total=False):
    """The client cluster: where the workloads that connect live."""

    provider: Required[k8s.Provider]
    """The client cluster's provider; every client-side object is declared through it."""
    namespaces: Required[Sequence[str]]
    """The client workloads' namespaces (they need sidecar injection)."""
    egress_gateway: EgressGatewayArgs
    """Egress gateway settings; namespace and name default to ``<prefix>-egress``."""
    network_policy: ClientNetworkPolicyArgs
    """The egress lock-down of the client namespaces: off unless ``enabled: true``, since
    it blocks every other outbound connection of the pods it selects."""
    readiness: IstioReadinessArgs
    """How the readiness gate reaches the client cluster (give its kubeconfig)."""
    cluster_name: str
    """Named in messages (default ``client``)."""


class MeshLinkServerArgs(TypedDict, total=False):
    """The server cluster: where the linked services run."""

    provider: Required[k8s.Provider]
    """The server cluster's provider; every server-side object is declared through it."""
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
    targets' AuthorizationPolicies. Default ``[cluster.local]``; managed Cloud Service
    Mesh: ``<fleet project>.svc.id.goog``."""


class MeshLinkArgs(TypedDict, total=False):
    """A mutual-TLS link from workloads in one cluster to services in another."""

    services: Required[Sequence[LinkedServiceArgs]]
    """The services to link, one or many."""
    client: Required[MeshLinkClientArgs]
    server: Required[MeshLinkServerArgs]
    link_ca: Required[LinkIssuer | CertificateAuthorityArgs]
    """A link CA (``CertificateAuthority``, ``ExistingCertificateAuthority`` or an
    externally signed one), or the arguments of a ``CertificateAuthority`` to create
    under this link. Not the mesh CA."""
    client_identity: Required[ClientIdentityArgs]
    """The client certificate's SAN, which the server admits."""
    additional_client_identities: Sequence[str]
    """More SANs the server admits, e.g. a second client cluster or the next identity
    during a change of identity."""
    min_tls_version: Literal["TLSV1_2", "TLSV1_3"]
    """Lowest TLS version between the clusters (default TLSV1_2)."""
    cipher_suites: Sequence[str]
    """TLS 1.2 cipher suites the ingress Gateway accepts: ECDHE with AES-GCM or
    ChaCha20-Poly1305 only (default: all six)."""
    rotation: Rotation
    """Change it (a date works well) to replace every leaf certificate of the link."""
    leaf_lifetime: LeafLifetimeArgs
    """How long the link's server and client certificates live: ``validity_hours``
    (default 2160, 90 days; at most 397 days unless ``allow_long_validity``; never longer
    than the link CA's signing certificate) and ``early_renewal_hours`` (default 720)."""
    istio_api_version: Literal["v1", "v1beta1"]
    """``v1`` (default, Istio 1.22+) or ``v1beta1`` for older meshes."""
    object_prefix: str
    """Prefix of every ``metadata.name`` (a DNS label); defaults to the component name."""


def _check_client_identity(
    san: str, services: Sequence[LinkedService], server_trust_domains: Sequence[str]
) -> list[str]:
    """The client certificate must not name the server: a client SAN equal to a linked
    FQDN would be a server certificate's name, and a SPIFFE URI of the server mesh is a
    workload identity the server's own sidecars present, which its policies trust."""
    problems = []
    fqdns = {s.fqdn for s in services}
    if san in fqdns:
        problems.append(
            f"client_identity: {san!r} is a linked service's FQDN, the server certificate's "
            "name; give the client an identity of its own"
        )
    if san.startswith("spiffe://"):
        domain = san.removeprefix("spiffe://").split("/", 1)[0]
        if domain in server_trust_domains:
            problems.append(
                f"client_identity: {san!r} is in the server mesh's trust domain {domain!r}, "
                "an identity the server's own workloads hold; use a trust domain of the link"
            )
    return problems


class ClientClusterSettings(BaseModel):
    """Validates :class:`MeshLinkClientArgs`, reusing the models of its parts, so a problem
    is named by the path the caller wrote (``client.egress_gateway.replicas``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    provider: Any
    namespaces: list[WorkloadNamespace] = Field(min_length=1)
    egress_gateway: EgressGatewaySettings = Field(default_factory=EgressGatewaySettings)
    network_policy: ClientNetworkPolicy = Field(default_factory=ClientNetworkPolicy)
    readiness: IstioReadinessSettings = Field(default_factory=IstioReadinessSettings)
    cluster_name: str = Field(default="client", min_length=1)

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: Any) -> Any:
        return _check_provider(value)


class ServerClusterSettings(BaseModel):
    """Validates :class:`MeshLinkServerArgs`, reusing the models of its parts."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    provider: Any
    ingress_gateway: IngressGatewaySettings | None = None
    existing_ingress_gateway: ExistingIngressGatewaySettings | None = None
    readiness: IstioReadinessSettings = Field(default_factory=IstioReadinessSettings)
    cluster_name: str = Field(default="server", min_length=1)
    trust_domains: list[TrustDomain] = Field(
        default_factory=lambda: list(DEFAULT_TRUST_DOMAINS), min_length=1
    )

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: Any) -> Any:
        return _check_provider(value)

    @model_validator(mode="after")
    def _one_gateway(self) -> ServerClusterSettings:
        if (self.ingress_gateway is None) == (self.existing_ingress_gateway is None):
            raise ValueError(ONE_INGRESS_GATEWAY_PROBLEM)
        return self


class MeshLinkSettings(BaseModel):
    """Validates :class:`MeshLinkArgs`: every part with its own model, all problems at once.
    The rules across parts run in :class:`MeshLink` once the parts are valid."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    services: list[LinkedService] = Field(min_length=1)
    client: ClientClusterSettings
    server: ServerClusterSettings
    link_ca: Any
    client_identity: ClientIdentity
    additional_client_identities: list[str] = Field(default_factory=list)
    min_tls_version: Literal["TLSV1_2", "TLSV1_3"] = "TLSV1_2"
    cipher_suites: CipherSuites = Field(default_factory=lambda: list(DEFAULT_CIPHER_SUITES))
    rotation: Rotation | None = None
    leaf_lifetime: LeafLifetime = Field(default_factory=LeafLifetime)
    istio_api_version: IstioApiVersion = IstioApiVersion.V1
    object_prefix: KubernetesLabel | None = None

    @field_validator("additional_client_identities")
    @classmethod
    def _identities(cls, value: list[str]) -> list[str]:
        for identity in value:
            check_identity(identity)
        return value


def _check_provider(value: Any) -> Any:
    if not isinstance(value, k8s.Provider):
        raise ValueError(
            f"expected a kubernetes.Provider, got {type(value).__name__}; pass "
            "pulumi_kubernetes.Provider(name, kubeconfig=...) for the cluster (a kubeconfig "
            "or a cluster name is not a provider)"
        )
    return value


def _default_prefix(name: str, problems: list[str]) -> str:
    try:
        return check_dns1123_label(name)
    except ValueError as error:
        problems.append(f"object_prefix: derived from the component name, but {error}; set it")
        return ""


@documents(MeshLinkArgs)
class MeshLink(pulumi.ComponentResource):
    """Links ``services`` in the server cluster to workloads in the client cluster."""

    ingress_address: Registered[pulumi.Output[str | None]]
    """Where the FQDNs must resolve in the client's network."""
    fqdns: Registered[list[str]]
    """The linked services' FQDNs."""
    ca_certificate_pem: Registered[pulumi.Output[str]]
    """The link root certificate (public)."""
    trust_bundle_pem: Registered[pulumi.Output[str]]
    """What both gateways trust: the link root, plus previous roots during a rotation."""
    objects: Registered[dict[str, dict[str, list[str]]]]
    """Per cluster, per kind, the ``namespace/name`` of every Kubernetes object declared."""

    def __init__(
        self, name: str, args: MeshLinkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        where = f"MeshLink {name!r}"
        # Inputs are never echoed: a part may hold a kubeconfig.
        model = validate_args(MeshLinkSettings, args, where=where, show_input=False)
        problems: list[str] = []
        prefix = model.object_prefix or _default_prefix(name, problems)
        lifetime = model.leaf_lifetime
        identity = model.client_identity
        services = model.services
        issuer: LinkIssuer | None = None
        ca_args: dict[str, Any] | None = None
        if isinstance(model.link_ca, pulumi.Output):
            # Checked first: an Output answers every attribute lookup, so it would pass
            # for a LinkIssuer.
            problems.append(
                "link_ca: got an Output, whose value is not known while the program runs; "
                "pass the CA component itself (CertificateAuthority, "
                "ExistingCertificateAuthority, ExternallySignedCertificateAuthority; e.g. "
                "the one declare_link_ca returns) or a dict of CertificateAuthority arguments"
            )
        elif isinstance(model.link_ca, LinkIssuer):
            issuer = model.link_ca
            if issuer.not_ready_reason:
                problems.append(f"link_ca: {issuer.not_ready_reason}")
            outlives = leaf_outlives_issuer(
                issuer, lifetime.validity_hours, "leaf_lifetime.validity_hours"
            )
            if outlives:
                problems.append(outlives)
        elif isinstance(model.link_ca, Mapping):
            try:
                ca_model = CertificateAuthorityModel.model_validate(dict(model.link_ca))
            except ValidationError as error:
                problems += describe_validation_error(error, prefix="link_ca.", show_input=False)
            else:
                short = ca_model.leaves_problem(
                    lifetime.validity_hours, "leaf_lifetime.validity_hours"
                )
                if short:
                    problems.append(f"link_ca.{short}")
            ca_args = dict(model.link_ca)
        else:
            problems.append(
                "link_ca: expected a link CA (CertificateAuthority, "
                "ExistingCertificateAuthority, ExternallySignedCertificateAuthority) or the "
                f"arguments of a CertificateAuthority, got {type(model.link_ca).__name__}"
            )

        egress_gateway = model.client.egress_gateway
        existing_ingress_gateway = model.server.existing_ingress_gateway
        problems += check_services(services)
        problems += check_target_policies(services)
        if (
            existing_ingress_gateway is not None
            and existing_ingress_gateway.service_account is None
            and any(s.target_policies for s in services)
        ):
            problems.append(f"server.{EXISTING_GATEWAY_ACCOUNT_PROBLEM}")
        if prefix:
            problems += check_names(
                prefix, [s.name for s in services], prefix_setting="object_prefix"
            )
        problems += _check_client_identity(identity.san, services, model.server.trust_domains)
        egress_namespace = egress_gateway.namespace or (
            LinkNames(prefix).egress_gateway_default() if prefix else None
        )
        if egress_namespace is not None and egress_namespace in model.client.namespaces:
            problems.append(
                f"client.namespaces: {egress_namespace!r} is the egress gateway's namespace; "
                "client workloads need a namespace of their own, which the link-port "
                "ServiceEntry is not exported to and the NetworkPolicy confines"
            )
        if problems:
            raise MeshlinkValidationError(where, list(dict.fromkeys(problems)))

        allowed = [identity.san]
        allowed += [i for i in model.additional_client_identities if i not in allowed]
        super().__init__(TYPE, name, None, opts)
        if issuer is None:
            assert ca_args is not None
            self.certificate_authority: CertificateAuthority | None = CertificateAuthority(
                f"{name}-ca",
                cast(CertificateAuthorityArgs, ca_args),
                opts=pulumi.ResourceOptions(parent=self),
            )
            issuer = self.certificate_authority
        else:
            self.certificate_authority = None

        self.client = LinkClient(
            f"{name}-client",
            LinkClientSettings(
                services=services,
                issuer=issuer,
                client_identity=identity,
                client_namespaces=model.client.namespaces,
                egress_gateway=egress_gateway,
                network_policy=model.client.network_policy,
                readiness=model.client.readiness,
                cluster_name=model.client.cluster_name,
                object_prefix=prefix,
                rotation=model.rotation,
                leaf_lifetime=lifetime,
                istio_api_version=model.istio_api_version,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers=[model.client.provider]),
        )
        self.server = LinkServer(
            f"{name}-server",
            LinkServerSettings(
                services=services,
                issuer=issuer,
                allowed_client_identities=allowed,
                ingress_gateway=model.server.ingress_gateway,
                existing_ingress_gateway=existing_ingress_gateway,
                readiness=model.server.readiness,
                cluster_name=model.server.cluster_name,
                object_prefix=prefix,
                rotation=model.rotation,
                leaf_lifetime=lifetime,
                min_tls_version=model.min_tls_version,
                istio_api_version=model.istio_api_version,
                trust_domains=model.server.trust_domains,
                cipher_suites=model.cipher_suites,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers=[model.server.provider]),
        )
        self.ingress_address = self.server.ingress_address
        self.fqdns = list(self.client.fqdns)
        self.ca_certificate_pem = issuer.root_cert_pem
        self.trust_bundle_pem = issuer.trust_bundle_pem
        self.objects = {"client": self.client.objects, "server": self.server.objects}
        register_declared_outputs(self)

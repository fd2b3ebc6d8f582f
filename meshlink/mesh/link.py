"""``MeshLink``: the component an organisation imports to link services across clusters.

It takes one ``kubernetes.Provider`` per cluster, the link CA (or the arguments to
make one), and the services, and declares both halves: :class:`LinkClient` through
the client provider and :class:`LinkServer` through the server provider. Every
argument is checked before anything is registered, so a mistake fails the preview with
one message that names the setting, and nothing is half-declared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Required, TypedDict, TypeVar, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from meshlink.argdocs import documents
from meshlink.istio import IstioApiVersion
from meshlink.mesh.ciphers import DEFAULT_CIPHER_SUITES, CipherSuites
from meshlink.mesh.client import LinkClient, LinkClientSettings
from meshlink.mesh.gateways import (
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
    LinkServer,
    LinkServerSettings,
)
from meshlink.mesh.services import (
    LinkedService,
    LinkedServiceArgs,
    check_services,
    check_target_policies,
)
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


class _ClientModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    provider: Any
    namespaces: list[WorkloadNamespace] = Field(min_length=1)
    egress_gateway: dict[str, Any] = Field(default_factory=dict)
    network_policy: dict[str, Any] = Field(default_factory=dict)
    readiness: dict[str, Any] = Field(default_factory=dict)
    cluster_name: str = Field(default="client", min_length=1)

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: Any) -> Any:
        return _check_provider(value)


class _ServerModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    provider: Any
    ingress_gateway: dict[str, Any] | None = None
    existing_ingress_gateway: dict[str, Any] | None = None
    readiness: dict[str, Any] = Field(default_factory=dict)
    cluster_name: str = Field(default="server", min_length=1)
    trust_domains: list[TrustDomain] = Field(
        default_factory=lambda: list(DEFAULT_TRUST_DOMAINS), min_length=1
    )

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: Any) -> Any:
        return _check_provider(value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    services: list[dict[str, Any]] = Field(min_length=1)
    client: _ClientModel
    server: _ServerModel
    link_ca: Any
    client_identity: dict[str, Any]
    additional_client_identities: list[str] = Field(default_factory=list)
    min_tls_version: Literal["TLSV1_2", "TLSV1_3"] = "TLSV1_2"
    cipher_suites: CipherSuites = Field(default_factory=lambda: list(DEFAULT_CIPHER_SUITES))
    rotation: Rotation | None = None
    leaf_lifetime: dict[str, Any] = Field(default_factory=dict)
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


ModelT = TypeVar("ModelT", bound=BaseModel)


def _default_prefix(name: str, problems: list[str]) -> str:
    try:
        return check_dns1123_label(name)
    except ValueError as error:
        problems.append(f"object_prefix: derived from the component name, but {error}; set it")
        return ""


def _part(
    model: type[ModelT], values: Mapping[str, Any], problems: list[str], *, prefix: str
) -> ModelT | None:
    """``values`` validated by ``model``, or None with its problems added to ``problems``
    under ``prefix``. Inputs are never echoed: a part may hold a kubeconfig."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as error:
        problems.extend(describe_validation_error(error, prefix=prefix, show_input=False))
        return None


_RAW_PARTS: tuple[tuple[tuple[str, ...], type[BaseModel]], ...] = (
    (("client_identity",), ClientIdentity),
    (("leaf_lifetime",), LeafLifetime),
    (("client", "egress_gateway"), EgressGatewaySettings),
    (("client", "network_policy"), ClientNetworkPolicy),
    (("client", "readiness"), IstioReadinessSettings),
    (("server", "ingress_gateway"), IngressGatewaySettings),
    (("server", "existing_ingress_gateway"), ExistingIngressGatewaySettings),
    (("server", "readiness"), IstioReadinessSettings),
)


def _raw_part_problems(args: Mapping[str, Any]) -> list[str]:
    """The problems of every part that can be checked on its own, read from the raw
    arguments: used when the arguments as a whole did not validate."""
    problems: list[str] = []
    if not isinstance(args, Mapping):
        return problems
    services = args.get("services")
    if isinstance(services, list | tuple):
        for index, service in enumerate(services):
            if isinstance(service, Mapping):
                _part(LinkedService, service, problems, prefix=f"services[{index}].")
    for path, model in _RAW_PARTS:
        value: Any = args
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, Mapping):
            _part(model, value, problems, prefix=".".join(path) + ".")
    return problems


@documents(MeshLinkArgs)
class MeshLink(pulumi.ComponentResource):
    """Links ``services`` in the server cluster to workloads in the client cluster.

    Outputs: ``ingress_address`` (where the FQDNs must resolve in the client's
    network), ``fqdns``, ``ca_certificate_pem`` (the link root, public) and
    ``trust_bundle_pem``, and ``objects``: per cluster, per kind, the
    ``namespace/name`` of every Kubernetes object declared.
    """

    ingress_address: pulumi.Output[str | None]
    ca_certificate_pem: pulumi.Output[str]
    trust_bundle_pem: pulumi.Output[str]
    fqdns: list[str]
    objects: dict[str, dict[str, list[str]]]

    def __init__(
        self, name: str, args: MeshLinkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        where = f"MeshLink {name!r}"
        try:
            model = validate_args(_Model, args, where=where, show_input=False)
        except MeshlinkValidationError as error:
            # Report the parts' problems too, as the stack config does: a caller with
            # three mistakes learns of three.
            raise MeshlinkValidationError(
                where, list(dict.fromkeys([*error.problems, *_raw_part_problems(args)]))
            ) from None
        problems: list[str] = []
        prefix = model.object_prefix or _default_prefix(name, problems)

        lifetime = _part(LeafLifetime, model.leaf_lifetime, problems, prefix="leaf_lifetime.")
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
            if lifetime is not None:
                outlives = leaf_outlives_issuer(
                    issuer, lifetime.validity_hours, "leaf_lifetime.validity_hours"
                )
                if outlives:
                    problems.append(outlives)
        elif isinstance(model.link_ca, dict):
            try:
                ca_model = CertificateAuthorityModel.model_validate(model.link_ca)
            except ValidationError as error:
                problems += describe_validation_error(error, prefix="link_ca.", show_input=False)
            else:
                if lifetime is not None:
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

        # Each part is validated on its own, so that a problem is named by the path the
        # caller wrote (``client.egress_gateway.replicas``), then the sides are assembled
        # from the validated parts.
        services = [
            _part(LinkedService, service, problems, prefix=f"services[{index}].")
            for index, service in enumerate(model.services)
        ]
        identity = _part(ClientIdentity, model.client_identity, problems, prefix="client_identity.")
        egress_gateway = _part(
            EgressGatewaySettings,
            model.client.egress_gateway,
            problems,
            prefix="client.egress_gateway.",
        )
        network_policy = _part(
            ClientNetworkPolicy,
            model.client.network_policy,
            problems,
            prefix="client.network_policy.",
        )
        client_readiness = _part(
            IstioReadinessSettings, model.client.readiness, problems, prefix="client.readiness."
        )
        server_readiness = _part(
            IstioReadinessSettings, model.server.readiness, problems, prefix="server.readiness."
        )
        ingress_gateway: IngressGatewaySettings | None = None
        existing_ingress_gateway: ExistingIngressGatewaySettings | None = None
        if (model.server.ingress_gateway is None) == (
            model.server.existing_ingress_gateway is None
        ):
            problems.append(
                "server: give exactly one of ingress_gateway (meshlink deploys the gateway) "
                "or existing_ingress_gateway (meshlink adds the link ports to yours)"
            )
        elif model.server.ingress_gateway is not None:
            ingress_gateway = _part(
                IngressGatewaySettings,
                model.server.ingress_gateway,
                problems,
                prefix="server.ingress_gateway.",
            )
        else:
            existing_ingress_gateway = _part(
                ExistingIngressGatewaySettings,
                model.server.existing_ingress_gateway or {},
                problems,
                prefix="server.existing_ingress_gateway.",
            )
        valid_services = [s for s in services if s is not None]
        if len(valid_services) == len(services):
            problems += check_services(valid_services)
            problems += check_target_policies(valid_services)
            if (
                existing_ingress_gateway is not None
                and existing_ingress_gateway.service_account is None
                and any(s.target_policies for s in valid_services)
            ):
                problems.append(f"server.{EXISTING_GATEWAY_ACCOUNT_PROBLEM}")
            if prefix:
                problems += check_names(
                    prefix, [s.name for s in valid_services], prefix_setting="object_prefix"
                )
        if issuer is not None and issuer.not_ready_reason:
            problems.append(f"link_ca: {issuer.not_ready_reason}")
        if identity is not None:
            problems += _check_client_identity(
                identity.san, [s for s in services if s is not None], model.server.trust_domains
            )
        egress_namespace = (egress_gateway.namespace if egress_gateway else None) or (
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
        assert identity is not None and lifetime is not None

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
                network_policy=network_policy,
                readiness=client_readiness,
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
                ingress_gateway=ingress_gateway,
                existing_ingress_gateway=existing_ingress_gateway,
                readiness=server_readiness,
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
        self.register_outputs(
            {
                "ingress_address": self.ingress_address,
                "fqdns": self.fqdns,
                "ca_certificate_pem": self.ca_certificate_pem,
                "trust_bundle_pem": self.trust_bundle_pem,
                "objects": self.objects,
            }
        )

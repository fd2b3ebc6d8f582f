"""``MeshLink``: the component an organisation imports to link services across clusters.

It takes one ``kubernetes.Provider`` per cluster, the link CA (or the arguments to
make one), and the services, and declares both halves: :class:`LinkClient` through
the client provider and :class:`LinkServer` through the server provider. Every
argument is checked before anything is registered, so a mistake fails the preview with
one message that names the setting, and nothing is half-declared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Required, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from meshlink.argdocs import documents
from meshlink.mesh.client import LinkClient
from meshlink.mesh.client_settings import (
    ClientClusterArgs,
    ClientClusterSettings,
    LinkClientSettings,
)
from meshlink.mesh.half import LinkOptions, LinkOptionsArgs, fields_of
from meshlink.mesh.half_plans import egress_namespace_problems
from meshlink.mesh.identity import ClientIdentity, ClientIdentityArgs, check_identity
from meshlink.mesh.naming import LinkNames, check_names
from meshlink.mesh.server import LinkServer
from meshlink.mesh.server_settings import (
    EXISTING_GATEWAY_ACCOUNT_PROBLEM,
    LinkServerSettings,
    ServerClusterArgs,
    ServerClusterSettings,
    ServerTls,
    ServerTlsArgs,
)
from meshlink.mesh.services import (
    LinkedService,
    LinkedServiceArgs,
    check_services,
    check_target_policies,
)
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.pki import CertificateAuthority, CertificateAuthorityArgs, LinkIssuer
from meshlink.pki.authority import CertificateAuthorityModel
from meshlink.pki.leaf import LeafLifetime, leaf_outlives_issuer
from meshlink.validation import (
    MeshlinkValidationError,
    check_dns1123_label,
    describe_validation_error,
    validate_args,
)

TYPE = "meshlink:index:MeshLink"


class MeshLinkClientArgs(ClientClusterArgs, total=False):
    """The client cluster: where the workloads that connect live."""

    provider: Required[k8s.Provider]
    """The client cluster's provider; every client-side object is declared through it."""
    depends_on: Sequence[pulumi.Resource]
    """What every client-side object waits for, e.g. client namespaces declared in the same
    program. Unlike ``depends_on`` on the ``MeshLink`` itself, it holds back only this
    side, so the server side does not wait for the client cluster."""


class MeshLinkServerArgs(ServerClusterArgs, total=False):
    """The server cluster: where the linked services run."""

    provider: Required[k8s.Provider]
    """The server cluster's provider; every server-side object is declared through it."""
    depends_on: Sequence[pulumi.Resource]
    """What every server-side object waits for, e.g. the target's namespace declared in the
    same program; it holds back only this side."""


class MeshLinkArgs(ServerTlsArgs, LinkOptionsArgs, total=False):
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


class _ThroughProvider(BaseModel):
    """A cluster part of ``MeshLink``: its objects are declared through ``provider``, after
    ``depends_on``."""

    provider: Any
    depends_on: list[Any] = Field(default_factory=list)

    @field_validator("depends_on")
    @classmethod
    def _resources(cls, value: list[Any]) -> list[Any]:
        for index, item in enumerate(value):
            if not isinstance(item, pulumi.Resource):
                raise ValueError(f"[{index}]: expected a resource, got {type(item).__name__}")
        return value

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: Any) -> Any:
        if not isinstance(value, k8s.Provider):
            raise ValueError(
                f"expected a kubernetes.Provider, got {type(value).__name__}; pass "
                "pulumi_kubernetes.Provider(name, kubeconfig=...) for the cluster (a "
                "kubeconfig or a cluster name is not a provider)"
            )
        return value


class MeshLinkClientSettings(ClientClusterSettings, _ThroughProvider):
    """Validates :class:`MeshLinkClientArgs`."""


class MeshLinkServerSettings(ServerClusterSettings, _ThroughProvider):
    """Validates :class:`MeshLinkServerArgs`."""


class MeshLinkSettings(ServerTls, LinkOptions):
    """Validates :class:`MeshLinkArgs`: every part with its own model, all problems at once.
    The rules across parts run in :class:`MeshLink` once the parts are valid."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    services: list[LinkedService] = Field(min_length=1)
    client: MeshLinkClientSettings
    server: MeshLinkServerSettings
    link_ca: Any
    client_identity: ClientIdentity
    additional_client_identities: list[str] = Field(default_factory=list)

    @field_validator("additional_client_identities")
    @classmethod
    def _identities(cls, value: list[str]) -> list[str]:
        for identity in value:
            check_identity(identity)
        return value


_SERVICES = TypeAdapter(list[LinkedService])


def _service_set_problems(args: Any) -> list[str]:
    """The problems across ``args["services"]`` when each service is valid on its own."""
    try:
        services = _SERVICES.validate_python(
            args.get("services") if isinstance(args, Mapping) else None
        )
    except ValidationError:
        return []
    return check_services(services) + check_target_policies(services)


def _default_prefix(name: str, problems: list[str]) -> str:
    try:
        return check_dns1123_label(name)
    except ValueError as error:
        problems.append(f"object_prefix: derived from the component name, but {error}; set it")
        return ""


def _link_ca_problems(
    link_ca: Any, lifetime: LeafLifetime
) -> tuple[LinkIssuer | None, dict[str, Any] | None, list[str]]:
    """The link CA given (an issuer) or to create (its arguments), and what is wrong
    with it, its leaves' lifetime included."""
    if isinstance(link_ca, pulumi.Output):
        # Checked first: an Output answers every attribute lookup, so it would pass
        # for a LinkIssuer.
        return (
            None,
            None,
            [
                "link_ca: got an Output, whose value is not known while the program runs; "
                "pass the CA component itself (CertificateAuthority, "
                "ExistingCertificateAuthority, ExternallySignedCertificateAuthority; e.g. "
                "the one declare_link_ca returns) or a dict of CertificateAuthority arguments"
            ],
        )
    problems: list[str] = []
    if isinstance(link_ca, LinkIssuer):
        if link_ca.not_ready_reason:
            problems.append(f"link_ca: {link_ca.not_ready_reason}")
        outlives = leaf_outlives_issuer(
            link_ca, lifetime.validity_hours, "leaf_lifetime.validity_hours"
        )
        if outlives:
            problems.append(outlives)
        return link_ca, None, problems
    if isinstance(link_ca, Mapping):
        try:
            ca_model = CertificateAuthorityModel.model_validate(dict(link_ca))
        except ValidationError as error:
            problems += describe_validation_error(error, prefix="link_ca.", show_input=False)
        else:
            short = ca_model.leaves_problem(lifetime.validity_hours, "leaf_lifetime.validity_hours")
            if short:
                problems.append(f"link_ca.{short}")
        return None, dict(link_ca), problems
    return (
        None,
        None,
        [
            "link_ca: expected a link CA (CertificateAuthority, "
            "ExistingCertificateAuthority, ExternallySignedCertificateAuthority) or the "
            f"arguments of a CertificateAuthority, got {type(link_ca).__name__}"
        ],
    )


def _cross_part_problems(model: MeshLinkSettings, prefix: str) -> list[str]:
    """The rules across the services, the two clusters and the client identity, which
    the parts' own models cannot see; ``prefix`` is empty when it is itself wrong."""
    services = model.services
    existing_ingress_gateway = model.server.existing_ingress_gateway
    problems = check_services(services) + check_target_policies(services)
    if (
        existing_ingress_gateway is not None
        and existing_ingress_gateway.service_account is None
        and any(s.target_policies for s in services)
    ):
        problems.append(f"server.{EXISTING_GATEWAY_ACCOUNT_PROBLEM}")
    if prefix:
        problems += check_names(prefix, [s.name for s in services], prefix_setting="object_prefix")
    problems += _check_client_identity(
        model.client_identity.san, services, model.server.trust_domains
    )
    shared = model.client.shared_egress_gateway
    own = model.client.egress_gateway
    if shared is not None:
        egress_namespace: str | None = shared.namespace
    else:
        egress_namespace = (own.namespace if own is not None else None) or (
            LinkNames(prefix).egress_gateway_default() if prefix else None
        )
    if shared is not None and prefix:
        problems += shared.links.conflicts(
            prefix, services, model.client.namespaces, namespaces_setting="client.namespaces"
        )
    return problems + egress_namespace_problems(
        egress_namespace, model.client.namespaces, setting="client.namespaces"
    )


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
        try:
            # Inputs are never echoed: a part may hold a kubeconfig.
            model = validate_args(MeshLinkSettings, args, where=where, show_input=False)
        except MeshlinkValidationError as error:
            # A caller with three mistakes learns of three: the rules across services run
            # whenever the services themselves are valid.
            raise MeshlinkValidationError(
                where, [*error.problems, *_service_set_problems(args)]
            ) from None
        problems: list[str] = []
        prefix = model.object_prefix or _default_prefix(name, problems)
        issuer, ca_args, ca_problems = _link_ca_problems(model.link_ca, model.leaf_lifetime)
        problems += ca_problems + _cross_part_problems(model, prefix)
        if problems:
            raise MeshlinkValidationError(where, list(dict.fromkeys(problems)))

        super().__init__(TYPE, name, None, opts)
        self.certificate_authority: CertificateAuthority | None = None
        if issuer is None:
            assert ca_args is not None
            self.certificate_authority = CertificateAuthority(
                f"{name}-ca",
                cast(CertificateAuthorityArgs, ca_args),
                opts=pulumi.ResourceOptions(parent=self),
            )
            issuer = self.certificate_authority
        self._declare_halves(name, model, prefix, issuer)
        self.ingress_address = self.server.ingress_address
        self.fqdns = list(self.client.fqdns)
        self.ca_certificate_pem = issuer.root_cert_pem
        self.trust_bundle_pem = issuer.trust_bundle_pem
        self.objects = {"client": self.client.objects, "server": self.server.objects}
        register_declared_outputs(self)

    def _declare_halves(
        self, name: str, model: MeshLinkSettings, prefix: str, issuer: LinkIssuer
    ) -> None:
        """The client half through the client provider, the server half through the
        server provider, both issued by ``issuer``."""
        options = {**fields_of(model, LinkOptions), "object_prefix": prefix}
        allowed = [model.client_identity.san]
        allowed += [i for i in model.additional_client_identities if i not in allowed]
        self.client = LinkClient(
            f"{name}-client",
            LinkClientSettings(
                **fields_of(model.client, ClientClusterSettings),
                **options,
                services=model.services,
                issuer=issuer,
                client_identity=model.client_identity,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                providers=[model.client.provider],
                depends_on=model.client.depends_on,
            ),
        )
        self.server = LinkServer(
            f"{name}-server",
            LinkServerSettings(
                **fields_of(model.server, ServerClusterSettings),
                **fields_of(model, ServerTls),
                **options,
                services=model.services,
                issuer=issuer,
                allowed_client_identities=allowed,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                providers=[model.server.provider],
                depends_on=model.server.depends_on,
            ),
        )

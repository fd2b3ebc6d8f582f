"""``MeshLink``: the component an organisation imports to link services across clusters.

It takes one ``kubernetes.Provider`` per cluster, the link CA (or the arguments to
make one), and the services, and declares both halves: :class:`LinkClient` through
the client provider and :class:`LinkServer` through the server provider. Every
argument is checked before anything is registered, so a mistake fails the preview with
one message that names the setting, and nothing is half-declared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Required

import pulumi
from pydantic import ConfigDict, Field, field_validator

from meshlink.argdocs import documents
from meshlink.mesh.client import LinkClient
from meshlink.mesh.client_settings import ClientClusterSettings, LinkClientSettings
from meshlink.mesh.half import LinkOptions, LinkOptionsArgs, fields_of
from meshlink.mesh.identity import ClientIdentity, ClientIdentityArgs, check_identity
from meshlink.mesh.link_parts import (
    MeshLinkClientArgs,
    MeshLinkClientSettings,
    MeshLinkServerArgs,
    MeshLinkServerSettings,
    check_client_identity,
    client_part_problems,
    issuer_of,
    link_ca_problems,
    prefix_or_problem,
    server_part_problems,
    service_set_problems,
    through,
)
from meshlink.mesh.naming import check_names
from meshlink.mesh.server import LinkServer
from meshlink.mesh.server_settings import (
    LinkServerSettings,
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
from meshlink.validation import MeshlinkValidationError, validate_args

__all__ = ["MeshLink", "MeshLinkArgs"]

TYPE = "meshlink:index:MeshLink"


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


def _cross_part_problems(model: MeshLinkSettings, prefix: str) -> list[str]:
    """The rules across the services, the two clusters and the client identity, which
    the parts' own models cannot see; ``prefix`` is empty when it is itself wrong."""
    services = model.services
    problems = check_services(services) + check_target_policies(services)
    problems += server_part_problems(model.server, services)
    if prefix:
        problems += check_names(prefix, [s.name for s in services], prefix_setting="object_prefix")
    problems += check_client_identity(
        model.client_identity.san, services, model.server.trust_domains
    )
    return problems + client_part_problems(model.client, prefix, services, setting="client")


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
                where, [*error.problems, *service_set_problems(args)]
            ) from None
        problems: list[str] = []
        prefix = model.object_prefix or prefix_or_problem(name, problems)
        issuer, ca_args, ca_problems = link_ca_problems(model.link_ca, model.leaf_lifetime)
        problems += ca_problems + _cross_part_problems(model, prefix)
        if problems:
            raise MeshlinkValidationError(where, list(dict.fromkeys(problems)))

        super().__init__(TYPE, name, None, opts)
        self.certificate_authority: CertificateAuthority | None
        issuer, self.certificate_authority = issuer_of(name, issuer, ca_args, self)
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
            opts=through(self, model.client),
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
            opts=through(self, model.server),
        )

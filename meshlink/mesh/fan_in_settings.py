"""What :class:`~meshlink.mesh.fan_in.FanInLink` takes, and the rules across its clients.

Several client clusters use services of one server cluster. The server keeps one
ingress gateway: each service's Gateway admits the identities of the clients allowed to
use it, and the gateway's load balancer admits the union of the clients' egress
addresses. Each client gets a certificate of its own, so removing a client removes
exactly its certificate, its identity from the Gateways and its addresses from the load
balancer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Required

import pulumi
from pydantic import ConfigDict, Field, field_validator

from meshlink.mesh.common import Cidr, check_cidr
from meshlink.mesh.half import LinkOptions, LinkOptionsArgs
from meshlink.mesh.identity import ClientIdentity, ClientIdentityArgs
from meshlink.mesh.link_parts import (
    MeshLinkClientArgs,
    MeshLinkClientSettings,
    MeshLinkServerArgs,
    MeshLinkServerSettings,
    check_client_identity,
    client_part_problems,
)
from meshlink.mesh.server_settings import ServerTls, ServerTlsArgs
from meshlink.mesh.services import LinkedService, LinkedServiceArgs
from meshlink.pki import CertificateAuthorityArgs, LinkIssuer
from meshlink.validation import check_dns1123_label

SERVER_KEY = "server"
"""The server cluster's key in ``objects``, which no client may take."""


class FanInClientArgs(MeshLinkClientArgs, total=False):
    """One client cluster of a fan-in link."""

    client_identity: Required[ClientIdentityArgs]
    """The SAN of this client's own certificate; the Gateways of its services admit it."""
    services: Sequence[str]
    """The names of the services this client may use (default: every service). The
    Gateway of any other service refuses its certificate."""
    source_ranges: Sequence[pulumi.Input[str]]
    """This client's egress (NAT) addresses as CIDR blocks. The server's ingress gateway
    admits the union of all clients' ranges; required when meshlink deploys it."""


class FanInLinkArgs(ServerTlsArgs, LinkOptionsArgs, total=False):
    """Services of one server cluster used by several client clusters."""

    services: Required[Sequence[LinkedServiceArgs]]
    """The services to link, one or many."""
    clients: Required[Mapping[str, FanInClientArgs]]
    """The client clusters by name (a DNS label, used in resource names; it is the
    cluster's name in messages unless ``cluster_name`` is set)."""
    server: Required[MeshLinkServerArgs]
    """The server cluster. With ``ingress_gateway``, leave out its ``source_ranges``:
    they are the clients'."""
    link_ca: Required[LinkIssuer | CertificateAuthorityArgs]
    """A link CA, or the arguments of a ``CertificateAuthority`` to create under this
    link. Not the mesh CA."""


class FanInClientSettings(MeshLinkClientSettings):
    """Validates :class:`FanInClientArgs`."""

    client_identity: ClientIdentity
    services: list[str] | None = None
    source_ranges: list[Cidr] = Field(default_factory=list)

    @field_validator("services")
    @classmethod
    def _unique_services(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("lists a service twice")
        if value == []:
            raise ValueError("an empty list uses no service; remove the client instead")
        return value

    def uses(self, services: Sequence[LinkedService]) -> list[LinkedService]:
        """The services this client may use, in the link's order."""
        if self.services is None:
            return list(services)
        return [s for s in services if s.name in self.services]


class FanInLinkSettings(ServerTls, LinkOptions):
    """Validates :class:`FanInLinkArgs`; the rules across clients are in
    :func:`clients_problems`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    services: list[LinkedService] = Field(min_length=1)
    clients: dict[str, FanInClientSettings] = Field(min_length=1)
    server: MeshLinkServerSettings
    link_ca: Any

    def admitted(self) -> dict[str, list[str]]:
        """Per service name, the identities of the clients that may use it."""
        return {
            service.name: [
                client.client_identity.san
                for client in self.clients.values()
                if service in client.uses(self.services)
            ]
            for service in self.services
        }


def client_source_ranges(args: Any) -> list[Any]:
    """The union of the clients' egress ranges as given, for the server's load balancer:
    each range once, in the clients' order; a malformed range is left to the client's
    own check, which names it."""
    clients = args.get("clients") if isinstance(args, Mapping) else None
    ranges: list[Any] = []
    for client in clients.values() if isinstance(clients, Mapping) else []:
        given = client.get("source_ranges") if isinstance(client, Mapping) else None
        for cidr in given if isinstance(given, Sequence) and not isinstance(given, str) else []:
            if isinstance(cidr, str):
                try:
                    check_cidr(cidr)
                except ValueError:
                    continue
                if cidr in ranges:
                    continue
            ranges.append(cidr)
    return ranges


def _client_problems(
    key: str,
    client: FanInClientSettings,
    model: FanInLinkSettings,
    prefix: str,
) -> list[str]:
    setting = f"clients.{key}"
    problems: list[str] = []
    try:
        check_dns1123_label(key)
    except ValueError as error:
        problems.append(f"{setting}: the name {error}")
    if key == SERVER_KEY:
        problems.append(f"{setting}: {SERVER_KEY!r} names the server cluster; rename the client")
    names = [s.name for s in model.services]
    unknown = [s for s in client.services or [] if s not in names]
    if unknown:
        problems.append(
            f"{setting}.services: {', '.join(map(repr, unknown))} is not a linked service "
            f"(services: {', '.join(names)})"
        )
    uses = client.uses(model.services)
    problems += check_client_identity(
        client.client_identity.san,
        uses,
        model.server.trust_domains,
        setting=f"{setting}.client_identity",
    )
    problems += client_part_problems(client, prefix, uses, setting=setting)
    deploys_gateway = model.server.ingress_gateway is not None
    if deploys_gateway and not client.source_ranges:
        problems.append(
            f"{setting}.source_ranges: required: the server's ingress gateway admits only "
            "the clients' egress addresses"
        )
    if not deploys_gateway and client.source_ranges:
        problems.append(
            f"{setting}.source_ranges: the existing ingress gateway's Service keeps its own "
            "source ranges; add this client's egress addresses there and remove them here"
        )
    return problems


def clients_problems(model: FanInLinkSettings, prefix: str) -> list[str]:
    """Each client's own rules, then the rules between clients: identities and providers
    are each one client's, and every service has a client."""
    problems: list[str] = []
    for key, client in model.clients.items():
        problems += _client_problems(key, client, model, prefix)
    seen_identity: dict[str, str] = {}
    seen_provider: dict[int, str] = {}
    for key, client in model.clients.items():
        san = client.client_identity.san
        if san in seen_identity:
            problems.append(
                f"clients.{key}.client_identity: {san!r} is also clients."
                f"{seen_identity[san]}'s; each client needs an identity of its own, or either "
                "could use the other's services"
            )
        seen_identity.setdefault(san, key)
        if id(client.provider) in seen_provider:
            problems.append(
                f"clients.{key}.provider: the same provider as clients."
                f"{seen_provider[id(client.provider)]}'s; each client is a cluster of its own"
            )
        seen_provider.setdefault(id(client.provider), key)
    unused = [name for name, sans in model.admitted().items() if not sans]
    if unused:
        problems.append(
            f"services: {', '.join(map(repr, unused))} is used by no client; list it in a "
            "client's services or remove it"
        )
    return problems

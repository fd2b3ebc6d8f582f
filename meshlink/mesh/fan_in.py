"""``FanInLink``: services of one server cluster, used by several client clusters.

It declares one :class:`LinkServer` through the server provider and one
:class:`LinkClient` per client through that client's provider, all issued by one link
CA. Each client has a certificate of its own and uses the services it lists; each
service's Gateway admits exactly the identities of the clients allowed to use it, and
the server's load balancer the union of the clients' egress addresses. As with
``MeshLink``, every argument is checked before anything is registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from meshlink.argdocs import documents
from meshlink.mesh.client import LinkClient
from meshlink.mesh.client_settings import ClientClusterSettings, LinkClientSettings
from meshlink.mesh.fan_in_settings import (
    SERVER_KEY,
    FanInClientArgs,
    FanInLinkArgs,
    FanInLinkSettings,
    client_source_ranges,
    clients_problems,
)
from meshlink.mesh.half import LinkOptions, fields_of
from meshlink.mesh.link_parts import (
    issuer_of,
    link_ca_problems,
    prefix_or_problem,
    server_part_problems,
    service_set_problems,
    through,
)
from meshlink.mesh.naming import check_names
from meshlink.mesh.server import LinkServer
from meshlink.mesh.server_settings import LinkServerSettings, ServerClusterSettings, ServerTls
from meshlink.mesh.services import check_services, check_target_policies
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.pki import CertificateAuthority, LinkIssuer
from meshlink.validation import MeshlinkValidationError, validate_args

__all__ = ["FanInClientArgs", "FanInLink", "FanInLinkArgs"]

TYPE = "meshlink:index:FanInLink"
_CLIENT_RANGES = "server.ingress_gateway.source_ranges"
_UNION_PROBLEM = "server.ingress_gateway: source_ranges: "


def _as_clients_problem(problem: str) -> str:
    """The server's load balancer ranges are the clients' union: a problem of the union
    names the clients' setting."""
    if problem.startswith(_UNION_PROBLEM):
        return "clients.*.source_ranges: together, " + problem.removeprefix(_UNION_PROBLEM)
    return problem


def _with_client_ranges(args: Any) -> tuple[Any, list[str]]:
    """``args`` whose server ingress gateway admits the clients' egress ranges, which
    belong to the clients alone: ranges set on the server itself are refused."""
    server = args.get("server") if isinstance(args, Mapping) else None
    gateway = server.get("ingress_gateway") if isinstance(server, Mapping) else None
    if not isinstance(gateway, Mapping):
        return args, []
    if "source_ranges" in gateway:
        return args, [
            f"{_CLIENT_RANGES}: a FanInLink's load balancer admits its clients' egress "
            "addresses; set clients.<name>.source_ranges instead"
        ]
    assert isinstance(server, Mapping)
    ranges = client_source_ranges(args)
    if not ranges:
        # Every client lacks valid ranges, and each is told so; nothing to admit yet.
        return args, []
    server = {**server, "ingress_gateway": {**gateway, "source_ranges": ranges}}
    return {**args, "server": server}, []


def _validated(where: str, args: FanInLinkArgs) -> FanInLinkSettings:
    given, problems = _with_client_ranges(args)
    try:
        # Inputs are never echoed: a part may hold a kubeconfig.
        model = validate_args(FanInLinkSettings, given, where=where, show_input=False)
    except MeshlinkValidationError as error:
        found = [_as_clients_problem(p) for p in error.problems]
        raise MeshlinkValidationError(
            where, [*problems, *found, *service_set_problems(args)]
        ) from None
    if problems:
        raise MeshlinkValidationError(where, problems)
    return model


def _cross_part_problems(model: FanInLinkSettings, prefix: str) -> list[str]:
    services = model.services
    problems = check_services(services) + check_target_policies(services)
    problems += server_part_problems(model.server, services)
    if prefix:
        problems += check_names(prefix, [s.name for s in services], prefix_setting="object_prefix")
    return problems + clients_problems(model, prefix)


@documents(FanInLinkArgs)
class FanInLink(pulumi.ComponentResource):
    """Links ``services`` in the server cluster to workloads in several client clusters."""

    ingress_address: Registered[pulumi.Output[str | None]]
    """Where the FQDNs must resolve in every client's network."""
    fqdns: Registered[list[str]]
    """The linked services' FQDNs."""
    ca_certificate_pem: Registered[pulumi.Output[str]]
    """The link root certificate (public)."""
    trust_bundle_pem: Registered[pulumi.Output[str]]
    """What the gateways trust: the link root, plus previous roots during a rotation."""
    admitted_identities: Registered[dict[str, list[str]]]
    """Per service, the client identities its Gateway admits."""
    objects: Registered[dict[str, dict[str, list[str]]]]
    """Per cluster (``server`` and each client's name), per kind, the ``namespace/name``
    of every Kubernetes object declared."""

    def __init__(
        self, name: str, args: FanInLinkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        where = f"FanInLink {name!r}"
        model = _validated(where, args)
        problems: list[str] = []
        prefix = model.object_prefix or prefix_or_problem(name, problems)
        issuer, ca_args, ca_problems = link_ca_problems(model.link_ca, model.leaf_lifetime)
        problems += ca_problems + _cross_part_problems(model, prefix)
        if problems:
            raise MeshlinkValidationError(where, list(dict.fromkeys(problems)))

        super().__init__(TYPE, name, None, opts)
        self.certificate_authority: CertificateAuthority | None
        issuer, self.certificate_authority = issuer_of(name, issuer, ca_args, self)
        options = {**fields_of(model, LinkOptions), "object_prefix": prefix}
        self.admitted_identities = model.admitted()
        self.server = self._declare_server(name, model, options, issuer)
        self.clients: dict[str, LinkClient] = {
            key: self._declare_client(name, key, model, options, issuer) for key in model.clients
        }
        self.ingress_address = self.server.ingress_address
        self.fqdns = [s.fqdn for s in model.services]
        self.ca_certificate_pem = issuer.root_cert_pem
        self.trust_bundle_pem = issuer.trust_bundle_pem
        self.objects = {
            SERVER_KEY: self.server.objects,
            **{key: client.objects for key, client in self.clients.items()},
        }
        register_declared_outputs(self)

    def _declare_server(
        self,
        name: str,
        model: FanInLinkSettings,
        options: dict[str, Any],
        issuer: LinkIssuer,
    ) -> LinkServer:
        return LinkServer(
            f"{name}-server",
            LinkServerSettings(
                **fields_of(model.server, ServerClusterSettings),
                **fields_of(model, ServerTls),
                **options,
                services=model.services,
                issuer=issuer,
                service_client_identities=self.admitted_identities,
            ),
            opts=through(self, model.server),
        )

    def _declare_client(
        self,
        name: str,
        key: str,
        model: FanInLinkSettings,
        options: dict[str, Any],
        issuer: LinkIssuer,
    ) -> LinkClient:
        client = model.clients[key]
        cluster = fields_of(client, ClientClusterSettings)
        if "cluster_name" not in client.model_fields_set:
            cluster["cluster_name"] = key
        return LinkClient(
            f"{name}-{key}-client",
            LinkClientSettings(
                **cluster,
                **options,
                services=client.uses(model.services),
                issuer=issuer,
                client_identity=client.client_identity,
            ),
            opts=through(self, client),
        )

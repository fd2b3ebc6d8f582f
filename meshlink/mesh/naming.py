"""Kubernetes names of a link's objects, derived from one prefix.

Every ``metadata.name`` is a function of the link's ``object_prefix`` and the service
name, nothing else, so a second preview shows no changes and a reviewer can tell from a
name which link and service an object belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshlink.pki.secret import check_credential_name

NAME_LIMIT = 63
"""One DNS label."""


class LinkNames:
    """``metadata.name`` of each object of a link with prefix ``prefix``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def egress_gateway_default(self) -> str:
        return f"{self.prefix}-egress"

    def ingress_gateway_default(self) -> str:
        return f"{self.prefix}-ingress"

    def service_entry(self, service: str) -> str:
        """The app-port ServiceEntry, seen by the client namespaces."""
        return f"{self.prefix}-{service}"

    def link_service_entry(self, service: str) -> str:
        """The link-port ServiceEntry, seen by the egress gateway's namespace only."""
        return f"{self.prefix}-{service}-link"

    def egress_authorization(self) -> str:
        return f"{self.prefix}-egress-clients"

    def target_authorization(self, service: str) -> str:
        return f"{self.prefix}-{service}-authz"

    def target_peer_authentication(self, service: str) -> str:
        return f"{self.prefix}-{service}-mtls"

    def egress_gateway(self, service: str) -> str:
        return f"{self.prefix}-{service}-egress"

    def client_virtual_service(self, service: str) -> str:
        return f"{self.prefix}-{service}"

    def egress_subsets(self) -> str:
        return f"{self.prefix}-egress-subsets"

    def origination(self, service: str) -> str:
        return f"{self.prefix}-{service}-origination"

    def client_credential(self) -> str:
        return f"{self.prefix}-client-tls"

    def ingress_gateway(self, service: str) -> str:
        return f"{self.prefix}-{service}-ingress"

    def server_virtual_service(self, service: str) -> str:
        return f"{self.prefix}-{service}"

    def server_credential(self, service: str) -> str:
        return f"{self.prefix}-{service}-server-tls"

    def target_service_entry(self, service: str) -> str:
        """The ServiceEntry of an external target, seen by the ingress gateway only."""
        return f"{self.prefix}-{service}-target"

    def target_origination(self, service: str) -> str:
        """The DestinationRule that originates TLS to an external target."""
        return f"{self.prefix}-{service}-target-tls"

    def target_ca(self, service: str) -> str:
        """The Secret with the CA that verifies an external target."""
        return f"{self.prefix}-{service}-target-ca"

    def external_target_host(self, service: str) -> str:
        """The name an external target has in the ingress gateway's registry: the
        ServiceEntry host that the route names. Its endpoint holds the real address, so
        this name is never resolved; ``.invalid`` (RFC 2606) makes sure of it, and the
        prefix keeps two links that share an ingress gateway apart."""
        return f"{self.prefix}-{service}.external.invalid"

    def network_policy(self) -> str:
        return f"{self.prefix}-client-egress"

    def per_service(self, service: str) -> list[str]:
        return [
            self.service_entry(service),
            self.link_service_entry(service),
            self.target_authorization(service),
            self.target_peer_authentication(service),
            self.egress_gateway(service),
            self.client_virtual_service(service),
            self.origination(service),
            self.ingress_gateway(service),
            self.server_virtual_service(service),
            self.server_credential(service),
            self.target_service_entry(service),
            self.target_origination(service),
            self.target_ca(service),
        ]


def check_names(prefix: str, services: Sequence[str], *, prefix_setting: str) -> list[str]:
    """Problems with the names derived from ``prefix`` and the service names.

    Every derived name is kept to one DNS label (63 characters): Istio wants that of
    Gateway and DestinationRule names, and one rule for all keeps names predictable.
    """
    problems = []
    names = LinkNames(prefix)
    try:
        check_credential_name(names.client_credential())
    except ValueError as error:
        problems.append(f"{prefix_setting}: {error}")
    shared = [
        names.egress_subsets(),
        names.client_credential(),
        names.network_policy(),
        names.egress_authorization(),
    ]
    too_long = [n for n in shared if len(n) > NAME_LIMIT]
    if too_long:
        problems.append(
            f"{prefix_setting}: {prefix!r} makes the name {too_long[0]!r}, longer than "
            f"{NAME_LIMIT} characters; shorten it"
        )
    for index, service in enumerate(services):
        longest = max(names.per_service(service), key=len)
        if len(longest) > NAME_LIMIT:
            problems.append(
                f"services[{index}].name: {service!r} with {prefix_setting} {prefix!r} makes "
                f"the name {longest!r}, longer than {NAME_LIMIT} characters; shorten one of "
                "them"
            )
    return problems

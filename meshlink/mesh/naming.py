"""Kubernetes names of a link's objects, derived from one prefix.

Every ``metadata.name`` is a function of the link's ``object_prefix`` and the service
name, nothing else, so a second preview shows no changes and a reviewer can tell from a
name which link and service an object belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshlink.pki.secret import check_credential_name

GATEWAY_NAME_LIMIT = 63
"""Istio wants Gateway names to be DNS labels; they are the longest per-service names
that carry that limit."""

_LONGEST_LABEL_SUFFIX = "-ingress"


class LinkNames:
    """``metadata.name`` of each object of a link with prefix ``prefix``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def egress_gateway_default(self) -> str:
        return f"{self.prefix}-egress"

    def ingress_gateway_default(self) -> str:
        return f"{self.prefix}-ingress"

    def service_entry(self, service: str) -> str:
        return f"{self.prefix}-{service}"

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
        return f"{self.prefix}-{service}{_LONGEST_LABEL_SUFFIX}"

    def server_virtual_service(self, service: str) -> str:
        return f"{self.prefix}-{service}"

    def server_credential(self, service: str) -> str:
        return f"{self.prefix}-{service}-server-tls"

    def network_policy(self) -> str:
        return f"{self.prefix}-client-egress"


def check_names(prefix: str, services: Sequence[str], *, prefix_setting: str) -> list[str]:
    """Problems with the names derived from ``prefix`` and the service names."""
    problems = []
    names = LinkNames(prefix)
    try:
        check_credential_name(names.client_credential())
    except ValueError as error:
        problems.append(f"{prefix_setting}: {error}")
    for index, service in enumerate(services):
        longest = names.ingress_gateway(service)
        if len(longest) > GATEWAY_NAME_LIMIT:
            problems.append(
                f"services[{index}].name: {service!r} with {prefix_setting} {prefix!r} makes "
                f"the Gateway name {longest!r}, longer than {GATEWAY_NAME_LIMIT} characters; "
                "shorten one of them"
            )
    return problems

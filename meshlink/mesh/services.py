"""A linked service, and the rules that hold across all services of one link.

The FQDN ties the whole path together (ServiceEntry host, SNI, server certificate SAN,
ingress Gateway host, and the DNS name that resolves to the ingress gateway in the
client's network), so it is checked once here for every one of those uses.

Ports follow from how Istio matches traffic:

- the ServiceEntry declares no ``addresses``, so client sidecars match the app port by
  port alone: two services cannot share an app port, and an app port cannot equal
  another service's link port (the sidecar would see one port with two protocols);
- the link ports share the ingress gateway's listeners: they must differ from each
  other;
- 15000-15099 are Istio's own ports on every proxy and gateway, so neither kind of port
  may fall there (15443, the egress gateway's port, is set by meshlink, never by a
  service).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypedDict

from pydantic import BaseModel, ConfigDict, model_validator

from meshlink.mesh.common import RESERVED_PORTS, RESERVED_PORTS_TEXT
from meshlink.validation import Fqdn, KubernetesLabel, Port


class LinkedServiceArgs(TypedDict):
    """One TCP service in the server cluster, made reachable from the client cluster."""

    name: str
    """Short name (a DNS label), used in the names of the objects for this service."""
    fqdn: str
    """The name clients use: ServiceEntry host, SNI and server certificate SAN. It must
    resolve, in the client cluster's network, to the ingress gateway's address."""
    app_port: int
    """The port client workloads connect to (3306 for MySQL). Unique across services."""
    link_port: int
    """The port between the clusters, on the ingress gateway (e.g. 13306)."""
    target_host: str
    """The service in the server cluster, fully qualified
    (``mysql.db.svc.cluster.local``)."""
    target_port: int
    """Its port (3306 for MySQL)."""


class LinkedService(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: KubernetesLabel
    fqdn: Fqdn
    app_port: Port
    link_port: Port
    target_host: Fqdn
    target_port: Port

    @model_validator(mode="after")
    def _own_ports(self) -> LinkedService:
        if self.app_port == self.link_port:
            raise ValueError(
                f"app_port and link_port are both {self.app_port}; the ServiceEntry needs two "
                "distinct ports (the app port as TCP, the link port as TLS)"
            )
        return self


def check_services(services: Sequence[LinkedService], *, setting: str = "services") -> list[str]:
    """Problems across services, one line each, naming the offending setting."""
    problems: list[str] = []
    if not services:
        return [f"{setting}: at least one service is needed"]

    def duplicates(attribute: str) -> None:
        seen: dict[object, list[int]] = defaultdict(list)
        for index, service in enumerate(services):
            seen[getattr(service, attribute)].append(index)
        for value, indexes in seen.items():
            for index in indexes[1:]:
                problems.append(
                    f"{setting}[{index}].{attribute}: {value} is already used by "
                    f"{setting}[{indexes[0]}] ({services[indexes[0]].name!r})"
                )

    duplicates("name")
    duplicates("fqdn")
    duplicates("app_port")
    duplicates("link_port")
    for index, service in enumerate(services):
        for attribute in ("app_port", "link_port"):
            port = getattr(service, attribute)
            if port in RESERVED_PORTS:
                problems.append(
                    f"{setting}[{index}].{attribute}: {port} is reserved by Istio on its "
                    f"proxies and gateways ({RESERVED_PORTS_TEXT})"
                )
    link_ports = {s.link_port: i for i, s in enumerate(services)}
    for index, service in enumerate(services):
        other = link_ports.get(service.app_port)
        if other is not None and other != index:
            problems.append(
                f"{setting}[{index}].app_port: {service.app_port} is the link_port of "
                f"{setting}[{other}] ({services[other].name!r}); client sidecars would see "
                "one port with two protocols"
            )
    return problems

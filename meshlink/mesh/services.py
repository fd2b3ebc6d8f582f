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

A service's target is one of two kinds (:attr:`LinkedService.target`): a Kubernetes
Service of the server mesh (``target_host`` and ``target_port``), or a host or IP address
outside it that the server cluster's network reaches (``target_external``: a Cloud SQL
private IP, a VM). An external target has no pods for the target policies to select, so
``target_policies`` is off for it and may not be turned on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from meshlink.mesh.common import RESERVED_PORTS, RESERVED_PORTS_TEXT, Selector
from meshlink.mesh.targets import (
    SERVICE_HOST_RE,
    ExternalTarget,
    ExternalTargetArgs,
    ServiceTarget,
    Target,
    check_link_target,
)
from meshlink.validation import Fqdn, KubernetesLabel, Port


class LinkedServiceArgs(TypedDict):
    """One TCP service in the server cluster, made reachable from the client cluster.
    Give ``target_host`` and ``target_port`` for a Kubernetes Service of the server mesh,
    or ``target_external`` for a host outside it."""

    name: str
    """Short name (a DNS label), used in the names of the objects for this service."""
    fqdn: str
    """The name clients use: ServiceEntry host, SNI and server certificate SAN. It must
    resolve, in the client cluster's network, to the ingress gateway's address."""
    app_port: int
    """The port client workloads connect to (3306 for MySQL). Unique across services."""
    link_port: int
    """The port between the clusters, on the ingress gateway (e.g. 13306)."""
    target_host: NotRequired[str]
    """The service in the server cluster, fully qualified
    (``mysql.db.svc.cluster.local``)."""
    target_port: NotRequired[int]
    """Its port (3306 for MySQL)."""
    target_external: NotRequired[ExternalTargetArgs]
    """Instead of ``target_host`` and ``target_port``: a host or IP address outside the
    server mesh, reachable from the server cluster's network."""
    target_labels: NotRequired[Mapping[str, str]]
    """The pod labels of the target workload. The server side selects the target's pods
    by them for an ``AuthorizationPolicy`` that admits only the ingress gateway's mesh
    identity on the target port and a STRICT ``PeerAuthentication`` (mesh mTLS only).
    Required while ``target_policies`` is on."""
    target_namespace: NotRequired[str]
    """The target workload's namespace; derived from ``target_host`` when it is a
    Kubernetes Service name (``<service>.<namespace>.svc.cluster.local``)."""
    target_container_port: NotRequired[int]
    """The container port behind ``target_port``, when the Service maps one to another:
    a sidecar's authorization sees the port the pod receives on. Defaults to
    ``target_port``."""
    target_policies: NotRequired[bool]
    """Declare the target's ``AuthorizationPolicy`` and ``PeerAuthentication`` (default
    True for a Kubernetes Service). Turn it off for a target meshlink does not own (its
    team writes the policies) or one outside the server mesh; then nothing stops other
    workloads of the server cluster from reaching the target. Always off for
    ``target_external``: there are no pods of the mesh to select."""


class LinkedService(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: KubernetesLabel
    fqdn: Fqdn
    app_port: Port
    link_port: Port
    target_host: Fqdn | None = None
    target_port: Port | None = None
    target_external: ExternalTarget | None = None
    target_labels: Selector | None = None
    target_namespace: KubernetesLabel | None = None
    target_container_port: Port | None = None
    target_policies: bool = True

    @field_validator("target_host")
    @classmethod
    def _not_an_infrastructure_endpoint(cls, value: str) -> str:
        return check_link_target(value)

    @model_validator(mode="before")
    @classmethod
    def _no_policies_outside_the_mesh(cls, data: Any) -> Any:
        """An external target has no pods for an AuthorizationPolicy or
        PeerAuthentication to select: the policies default off, and turning them on is
        an error rather than a silent no-op."""
        if not isinstance(data, dict) or data.get("target_external") is None:
            return data
        if data.get("target_policies") is True:
            raise ValueError(
                "target_policies: an external target has no pods in the server mesh for an "
                "AuthorizationPolicy or PeerAuthentication to select; remove it (it is off "
                "for target_external), and restrict who reaches the target in its own "
                "network (firewall rules, authorized networks)"
            )
        return {**data, "target_policies": False}

    @model_validator(mode="after")
    def _own_ports(self) -> LinkedService:
        in_mesh = [key for key in ("target_host", "target_port") if getattr(self, key) is not None]
        if self.target_external is not None and in_mesh:
            raise ValueError(
                f"give either target_external or {' and '.join(in_mesh)}, not both: a "
                "service has one target"
            )
        if self.target_external is None and len(in_mesh) < 2:
            raise ValueError(
                "give target_host and target_port (a Kubernetes Service of the server mesh) "
                "or target_external (a host outside it)"
            )
        if self.app_port == self.link_port:
            raise ValueError(
                f"app_port and link_port are both {self.app_port}; the ServiceEntry needs two "
                "distinct ports (the app port as TCP, the link port as TLS)"
            )
        if not self.target_policies:
            given = [
                key
                for key in ("target_labels", "target_namespace", "target_container_port")
                if getattr(self, key) is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} only select the target for its policies, and "
                    "target_policies is false; remove them or turn the policies on"
                )
        return self

    @property
    def target(self) -> Target:
        """The one target, typed by its kind."""
        if self.target_external is not None:
            return self.target_external
        assert self.target_host is not None and self.target_port is not None
        return ServiceTarget(host=self.target_host, port=self.target_port)

    @property
    def target_workload_namespace(self) -> str | None:
        """Where the target's pods run: ``target_namespace``, else the namespace part of a
        ``<service>.<namespace>.svc.cluster.local`` host; None when neither says."""
        if self.target_namespace is not None:
            return self.target_namespace
        match = SERVICE_HOST_RE.match(self.target_host or "")
        return match.group(1) if match else None

    @property
    def target_workload_port(self) -> int:
        return self.target_container_port or self.target.port

    @property
    def origination_sni(self) -> str:
        """The server name the egress gateway sends when it originates the link: the FQDN,
        which the server Gateway's host and its certificate carry."""
        return self.fqdn

    @property
    def expected_server_names(self) -> tuple[str, ...]:
        """The SANs the egress gateway requires of the server certificate (one of them):
        the FQDN, the name meshlink's server certificate is issued for."""
        return (self.fqdn,)


def check_target_policies(
    services: Sequence[LinkedService], *, setting: str = "services"
) -> list[str]:
    """What the server side needs to protect each target: its pods' labels and namespace.

    There is no safe default for the labels: a guessed selector that matches nothing
    leaves the target open without saying so, and a selector-less policy would cover the
    whole namespace. So a missing value is an error that names both ways out.
    """
    problems: list[str] = []
    for index, service in enumerate(services):
        if not service.target_policies:
            continue
        where = f"{setting}[{index}]"
        if service.target_labels is None:
            problems.append(
                f"{where}.target_labels: required to select the target's pods for its "
                "AuthorizationPolicy (only the ingress gateway may connect) and STRICT "
                f"PeerAuthentication; give the pod labels of {service.target_host}, or set "
                f"{where}.target_policies: false for a target meshlink does not own"
            )
        if service.target_workload_namespace is None:
            problems.append(
                f"{where}.target_namespace: {service.target_host!r} is not a Kubernetes "
                "Service name (<service>.<namespace>.svc.cluster.local); give the target "
                f"workload's namespace, or set {where}.target_policies: false for a target "
                "outside the server mesh"
            )
    return problems


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

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

import ipaddress
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from meshlink.mesh.common import RESERVED_PORTS, RESERVED_PORTS_TEXT, Selector
from meshlink.validation import Fqdn, KubernetesLabel, Port

_SERVICE_HOST_RE = re.compile(r"^[a-z0-9-]+\.([a-z0-9-]+)\.svc\.cluster\.local$")

_API_SERVER_RE = re.compile(r"^kubernetes\.default(\.svc(\.[a-z0-9.-]+)?)?$")
"""The cluster's API server Service, in each of its DNS forms:
https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/#directly-accessing-the-rest-api"""

METADATA_HOSTS = ("metadata.google.internal", "metadata.goog", "169.254.169.254")
"""The GKE metadata server, which hands out the node's or the workload's credentials:
https://cloud.google.com/compute/docs/metadata/querying-metadata"""


def check_link_target(value: str) -> str:
    """A linked target is a workload. Publishing the API server or the metadata server
    over the link would hand the client cluster the server cluster's credentials."""
    if _API_SERVER_RE.match(value):
        raise ValueError(
            f"{value!r} is the cluster's API server; linking it would publish the server "
            "cluster's control plane to the client cluster"
        )
    if value in METADATA_HOSTS or value.startswith("metadata.google.internal."):
        raise ValueError(
            f"{value!r} is the metadata server, which hands out credentials; it must "
            "never be reachable over the link"
        )
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return _check_qualified(value)
    if address.is_link_local or address.is_loopback:
        raise ValueError(
            f"{value!r} is a link-local or loopback address (the metadata server lives at "
            "169.254.169.254); name the target Service instead"
        )
    return value


def _check_qualified(value: str) -> str:
    """A target named the way Kubernetes DNS resolves it from a pod (``mysql.db``,
    ``mysql.db.svc``) routes nowhere: the ingress gateway's route names it as Istio's
    registry does, and Istio expands only a name without any dot, taking every other name
    as it is (``ResolveShortnameToFQDN`` in istio/istio ``pilot/pkg/model/config.go``). The
    registry knows a Service only as ``<service>.<namespace>.svc.<cluster domain>``."""
    labels = value.split(".")
    if labels[-1] == "svc":
        suggestion = f"{value}.cluster.local"
    elif labels[-2:] == ["svc", "cluster"]:
        suggestion = f"{value}.local"
    elif len(labels) == 2:
        suggestion = f"{value}.svc.cluster.local"
    else:
        return value
    raise ValueError(
        f"{value!r} is not fully qualified: the ingress gateway's route would look for "
        f"exactly this name, which the mesh's registry does not hold (it knows Services as "
        f"<service>.<namespace>.svc.cluster.local); write {suggestion!r}, or the full name "
        "of a host outside the cluster"
    )


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
    True). Turn it off for a target meshlink does not own (its team writes the policies)
    or one outside the server mesh; then nothing stops other workloads of the server
    cluster from reaching the target."""


class LinkedService(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: KubernetesLabel
    fqdn: Fqdn
    app_port: Port
    link_port: Port
    target_host: Fqdn
    target_port: Port
    target_labels: Selector | None = None
    target_namespace: KubernetesLabel | None = None
    target_container_port: Port | None = None
    target_policies: bool = True

    @field_validator("target_host")
    @classmethod
    def _not_an_infrastructure_endpoint(cls, value: str) -> str:
        return check_link_target(value)

    @model_validator(mode="after")
    def _own_ports(self) -> LinkedService:
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
    def target_workload_namespace(self) -> str | None:
        """Where the target's pods run: ``target_namespace``, else the namespace part of a
        ``<service>.<namespace>.svc.cluster.local`` host; None when neither says."""
        if self.target_namespace is not None:
            return self.target_namespace
        match = _SERVICE_HOST_RE.match(self.target_host)
        return match.group(1) if match else None

    @property
    def target_workload_port(self) -> int:
        return self.target_container_port or self.target_port


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

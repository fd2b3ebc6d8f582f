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

import ipaddress
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshlink.mesh.common import RESERVED_PORTS, RESERVED_PORTS_TEXT, Selector
from meshlink.validation import Fqdn, KubernetesLabel, Port, check_fqdn

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
    if _check_not_infrastructure(value):
        return value
    return _check_qualified(value)


def _check_not_infrastructure(value: str) -> bool:
    """Refuses the API server, the metadata server, loopback and link-local addresses;
    True when ``value`` is an IP address."""
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
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if any(a.is_link_local or a.is_loopback for a in (address, mapped) if a is not None):
        raise ValueError(
            f"{value!r} is a link-local or loopback address (the metadata server lives at "
            "169.254.169.254); name the target by its DNS name instead"
        )
    return True


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


def check_external_address(value: str) -> str:
    """An external target's address: a DNS name or an IP address the server cluster's
    network routes to. Beyond what :func:`check_link_target` refuses, an IP address must
    name one host that is not this host's own (unspecified, multicast and broadcast
    addresses name none or many), and a name must not be a Kubernetes Service name: that
    target belongs in ``target_host``, where its policies can protect it."""
    if not _check_not_infrastructure(value):
        check_fqdn(value)
        if value.endswith(".svc.cluster.local"):
            raise ValueError(
                f"{value!r} is a Kubernetes Service of the server cluster; name it in "
                "target_host (with target_port) instead, where its policies can protect it"
            )
        return value
    address = ipaddress.ip_address(value)
    if address.is_unspecified or address.is_multicast or value == "255.255.255.255":
        raise ValueError(
            f"{value!r} is not the address of one host (unspecified, multicast or broadcast)"
        )
    return value


def _check_ca_bundle(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return value
    if not isinstance(value, str) or "-----BEGIN CERTIFICATE-----" not in value:
        raise ValueError(
            "expected the CA certificate(s) that verify the target (PEM, '-----BEGIN "
            "CERTIFICATE-----') or a pulumi Output"
        )
    return value


class ExternalTargetTlsArgs(TypedDict):
    """The target speaks TLS: the ingress gateway originates it, verifying the target's
    certificate against ``ca_bundle_pem`` and its names."""

    ca_bundle_pem: pulumi.Input[str]
    """The CA certificate(s) that verify the target's certificate (PEM)."""
    sni: NotRequired[str]
    """The server name sent to the target; defaults to ``address`` when it is a DNS
    name, and is not sent to an IP address unless given."""
    subject_alt_names: NotRequired[list[str]]
    """The names the target's certificate must carry (one of them); defaults to
    ``[address]`` when it is a DNS name; required for an IP address."""


class ExternalTargetTls(BaseModel):
    """Validates :class:`ExternalTargetTlsArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    ca_bundle_pem: Any
    sni: Fqdn | None = None
    subject_alt_names: list[str] | None = Field(default=None, min_length=1)

    @field_validator("ca_bundle_pem")
    @classmethod
    def _pem(cls, value: Any) -> Any:
        return _check_ca_bundle(value)


class ExternalTargetArgs(TypedDict):
    """A target outside the server mesh, reached from the ingress gateway."""

    address: str
    """A DNS name (resolved by the ingress gateway) or an IP address."""
    port: int
    """The target's port (3306 for MySQL)."""
    tls: NotRequired[ExternalTargetTlsArgs]
    """Give it when the target speaks TLS; without it the ingress gateway sends the
    connection on as it arrived from the link (plain TCP inside the server network)."""


class ExternalTarget(BaseModel):
    """Validates :class:`ExternalTargetArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    address: str
    port: Port
    tls: ExternalTargetTls | None = None

    @field_validator("address")
    @classmethod
    def _reachable_host(cls, value: str) -> str:
        return check_external_address(value)

    @model_validator(mode="after")
    def _names_to_verify(self) -> ExternalTarget:
        if self.tls is not None and self.is_ip and self.tls.subject_alt_names is None:
            raise ValueError(
                f"tls.subject_alt_names: required for the IP address {self.address!r}: give "
                "the names the target's certificate carries, so the ingress gateway checks "
                "it is talking to the target and not to any holder of a certificate from "
                "that CA"
            )
        return self

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            return False
        return True

    @property
    def sni(self) -> str | None:
        if self.tls is None:
            return None
        if self.tls.sni is not None or self.is_ip:
            return self.tls.sni
        return self.address

    @property
    def subject_alt_names(self) -> list[str]:
        if self.tls is None:
            return []
        return self.tls.subject_alt_names or [self.address]


@dataclass(frozen=True)
class ServiceTarget:
    """A Kubernetes Service of the server mesh."""

    host: str
    port: int


Target = ServiceTarget | ExternalTarget
"""Where the ingress gateway sends a linked service's connections."""


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
        match = _SERVICE_HOST_RE.match(self.target_host or "")
        return match.group(1) if match else None

    @property
    def target_workload_port(self) -> int:
        return self.target_container_port or self.target.port


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

"""Where a link ends: the target's address checks and the two kinds of target.

A service's target is a Kubernetes Service of the server mesh (``target_host`` and
``target_port``), or a host or IP address outside it that the server cluster's network
reaches (``target_external``: a Cloud SQL private IP, a VM). Neither may be the cluster's
own infrastructure (API server, metadata server, link-local or loopback addresses).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshlink.validation import Fqdn, Port, check_fqdn

SERVICE_HOST_RE = re.compile(r"^[a-z0-9-]+\.([a-z0-9-]+)\.svc\.cluster\.local$")

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

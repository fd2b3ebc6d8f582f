"""Sidecar: what a workload's sidecar may reach."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field, model_validator

from meshlink.istio._base import IstioModel, IstioSpec
from meshlink.istio.common import NonEmptyLabels, PortProtocol
from meshlink.istio.networking.shared import NETWORKING, unique
from meshlink.istio.values import PortName, SidecarHost
from meshlink.validation import Port


class CaptureMode(StrEnum):
    DEFAULT = "DEFAULT"
    IPTABLES = "IPTABLES"
    NONE = "NONE"


class SidecarPort(IstioModel):
    number: Port
    protocol: PortProtocol
    name: PortName | None = None


class IstioEgressListener(IstioModel):
    """Which services the sidecar may reach (on one port, or on all ports if ``port`` is
    unset)."""

    hosts: list[SidecarHost] = Field(min_length=1)
    port: SidecarPort | None = None
    capture_mode: CaptureMode | None = None


class OutboundTrafficPolicyMode(StrEnum):
    REGISTRY_ONLY = "REGISTRY_ONLY"
    ALLOW_ANY = "ALLOW_ANY"


class OutboundTrafficPolicy(IstioModel):
    mode: OutboundTrafficPolicyMode


class WorkloadSelector(IstioModel):
    """``{labels: ...}``: the Sidecar's workload selector (a different shape from the
    ``matchLabels`` of :class:`LabelSelector`)."""

    labels: NonEmptyLabels


class Sidecar(IstioSpec):
    """Narrows what a workload's sidecar can reach; with ``REGISTRY_ONLY`` anything not in
    the registry (or not listed) is refused by the sidecar."""

    API_GROUP: ClassVar[str] = NETWORKING
    KIND: ClassVar[str] = "Sidecar"

    workload_selector: WorkloadSelector | None = None
    egress: list[IstioEgressListener] | None = Field(default=None, min_length=1)
    outbound_traffic_policy: OutboundTrafficPolicy | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Sidecar:
        if self.egress is None and self.outbound_traffic_policy is None:
            raise ValueError("set egress or outboundTrafficPolicy; an empty Sidecar is refused")
        listeners = self.egress or ()
        catch_all = [i for i, listener in enumerate(listeners) if listener.port is None]
        if len(catch_all) > 1:
            raise ValueError("only one egress listener may leave the port unset")
        if catch_all and catch_all[0] != len(listeners) - 1:
            raise ValueError("the egress listener without a port must be the last one")
        unique([lst.port.number for lst in listeners if lst.port is not None], "egress port")
        return self

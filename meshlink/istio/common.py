"""Parts shared by several kinds: protocols, port selectors and workload selectors."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from meshlink.istio._base import IstioModel
from meshlink.istio.values import LabelKey, LabelValue
from meshlink.validation import Port

__all__ = [
    "LabelSelector",
    "Labels",
    "PortProtocol",
    "PortSelector",
    "PortSelectorInput",
]


class PortProtocol(StrEnum):
    """What Istio expects on a port. ``TLS`` and ``HTTPS`` are the TLS protocols; a
    server with either must carry TLS settings, and no other protocol may."""

    HTTP = "HTTP"
    HTTPS = "HTTPS"
    HTTP2 = "HTTP2"
    GRPC = "GRPC"
    GRPC_WEB = "GRPC-WEB"
    MONGO = "MONGO"
    TCP = "TCP"
    TLS = "TLS"

    @property
    def is_tls(self) -> bool:
        return self in (PortProtocol.HTTPS, PortProtocol.TLS)

    @property
    def is_http(self) -> bool:
        return self in (
            PortProtocol.HTTP,
            PortProtocol.HTTP2,
            PortProtocol.GRPC,
            PortProtocol.GRPC_WEB,
        )


Labels = dict[LabelKey, LabelValue]
"""Kubernetes labels: valid keys and values, no wildcards (Istio refuses them in selectors)."""

NonEmptyLabels = Annotated[Labels, Field(min_length=1)]


class PortSelector(IstioModel):
    """A port on a destination, written ``{number: N}`` on the wire."""

    number: Port


def _port_shorthand(value: Any) -> Any:
    # ``port=3306`` reads better in Python than ``port=PortSelector(number=3306)``.
    if isinstance(value, int) and not isinstance(value, bool):
        return {"number": value}
    return value


PortSelectorInput = Annotated[PortSelector, BeforeValidator(_port_shorthand)]
"""A :class:`PortSelector`, also accepted as a bare port number."""


class LabelSelector(IstioModel):
    """``{matchLabels: ...}``: the selector of DestinationRule, PeerAuthentication and
    AuthorizationPolicy. An empty selector would select every workload, so at least one
    label is required; leave the selector out to mean "the whole namespace"."""

    match_labels: NonEmptyLabels

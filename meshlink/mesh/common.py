"""Value types and label conventions shared by the mesh components.

Some settings are often not known when the program starts: a static address or the
client cluster's NAT addresses come from cloud resources as ``pulumi.Output``s. Those
are accepted as they are and checked once they resolve; every plain value is checked
before anything is registered.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any

import pulumi
from pydantic import AfterValidator, ValidatorFunctionWrapHandler, WrapValidator

from meshlink.validation import check_dns1123_subdomain

EGRESS_PORT = 15443
"""The egress gateway's mesh-internal TLS port (Istio's convention for mTLS between
sidecars and gateways)."""

RESERVED_PORTS = frozenset([*range(15000, 15100), EGRESS_PORT])
"""Istio's own ports: 15000-15099 on every proxy, gateways included, and 15443, the
gateways' mTLS port (meshlink's egress gateway listens there; an existing ingress gateway
usually does too). No link or app port may use one."""

RESERVED_PORTS_TEXT = "15000-15099 and 15443"

MANAGED_BY = {"app.kubernetes.io/managed-by": "meshlink"}
"""On every Kubernetes object meshlink declares, so ``kubectl get -l`` finds them."""

_LABEL_NAME_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")


def check_label_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if prefix:
        check_dns1123_subdomain(prefix)
    if not _LABEL_NAME_RE.match(name):
        raise ValueError(
            f"label key {key!r}: the name part must be 1 to 63 letters, digits, '-', '_' or "
            "'.', starting and ending with a letter or digit"
        )
    return key


def check_label_value(value: str) -> str:
    if value and not _LABEL_NAME_RE.match(value):
        raise ValueError(
            f"label value {value!r} must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return value


def check_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    for key, value in labels.items():
        check_label_key(key)
        check_label_value(value)
    return labels


def check_selector(labels: Mapping[str, str]) -> Mapping[str, str]:
    """A selector must select something: an empty one matches every pod."""
    if not labels:
        raise ValueError("at least one label is needed; an empty selector matches every pod")
    return check_labels(labels)


Labels = Annotated[dict[str, str], AfterValidator(check_labels)]
Selector = Annotated[dict[str, str], AfterValidator(check_selector)]


def check_cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ValueError(
            f"{value!r} is not a CIDR block such as 203.0.113.7/32 ({error})"
        ) from None
    return value


def check_ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None
    return value


def _pass_outputs(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, pulumi.Output):
        return value
    return handler(value)


OrOutput = WrapValidator(_pass_outputs)
"""Marks a field whose value may be a ``pulumi.Output``; plain values are still checked."""

Cidr = Annotated[str, AfterValidator(check_cidr), OrOutput]
IpAddress = Annotated[str, AfterValidator(check_ip), OrOutput]


def is_any_source(cidr: str) -> bool:
    network = ipaddress.ip_network(cidr, strict=False)
    return network.prefixlen == 0


def validated_later(value: Any, check: Any, what: str) -> Any:
    """``value`` as an Output whose plain value has passed ``check``; the error names
    ``what`` when the check fails once the value is known."""

    def apply_check(plain: Any) -> Any:
        try:
            check(plain)
        except ValueError as error:
            raise ValueError(f"{what}: {error}") from None
        return plain

    return pulumi.Output.from_input(value).apply(apply_check)


def untyped(fields: Mapping[str, Any]) -> Any:
    """Kubernetes fields built from computed parts, handed to pulumi-kubernetes as they
    are. Its TypedDicts cannot follow values assembled in loops; the tests check the
    result against the Kubernetes schema instead."""
    return fields

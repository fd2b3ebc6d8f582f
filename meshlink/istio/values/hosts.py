"""Hosts, gateway references, IP blocks and export targets, each checked the way Istio's
own validation checks the field it belongs to."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _check_domain(value: str, *, allow_short: bool, allow_wildcard: bool) -> str:
    """A DNS name as Istio's ``ValidateWildcardDomain`` reads it, minus what it only tolerates.

    The wildcard may only be the whole left-most label; the top-level label may not be
    all digits (that would be an IP address, which these fields do not take).
    """
    if not value:
        raise ValueError("must not be empty")
    if value.endswith("."):
        raise ValueError(f"{value!r}: write the name without a trailing dot")
    if len(value) > 253:
        raise ValueError(f"{value!r} is longer than 253 characters")
    rest = value
    wildcard = value.startswith("*.")
    if wildcard:
        if not allow_wildcard:
            raise ValueError(f"{value!r}: a wildcard host is not allowed here; name one host")
        rest = value[2:]
    if "*" in rest:
        raise ValueError(
            f"{value!r}: a wildcard is only allowed as the whole left-most label ('*.example.com')"
        )
    labels = rest.split(".")
    for label in labels:
        if not _DNS_LABEL.match(label):
            raise ValueError(
                f"{value!r} is not a valid DNS name: label {label!r} must be 1 to 63 lower-case "
                "letters, digits or '-', not starting or ending with '-'"
            )
    if labels[-1].isdigit():
        raise ValueError(f"{value!r}: an IP address is not a host name here")
    if len(labels) == 1 and not allow_short and not wildcard:
        raise ValueError(
            f"{value!r} is a short name; this field needs a fully qualified name "
            "(for a Kubernetes Service: '<name>.<namespace>.svc.cluster.local')"
        )
    return value


def check_service_host(value: str) -> str:
    """DestinationRule and VirtualService hosts: a short service name (resolved in the
    namespace of the rule), an FQDN, or a ``*.`` wildcard."""
    return _check_domain(value, allow_short=True, allow_wildcard=True)


def check_destination_host(value: str) -> str:
    """A route destination names exactly one service, so no wildcard (Istio refuses ``*``;
    a wildcard suffix would route to whatever happens to match)."""
    if value == "*":
        raise ValueError("'*' is not a destination; name one service")
    return _check_domain(value, allow_short=True, allow_wildcard=False)


def check_service_entry_host(value: str) -> str:
    """ServiceEntry hosts: an FQDN or a ``*.`` wildcard, never ``*`` alone.

    Istio accepts short names here but interprets them relative to the ServiceEntry's
    namespace, which is never what an external service means.
    """
    if value == "*":
        raise ValueError("'*' is not allowed as a ServiceEntry host")
    return _check_domain(value, allow_short=False, allow_wildcard=True)


def _check_namespace_part(namespace: str, allowed_specials: tuple[str, ...], whole: str) -> None:
    if namespace in allowed_specials:
        return
    if not _DNS_LABEL.match(namespace):
        specials = ", ".join(repr(s) for s in allowed_specials)
        raise ValueError(
            f"{whole!r}: the namespace part {namespace!r} must be a namespace name or one of "
            f"{specials}"
        )


def _check_dns_name_part(dns_name: str, whole: str) -> None:
    if dns_name == "*":
        return
    try:
        _check_domain(dns_name, allow_short=False, allow_wildcard=True)
    except ValueError as error:
        raise ValueError(f"{whole!r}: {error}") from None


def check_gateway_host(value: str) -> str:
    """Gateway server hosts: ``[namespace/]dnsName``.

    The namespace may be ``*`` (any) or ``.`` (the Gateway's own); the DNS name must be
    fully qualified, may start with ``*.``, or be ``*`` to expose every VirtualService host
    of that namespace.
    """
    if "/" in value:
        namespace, dns_name = value.split("/", 1)
        _check_namespace_part(namespace, ("*", "."), value)
        _check_dns_name_part(dns_name, value)
        return value
    _check_dns_name_part(value, value)
    return value


def check_sidecar_host(value: str) -> str:
    """Sidecar egress hosts: ``namespace/dnsName`` (the namespace part is mandatory).

    The namespace may be ``*``, ``.`` or ``~`` (no namespace); the DNS name is ``*``, a
    ``*.`` wildcard or an FQDN.
    """
    if "/" not in value:
        raise ValueError(f"{value!r}: a Sidecar egress host is written 'namespace/dnsName'")
    namespace, dns_name = value.split("/", 1)
    _check_namespace_part(namespace, ("*", ".", "~"), value)
    _check_dns_name_part(dns_name, value)
    return value


def check_gateway_reference(value: str) -> str:
    """A gateway a VirtualService binds to: ``mesh``, ``<name>`` (same namespace) or
    ``<namespace>/<name>``; Istio requires both parts to be DNS labels."""
    if value == "mesh":
        return value
    parts = value.split("/", 1)
    for part in parts:
        if not _DNS_LABEL.match(part):
            raise ValueError(
                f"{value!r}: a gateway is named 'mesh', '<name>' or '<namespace>/<name>', "
                f"and {part!r} is not a valid DNS label"
            )
    return value


def sni_matches_host(sni: str, host: str) -> bool:
    """Whether every name ``sni`` can stand for is also covered by ``host``, the way Istio
    requires a TLS route's SNI hosts to be a subset of the VirtualService hosts."""
    if host == "*" or sni == host:
        return True
    if host.startswith("*."):
        suffix = host[1:]
        return sni.endswith(suffix) and sni != suffix[1:]
    return False


def _check_ip_or_cidr(value: str) -> str:
    try:
        if "/" in value:
            ipaddress.ip_network(value, strict=True)
        else:
            ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address or a CIDR block with no host bits set"
        ) from None
    return value


ServiceHost = Annotated[str, AfterValidator(check_service_host)]
"""A DestinationRule or VirtualService host: short service name, FQDN or ``*.`` wildcard."""

DestinationHost = Annotated[str, AfterValidator(check_destination_host)]
"""The one service a route sends traffic to: short service name or FQDN."""

ServiceEntryHost = Annotated[str, AfterValidator(check_service_entry_host)]
"""A ServiceEntry host: FQDN, or a ``*.`` wildcard (only with resolution ``NONE``)."""

SniHost = Annotated[str, AfterValidator(check_service_host)]
"""A TLS route SNI match: FQDN or ``*.`` wildcard."""

GatewayHost = Annotated[str, AfterValidator(check_gateway_host)]
"""A Gateway server host: ``[namespace/]dnsName``."""

SidecarHost = Annotated[str, AfterValidator(check_sidecar_host)]
"""A Sidecar egress host: ``namespace/dnsName``."""

GatewayReference = Annotated[str, AfterValidator(check_gateway_reference)]
"""``mesh``, a Gateway name, or ``namespace/name``."""

IpBlock = Annotated[str, AfterValidator(_check_ip_or_cidr)]
"""An IP address or CIDR block."""

ServiceEntryAddress = Annotated[str, Field(max_length=64), AfterValidator(_check_ip_or_cidr)]
"""A virtual IP address or CIDR block of a ServiceEntry."""

ExportTarget = Annotated[str, Field(min_length=1)]
"""``.`` (this namespace), ``*`` (all), ``~`` (none; ServiceEntry only) or a namespace."""


def check_export_to(values: list[str] | None, *, allow_none: bool) -> None:
    """The rules Istio applies to ``exportTo`` lists: known targets, no duplicates, and
    ``*`` or ``~`` only on their own."""
    if values is None:
        return
    if not values:
        raise ValueError("leave exportTo unset rather than empty (empty means the default)")
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(value)
        if value == "~" and not allow_none:
            raise ValueError("'~' (export to no namespace) is only allowed on ServiceEntry")
        if value not in {".", "*", "~"} and not _DNS_LABEL.match(value):
            raise ValueError(f"{value!r} is not '.', '*', '~' or a namespace name")
    for alone in ("*", "~"):
        if alone in seen and len(values) > 1:
            raise ValueError(f"{alone!r} cannot be combined with other exportTo entries")

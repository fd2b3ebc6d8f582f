"""The value types Istio fields accept, each checked the way Istio's own validation does.

Istio is inconsistent about what a "host" is: a DestinationRule host may be a short
Kubernetes service name, a Gateway host must be fully qualified and may carry a
``namespace/`` prefix, a Sidecar egress host must carry one, and a ServiceEntry host may
not be ``*``. Getting this wrong is accepted by the API server (the CRD schema only says
"string") and fails later, silently, inside istiod. Each kind of host therefore has its
own type here, named after the field it belongs to.

Where Istio merely warns (short names in ServiceEntry hosts, IP addresses as hosts),
these types refuse: meshlink emits what it means, so a warning would be a bug.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator
from pydantic_core import PydanticCustomError

from meshlink.validation import check_dns1123_label, check_dns1123_subdomain

__all__ = [
    "CredentialName",
    "DestinationHost",
    "Duration",
    "ExportTarget",
    "GatewayHost",
    "GatewayReference",
    "IpBlock",
    "LabelKey",
    "LabelValue",
    "PortName",
    "ProxyFilePath",
    "ServiceEntryAddress",
    "ServiceEntryHost",
    "ServiceHost",
    "SidecarHost",
    "SniHost",
    "SubjectAltName",
    "SubsetName",
    "check_destination_host",
    "check_export_to",
    "check_gateway_host",
    "check_gateway_reference",
    "check_label_key",
    "check_label_value",
    "check_service_entry_host",
    "check_service_host",
    "check_sidecar_host",
    "format_duration",
    "parse_duration",
    "sni_matches_host",
]

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


_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def check_label_key(value: str) -> str:
    """A Kubernetes label or annotation key: ``[prefix/]name``, prefix a DNS subdomain."""
    prefix, _, name = value.rpartition("/")
    if prefix:
        try:
            check_dns1123_subdomain(prefix)
        except ValueError:
            raise ValueError(
                f"{value!r}: the key prefix {prefix!r} must be a DNS subdomain"
            ) from None
    if not _LABEL_NAME.match(name):
        raise ValueError(
            f"{value!r} is not a valid label key: the name part must be 1 to 63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    return value


def check_label_value(value: str) -> str:
    """A Kubernetes label value: empty, or up to 63 letters, digits, ``-``, ``_``, ``.``.

    This also rules out ``*``, which Istio refuses in workload selectors.
    """
    if value and not _LABEL_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid label value: at most 63 letters, digits, '-', '_' or "
            "'.', starting and ending with a letter or digit"
        )
    return value


def _check_credential_name(value: str) -> str:
    """The Secret a gateway reads its certificate from.

    Istio ignores Secrets whose names start with ``istio`` or ``prometheus`` and treats a
    ``-cacert`` suffix as the CA half of another credential, so such names would fail
    without an error message anywhere.
    """
    check_dns1123_subdomain(value)
    for reserved in ("istio", "prometheus"):
        if value.startswith(reserved):
            raise ValueError(
                f"{value!r}: gateways ignore Secrets whose names start with {reserved!r}"
            )
    if value.endswith("-cacert"):
        raise ValueError(
            f"{value!r}: Istio reads '<name>-cacert' as the CA part of credential '<name>'; "
            "choose a name without that suffix"
        )
    return value


def _check_subject_alt_name(value: str) -> str:
    if not value or value != value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not a subject alternative name: no spaces, not empty")
    return value


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


class _WithheldKeyMaterial:
    """Stands in for PEM text given where a file path belongs, so that neither the
    validation error nor its ``repr`` ever carries the key."""

    def __repr__(self) -> str:
        return "<withheld: looked like PEM key or certificate material>"


def _withhold_pem(value: Any) -> Any:
    if isinstance(value, str) and ("-----BEGIN" in value or "\n" in value):
        return _WithheldKeyMaterial()
    return value


_PATH = re.compile(r"^/[A-Za-z0-9._/@+=-]*$")


def _check_proxy_file_path(value: Any) -> str:
    if isinstance(value, _WithheldKeyMaterial):
        raise PydanticCustomError(
            "key_material_not_path",
            "takes the path of a file mounted into the proxy, not certificate or key "
            "material; put the material in a Kubernetes Secret and name it in credentialName",
        )
    if not isinstance(value, str) or not _PATH.match(value):
        raise PydanticCustomError(
            "proxy_file_path", "must be an absolute file path inside the proxy container"
        )
    return value


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_NANOS = {
    "ns": Decimal(1),
    "us": Decimal(1_000),
    "µs": Decimal(1_000),
    "ms": Decimal(1_000_000),
    "s": Decimal(1_000_000_000),
    "m": Decimal(60_000_000_000),
    "h": Decimal(3_600_000_000_000),
}


def _duration_nanoseconds(value: str) -> Decimal:
    if not value:
        raise ValueError("must not be empty; write a duration such as '10s' or '250ms'")
    position = 0
    total = Decimal(0)
    while position < len(value):
        match = _DURATION_PART.match(value, position)
        if match is None:
            raise ValueError(f"{value!r} is not a duration such as '10s', '250ms' or '1h30m'")
        total += Decimal(match.group(1)) * _NANOS[match.group(2)]
        position = match.end()
    return total


def parse_duration(value: str) -> dt.timedelta:
    """Parse a Go duration string (``"10s"``, ``"1h30m"``, ``"250ms"``).

    Istio decodes durations with Go's rules and Kubernetes' CEL ``duration()`` does too,
    so this is the one syntax both the API server and istiod accept.
    """
    return dt.timedelta(microseconds=int(_duration_nanoseconds(value) // 1000))


def format_duration(value: dt.timedelta) -> str:
    """The Go duration string for ``value``: whole seconds as ``"<n>s"``, else ``"<n>ms"``."""
    micros = value // dt.timedelta(microseconds=1)
    if micros % 1_000_000 == 0:
        return f"{micros // 1_000_000}s"
    if micros % 1000 == 0:
        return f"{micros // 1000}ms"
    return f"{micros}us"


_MILLISECOND = Decimal(1_000_000)


def _check_duration(value: Any) -> str:
    if isinstance(value, dt.timedelta):
        text = format_duration(value)
        nanos = Decimal(value // dt.timedelta(microseconds=1)) * 1000
    elif isinstance(value, str):
        text = value
        nanos = _duration_nanoseconds(value)
    else:
        raise ValueError("must be a duration string such as '10s' or a datetime.timedelta")
    if nanos < _MILLISECOND:
        raise ValueError(f"{text!r}: Istio requires a duration of at least 1ms")
    if nanos % _MILLISECOND:
        raise ValueError(f"{text!r}: Istio supports durations to millisecond precision only")
    return text


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

PortName = Annotated[str, AfterValidator(check_dns1123_label)]
"""A port name (DNS label), as Istio's ``ValidatePortName`` requires."""

SubsetName = Annotated[str, AfterValidator(check_dns1123_label)]
"""A DestinationRule subset name (DNS label)."""

CredentialName = Annotated[str, AfterValidator(_check_credential_name)]
"""The name of a Secret in the gateway's namespace holding ``tls.crt``/``tls.key``/``ca.crt``."""

SubjectAltName = Annotated[str, AfterValidator(_check_subject_alt_name)]
"""A DNS name or URI (for example a SPIFFE ID) expected in the peer certificate."""

LabelKey = Annotated[str, AfterValidator(check_label_key)]
"""A Kubernetes label key."""

LabelValue = Annotated[str, AfterValidator(check_label_value)]
"""A Kubernetes label value."""

IpBlock = Annotated[str, AfterValidator(_check_ip_or_cidr)]
"""An IP address or CIDR block."""

ServiceEntryAddress = Annotated[str, Field(max_length=64), AfterValidator(_check_ip_or_cidr)]
"""A virtual IP address or CIDR block of a ServiceEntry."""

Duration = Annotated[str, PlainValidator(_check_duration, json_schema_input_type=str)]
"""A duration of at least 1ms in whole milliseconds: a Go duration string or a timedelta."""

ProxyFilePath = Annotated[
    str,
    PlainValidator(_check_proxy_file_path, json_schema_input_type=str),
    BeforeValidator(_withhold_pem),
]
"""A file mounted into the proxy container; PEM text given here is refused without echoing it."""

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

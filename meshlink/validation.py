"""Validation shared by every layer: names, hosts, ports, and readable errors.

Every public entry point (component args, stack config, Istio models) validates with
pydantic before anything is registered. This module keeps the rules for the values
that appear in several layers in one place, and turns pydantic's errors into one
message per bad setting that names the setting by its path, says what was expected
and what was found.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, Strict, ValidationError

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(rf"^{_LABEL}$")
_DNS1123_SUBDOMAIN_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


def check_dns1123_label(value: str) -> str:
    """A Kubernetes name that must be a single DNS label (namespaces, Services)."""
    if not _DNS1123_LABEL_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid RFC 1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def check_dns1123_subdomain(value: str) -> str:
    """A Kubernetes object name (most kinds): RFC 1123 subdomain, at most 253 characters."""
    if len(value) > 253 or not _DNS1123_SUBDOMAIN_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid RFC 1123 name: lower-case letters, digits, '-' and '.', "
            "each part starting and ending with a letter or digit, at most 253 characters"
        )
    return value


def check_fqdn(value: str) -> str:
    """A fully qualified DNS name with at least two labels and no wildcard.

    The link FQDN is the ServiceEntry host, the SNI, the server certificate's DNS SAN and
    the ingress Gateway host at once, so it must be valid in all four places.
    """
    if value.endswith("."):
        raise ValueError(f"{value!r}: write the FQDN without a trailing dot")
    if "*" in value:
        raise ValueError(f"{value!r}: a wildcard is not allowed here; name one host")
    if len(value) > 253:
        raise ValueError(f"{value!r} is longer than 253 characters")
    labels = value.split(".")
    if len(labels) < 2:
        raise ValueError(f"{value!r} is not fully qualified: it needs at least two DNS labels")
    for label in labels:
        if not _DNS1123_LABEL_RE.match(label):
            raise ValueError(
                f"{value!r} is not a valid FQDN: label {label!r} must be lower-case letters, "
                "digits and '-', 1 to 63 characters, not starting or ending with '-'"
            )
    return value


def check_host_pattern(value: str) -> str:
    """A host that may start with a single leading ``*.`` wildcard label, or be ``*``.

    Istio accepts a wildcard only as the whole left-most label (``*.example.com``).
    """
    if value == "*":
        return value
    if value.startswith("*."):
        rest = value[2:]
        if "." in rest:
            check_fqdn(rest)
        else:
            check_dns1123_label(rest)
        return value
    if "*" in value:
        raise ValueError(
            f"{value!r}: a wildcard is only allowed as the whole left-most label ('*.example.com')"
        )
    return check_fqdn(value)


def check_uri_san(value: str) -> str:
    """An absolute URI for a certificate's URI SAN, such as a SPIFFE ID."""
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an absolute URI such as spiffe://domain/path")
    if "*" in value:
        raise ValueError(f"{value!r}: a URI SAN cannot hold a wildcard")
    return value


SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "istio-system")
"""Namespaces of the cluster and of the mesh control plane. meshlink labels the namespaces
it is given for injection, may declare them (and so delete them on ``pulumi destroy``),
grants gateways a Role reading their Secrets and confines client namespaces with a
NetworkPolicy: none of that belongs in these. ``kube-*``:
https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#initial-namespaces;
``istio-system``: https://istio.io/latest/docs/setup/install/istioctl/."""


def check_not_system_namespace(value: str) -> str:
    """A namespace for workloads meshlink configures, never one of :data:`SYSTEM_NAMESPACES`."""
    if value in SYSTEM_NAMESPACES:
        raise ValueError(
            f"{value!r} is a system namespace (of Kubernetes or of the mesh control plane); "
            "meshlink would label it for injection and confine or grant access in it; "
            "use a namespace of its own"
        )
    return value


def check_single_line(value: str) -> str:
    """Text that ends up in a certificate or a label: a line break would forge a second
    line in every log or file that shows it."""
    if any(c in value for c in "\r\n\x00"):
        raise ValueError("must be a single line (no line break or NUL character)")
    return value


_IMAGE_RE = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")


def check_image(value: str) -> str:
    """An image pinned by tag or digest: ``latest`` or no tag would change under a running
    demo without any change in the program."""
    if not _IMAGE_RE.match(value):
        raise ValueError(
            f"{value!r} is not an image reference pinned by tag or digest, such as "
            "'mysql:8.4.3' or 'mysql@sha256:<64 hex digits>'"
        )
    if value.endswith(":latest"):
        raise ValueError(f"{value!r}: 'latest' is not a pin; name a version")
    return value


def covers_all_addresses(cidrs: Sequence[str]) -> str | None:
    """``0.0.0.0/0`` or ``::/0`` when the ranges together cover every address of that
    family (``0.0.0.0/0`` itself, or the ``/1`` halves, or any other split), else None.

    A list is checked as a whole because an allowlist of two halves is as open as one
    ``0.0.0.0/0``; string matching would miss it."""
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    if v4 and ipaddress.IPv4Network("0.0.0.0/0") in ipaddress.collapse_addresses(v4):
        return "0.0.0.0/0"
    if v6 and ipaddress.IPv6Network("::/0") in ipaddress.collapse_addresses(v6):
        return "::/0"
    return None


Fqdn = Annotated[str, AfterValidator(check_fqdn)]
"""A DNS name with at least two labels, no wildcard, no trailing dot."""

HostPattern = Annotated[str, AfterValidator(check_host_pattern)]
"""A DNS name that may start with a ``*.`` wildcard label, or ``*``."""

KubernetesName = Annotated[str, AfterValidator(check_dns1123_subdomain)]
"""A Kubernetes object name (RFC 1123 subdomain)."""

KubernetesLabel = Annotated[str, AfterValidator(check_dns1123_label)]
"""A Kubernetes name that must be one DNS label (namespace, Service)."""

WorkloadNamespace = Annotated[
    str, AfterValidator(check_dns1123_label), AfterValidator(check_not_system_namespace)
]
"""A namespace of workloads meshlink configures: not a system namespace."""

SingleLine = Annotated[str, AfterValidator(check_single_line)]
"""Text without line breaks."""

ImageRef = Annotated[str, AfterValidator(check_image)]
"""A container image pinned by tag (not ``latest``) or by digest."""

Port = Annotated[int, Strict(), Field(ge=1, le=65535)]
"""A TCP port number. Strict: ``true`` is not port 1 and ``"13306"`` is not 13306; a
value of the wrong type is a mistake to report, not to repair."""

WirePort = Annotated[int, Field(ge=1, le=65535)]
"""A port in an Istio object read back from the wire, where some ports are strings
(``AuthorizationPolicy`` operation ports, ``PeerAuthentication.portLevelMtls`` keys:
https://istio.io/latest/docs/reference/config/security/). Only for those fields."""

TrustDomain = Annotated[str, AfterValidator(check_dns1123_subdomain)]
"""A mesh trust domain (``cluster.local``, ``<project>.svc.id.goog``)."""


class MeshlinkValidationError(ValueError):
    """Bad input to a meshlink component or stack configuration.

    Raised before any resource is registered, so nothing is half-declared.
    ``problems`` holds one line per offending setting.
    """

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        self.where = where
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{where}: invalid settings:\n{lines}")


def format_location(loc: Sequence[str | int]) -> str:
    """``("services", 0, "link_port")`` -> ``services[0].link_port``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe_input(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_validation_error(
    error: ValidationError, *, prefix: str = "", show_input: bool = True
) -> list[str]:
    """One line per problem: ``<prefix><path>: <what was expected> (found: <value>)``.

    ``show_input`` is False for models that may carry key material, so a private key
    never ends up in an exception message.
    """
    problems = []
    for item in error.errors(include_url=False):
        path = prefix + format_location(item["loc"]) if item["loc"] else prefix.rstrip(".:")
        message = item["msg"].removeprefix("Value error, ")
        found = ""
        if show_input and item["type"] not in {"missing", "value_error"}:
            found = f" (found: {_describe_input(item.get('input'))})"
        problems.append(f"{path}: {message}{found}")
    return problems


ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_args(
    model: type[ModelT],
    args: Mapping[str, Any] | ModelT,
    *,
    where: str,
    prefix: str = "",
    show_input: bool = True,
) -> ModelT:
    """Validate ``args`` with ``model`` or raise one :class:`MeshlinkValidationError`."""
    if isinstance(args, model):
        return args
    try:
        return model.model_validate(dict(args))
    except ValidationError as error:
        problems = describe_validation_error(error, prefix=prefix, show_input=show_input)
        raise MeshlinkValidationError(where, problems) from None

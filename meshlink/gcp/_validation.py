"""Validators for the values that only the GCP layer sees: project ids, locations, resource
names, labels and IPv4 ranges.

They are pydantic ``Annotated`` types so that a bad value is reported by
``meshlink.validation.validate_args`` with the path of the setting, before any resource is
registered. Every message says what was expected and repeats the bad value, because the
shared formatter does not print the input for value errors.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

import pulumi
from pydantic import AfterValidator

_PROJECT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_ZONE_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")
_RESOURCE_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")

# Ranges a VPC subnet, a GKE secondary range or a control-plane block may use here.
# Privately used public addresses are possible on GCP but are not accepted: a link between
# regulated networks should never route a public block internally.
PRIVATE_BLOCKS: tuple[ipaddress.IPv4Network, ...] = (
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("172.16.0.0/12"),
    ipaddress.IPv4Network("192.168.0.0/16"),
    ipaddress.IPv4Network("100.64.0.0/10"),
)


PUBLIC_DOMAINS_CLUSTERS_NEED = (
    "googleapis.com",
    "gcr.io",
    "pkg.dev",
    "google.internal",
)
"""Domains a GKE cluster resolves to work: Google APIs and the container registries
(https://cloud.google.com/vpc/docs/configure-private-google-access#domain-options), and
the metadata server (metadata.google.internal). meshlink's own googleapis zone
(``GoogleApisPrivateDns``) maps googleapis.com deliberately and is not checked here."""


def check_link_zone(value: str) -> str:
    """A link's private zone answers for every name under it inside the client VPC: one
    equal to, above or below a domain the cluster needs would shadow it."""
    for needed in PUBLIC_DOMAINS_CLUSTERS_NEED:
        if value == needed or needed.endswith(f".{value}") or value.endswith(f".{needed}"):
            raise ValueError(
                f"{value!r} would shadow {needed}, which the cluster resolves to work (Google "
                "APIs, image registries, the metadata server); name the link's services under "
                "a domain of your own"
            )
    return value


def check_project_id(value: str) -> str:
    if not _PROJECT_ID_RE.match(value):
        raise ValueError(
            f"{value!r} is not a GCP project id: 6 to 30 lower-case letters, digits and '-', "
            "starting with a letter and not ending with '-'"
        )
    return value


def check_region(value: str) -> str:
    if not _REGION_RE.match(value):
        raise ValueError(f"{value!r} is not a GCP region such as 'europe-west1'")
    return value


def check_location(value: str) -> str:
    """A region (regional cluster) or a zone (zonal cluster)."""
    if not (_REGION_RE.match(value) or _ZONE_RE.match(value)):
        raise ValueError(
            f"{value!r} is neither a GCP region ('europe-west1') nor a zone ('europe-west1-b')"
        )
    return value


def check_zone(value: str) -> str:
    if not _ZONE_RE.match(value):
        raise ValueError(f"{value!r} is not a GCP zone such as 'europe-west1-b'")
    return value


def region_of(location: str) -> str:
    """``europe-west1-b`` -> ``europe-west1``; a region is returned unchanged."""
    return location.rsplit("-", 1)[0] if _ZONE_RE.match(location) else location


def resource_name_checker(max_length: int, what: str) -> AfterValidator:
    """A lower-case RFC 1035 name of at most ``max_length`` characters, as most GCP
    resource names must be."""

    def check(value: str) -> str:
        if len(value) > max_length or not _RESOURCE_NAME_RE.match(value):
            raise ValueError(
                f"{value!r} is not a valid {what}: lower-case letters, digits and '-', "
                f"starting with a letter, not ending with '-', at most {max_length} characters"
            )
        return value

    return AfterValidator(check)


GcpName = Annotated[str, resource_name_checker(63, "GCP resource name")]
"""A name for a network, subnet, router, address, firewall rule or DNS zone."""

ClusterName = Annotated[str, resource_name_checker(40, "GKE cluster name")]
"""A GKE cluster name (at most 40 characters)."""

ProjectId = Annotated[str, AfterValidator(check_project_id)]
Region = Annotated[str, AfterValidator(check_region)]
Location = Annotated[str, AfterValidator(check_location)]
Zone = Annotated[str, AfterValidator(check_zone)]


def check_labels(value: dict[str, str]) -> dict[str, str]:
    for key, label in value.items():
        if not _LABEL_KEY_RE.match(key):
            raise ValueError(
                f"label key {key!r} must start with a lower-case letter and hold only "
                "lower-case letters, digits, '_' and '-' (at most 63 characters)"
            )
        if not _LABEL_VALUE_RE.match(label):
            raise ValueError(
                f"label {key}={label!r}: values hold only lower-case letters, digits, '_' and "
                "'-' (at most 63 characters)"
            )
    return value


Labels = Annotated[dict[str, str], AfterValidator(check_labels)]
"""GCP resource labels."""


def parse_private_range(value: str) -> ipaddress.IPv4Network:
    """An IPv4 CIDR block inside RFC 1918 or RFC 6598 space, with no host bits set."""
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(f"{value!r} is not an IPv4 CIDR block such as '10.10.0.0/20'")
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 CIDR block such as '10.10.0.0/20'") from None
    if str(network) != value:
        raise ValueError(
            f"{value!r} has host bits set or is not in canonical form; did you mean "
            f"{str(network)!r}?"
        )
    if not any(network.subnet_of(block) for block in PRIVATE_BLOCKS):
        allowed = ", ".join(str(b) for b in PRIVATE_BLOCKS)
        raise ValueError(f"{value!r} is not inside the private address space ({allowed})")
    return network


def cidr_checker(*, shortest: int, longest: int) -> AfterValidator:
    """A private IPv4 CIDR block whose prefix length lies in ``[shortest, longest]``."""

    def check(value: str) -> str:
        network = parse_private_range(value)
        if not shortest <= network.prefixlen <= longest:
            size = (
                f"exactly /{shortest}"
                if shortest == longest
                else f"between /{shortest} and /{longest}"
            )
            raise ValueError(f"{value!r} is a /{network.prefixlen}; the prefix must be {size}")
        return value

    return AfterValidator(check)


def _check_str_input(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return value
    if isinstance(value, str) and value:
        return value
    raise ValueError(f"expected a non-empty string or a pulumi Output, found {value!r}")


StrInput = Annotated[Any, AfterValidator(_check_str_input)]
"""A ``pulumi.Input[str]``: a plain string (checked) or another resource's output."""


def _check_address(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return value
    return str(check_host_address(value))


def check_host_address(value: Any) -> ipaddress.IPv4Address:
    """One IPv4 address, never a range and never the unspecified address: it becomes a /32
    in an allowlist, so anything wider would open the gateway."""
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a single IPv4 address such as '203.0.113.7'") from None
    if address.is_unspecified:
        raise ValueError(f"{value!r} would allow every source; give a NAT address")
    return address


AddressInput = Annotated[Any, AfterValidator(_check_address)]
"""A ``pulumi.Input[str]`` holding one IPv4 address."""

"""Kubernetes label keys and values, and the DNS-label names of ports and subsets."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from meshlink.validation import check_dns1123_label, check_dns1123_subdomain

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


PortName = Annotated[str, AfterValidator(check_dns1123_label)]
"""A port name (DNS label), as Istio's ``ValidatePortName`` requires."""

SubsetName = Annotated[str, AfterValidator(check_dns1123_label)]
"""A DestinationRule subset name (DNS label)."""

LabelKey = Annotated[str, AfterValidator(check_label_key)]
"""A Kubernetes label key."""

LabelValue = Annotated[str, AfterValidator(check_label_value)]
"""A Kubernetes label value."""

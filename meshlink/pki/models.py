"""Arguments shared by the PKI components: key choice, certificate subject, lifetimes.

The key rules live here once so that a root CA, an issuing CA and a leaf refuse the same
weak choices with the same words.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

import pulumi_tls as tls
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from meshlink.validation import check_single_line

Rotation = Annotated[str, AfterValidator(check_single_line)] | Annotated[int, Strict()]
"""A value whose change replaces the resources it is attached to (through Pulumi's
``replacement_trigger``). Use a date or a counter, e.g. ``"2025-06"`` or ``3``."""

STRONG_ECDSA_CURVES = ("P256", "P384")
"""Curves offered for link keys. P-521 is left out because TLS stacks support it
unevenly (BoringSSL, in Envoy, does not offer it by default), P-224 because it is weak."""

STRONG_RSA_BITS = (2048, 3072, 4096)


class KeyArgs(TypedDict, total=False):
    """Which key to generate. The default is ECDSA P-256."""

    algorithm: Literal["ECDSA", "RSA"]
    """``ECDSA`` (default) or ``RSA``."""
    ecdsa_curve: Literal["P256", "P384", "P224"]
    """Curve for ECDSA keys: ``P256`` (default) or ``P384``. ``P224`` needs
    ``allow_weak_keys``."""
    rsa_bits: int
    """Size of RSA keys: 2048 (default), 3072 or 4096. Below 2048 needs
    ``allow_weak_keys``."""
    allow_weak_keys: bool
    """Accept RSA keys under 2048 bits and P-224, for a peer that cannot do better.
    Off by default: these keys are below every current guideline (NIST SP 800-57, BSI
    TR-02102)."""


class KeyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Literal["ECDSA", "RSA"] = "ECDSA"
    ecdsa_curve: str = "P256"
    rsa_bits: int = 2048
    allow_weak_keys: bool = False

    @model_validator(mode="after")
    def _strong_enough(self) -> KeyModel:
        if self.algorithm == "ECDSA":
            if self.ecdsa_curve == "P224":
                if not self.allow_weak_keys:
                    raise ValueError(
                        "ECDSA curve P224 is too weak for a link key (112-bit security); use "
                        "P256 or P384, or set allow_weak_keys: true if a peer leaves no choice"
                    )
            elif self.ecdsa_curve not in STRONG_ECDSA_CURVES:
                raise ValueError(
                    f"ECDSA curve {self.ecdsa_curve!r} is not offered; use P256 or P384"
                )
        elif self.rsa_bits < 2048:
            if not self.allow_weak_keys:
                raise ValueError(
                    f"RSA keys of {self.rsa_bits} bits are too weak for a link key; use 2048, "
                    "3072 or 4096, or set allow_weak_keys: true if a peer leaves no choice"
                )
            if self.rsa_bits < 1024:
                raise ValueError(f"RSA keys of {self.rsa_bits} bits cannot be generated")
        elif self.rsa_bits not in STRONG_RSA_BITS:
            raise ValueError(f"rsa_bits must be 2048, 3072 or 4096, not {self.rsa_bits}")
        return self

    @property
    def is_rsa(self) -> bool:
        return self.algorithm == "RSA"

    def private_key_args(self) -> dict[str, Any]:
        """Keyword arguments for ``pulumi_tls.PrivateKey``."""
        if self.algorithm == "RSA":
            return {"algorithm": "RSA", "rsa_bits": self.rsa_bits}
        return {"algorithm": "ECDSA", "ecdsa_curve": self.ecdsa_curve}


_Text = Annotated[
    str,
    AfterValidator(check_single_line),
    StringConstraints(min_length=1, max_length=64, strip_whitespace=True),
]
"""RFC 5280's upper bound for CN, O, OU, L and ST is 64 characters."""


class SubjectArgs(TypedDict, total=False):
    """The distinguished name written into a certificate."""

    common_name: str
    """CN, at most 64 characters."""
    organization: str
    """O."""
    organizational_unit: str
    """OU."""
    country: str
    """C, a two-letter ISO 3166 code."""
    province: str
    """ST."""
    locality: str
    """L."""


class SubjectModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    common_name: _Text | None = None
    organization: _Text | None = None
    organizational_unit: _Text | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    province: _Text | None = None
    locality: _Text | None = None

    def is_empty(self) -> bool:
        return not any(self.model_dump().values())

    def tls_args(self) -> dict[str, str]:
        """The fields that are set, under pulumi-tls's argument names."""
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def self_signed_subject(self) -> tls.SelfSignedCertSubjectArgs:
        return tls.SelfSignedCertSubjectArgs(**self.tls_args())

    def request_subject(self) -> tls.CertRequestSubjectArgs:
        return tls.CertRequestSubjectArgs(**self.tls_args())


class CaSubjectModel(SubjectModel):
    """A CA's subject must name it: RFC 5280 4.1.2.6, and pulumi-tls refuses an empty one."""

    common_name: _Text


Hours = Annotated[int, Field(ge=1)]

HOURS_PER_DAY = 24
HOURS_PER_YEAR = 8760


def check_lifetime(validity_hours: int, early_renewal_hours: int, what: str) -> None:
    """An early-renewal window must leave part of the lifetime before it, or every
    refresh would find the certificate due and replace it."""
    if early_renewal_hours >= validity_hours:
        raise ValueError(
            f"{what}early_renewal_hours ({early_renewal_hours}) must be less than "
            f"validity_hours ({validity_hours})"
        )


def rotation_trigger(*values: Rotation | None) -> Any:
    """A replacement trigger from one or more rotation values; ``None`` when none is set,
    so that declaring no rotation adds no trigger at all."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if len(values) == 1:
        return present[0]
    return [("" if v is None else v) for v in values]

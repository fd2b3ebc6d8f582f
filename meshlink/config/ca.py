"""The ``ca`` key (generated, bring-your-own or externally signed), the bring-your-own
CA's PEMs from secret configuration, and the leaves' lifetime checked against the CA."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pulumi.runtime.config as runtime_config
from pydantic import BaseModel

from meshlink.config.reader import INVALID, MISSING, ConfigReader
from meshlink.config.sections import (
    CaSection,
    ExistingCaSection,
    ExternalCaSection,
    GeneratedCaSection,
)
from meshlink.pki import read_secret_config
from meshlink.pki.leaf import LeafLifetime
from meshlink.pki.x509_checks import CertificateProblem, hours_left, load_certificate, utc_now
from meshlink.validation import MeshlinkValidationError

CA_CERT_KEY = "ca_cert_pem"
CA_KEY_KEY = "ca_key_pem"
"""Secret keys holding a bring-your-own CA's certificate and private key."""


_CA_MODELS: dict[str, type[BaseModel]] = {
    "generate": GeneratedCaSection,
    "existing": ExistingCaSection,
    "external": ExternalCaSection,
}


@dataclass(frozen=True)
class CaSettings:
    """The validated ``ca`` key, with a bring-your-own CA's PEMs read from secret config."""

    section: CaSection
    namespace: str
    cert_pem: str | None = None
    key_pem: str | None = field(default=None, repr=False)


def read_ca_settings(reader: ConfigReader) -> CaSettings | None:
    section = _ca(reader)
    if section is None:
        return None
    if isinstance(section, ExistingCaSection):
        pems = _existing_ca_pems(reader)
        if pems is None:
            return None
        return CaSettings(section, reader.namespace, cert_pem=pems[0], key_pem=pems[1])
    return CaSettings(section, reader.namespace)


def _ca(reader: ConfigReader) -> CaSection | None:
    value = reader.raw("ca")
    reader.known.update({CA_CERT_KEY, CA_KEY_KEY})
    if value is INVALID:
        return None
    if value is MISSING:
        reader.problems.append(
            f"{reader.path('ca')}: is required (mode: generate, existing or external)"
        )
        return None
    if not isinstance(value, dict):
        return reader.wrong_shape("ca", "an object", value)
    mode = value.get("mode", "generate")
    model = _CA_MODELS.get(mode) if isinstance(mode, str) else None
    if model is None:
        reader.problems.append(
            f"{reader.path('ca')}.mode: expected generate, existing or external (found: {mode!r})"
        )
        return None
    section = reader.part(model, value, f"{reader.path('ca')}.", secret=reader.is_secret("ca"))
    if not isinstance(section, ExistingCaSection):
        for key in (CA_CERT_KEY, CA_KEY_KEY):
            if runtime_config.get_config(reader.path(key)):
                reader.problems.append(
                    f"{reader.path(key)}: is set, but {reader.path('ca')}.mode is {mode}; "
                    "it is read only with mode: existing (remove it)"
                )
    return cast(CaSection | None, section)


def _existing_ca_pems(reader: ConfigReader) -> tuple[str, str] | None:
    pems: list[str] = []
    for key in (CA_CERT_KEY, CA_KEY_KEY):
        try:
            pems.append(read_secret_config(key, namespace=reader.namespace))
        except MeshlinkValidationError as error:
            reader.problems.extend(error.problems)
    return (pems[0], pems[1]) if len(pems) == 2 else None


def read_leaf_lifetime(reader: ConfigReader, ca: CaSettings | None) -> LeafLifetime | None:
    """The leaves' lifetime, checked against a generated CA's signing certificate: a leaf
    that outlives its issuer fails verification before it expires."""
    lifetime = reader.section(LeafLifetime, "leaf_lifetime", required=False)
    if lifetime is None or ca is None:
        return lifetime
    setting = f"{reader.path('leaf_lifetime')}.validity_hours"
    section = ca.section
    if isinstance(section, GeneratedCaSection):
        short = section.leaves_problem(lifetime.validity_hours, setting)
        if short:
            reader.problems.append(f"{reader.path('ca')}.{short}")
        return lifetime
    # A certificate given in config has a known expiry: checked here, before the CA is
    # declared, with the clock its component checks expiry with. A certificate that does
    # not parse is reported by that component.
    signer_pem, signer_key = (
        (ca.cert_pem, reader.path(CA_CERT_KEY))
        if isinstance(section, ExistingCaSection)
        else (section.signed_cert_pem, f"{reader.path('ca')}.signed_cert_pem")
    )
    if not signer_pem:
        return lifetime
    try:
        signer = load_certificate(signer_pem, signer_key)
    except CertificateProblem:
        return lifetime
    left = hours_left(signer, utc_now())
    if lifetime.validity_hours > left:
        reader.problems.append(
            f"{setting} ({lifetime.validity_hours}) is longer than {signer_key} has left to "
            f"live ({left} hours): the leaves would outlive their issuer and fail "
            "verification before they expire; shorten the leaves or renew the CA first"
        )
    return lifetime

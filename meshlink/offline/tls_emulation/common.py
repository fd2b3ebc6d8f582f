"""What every emulated resource shares: the resource types, the error that names the
resource and the input, and reading a whole-number input."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class EmulationError(ValueError):
    """An input the real provider would refuse."""


def fail(typ: str, name: str, message: str) -> EmulationError:
    short = typ.rsplit(":", 1)[-1]
    return EmulationError(f"{short} {name!r}: {message}")


def int_input(typ: str, name: str, inputs: Mapping[str, Any], key: str, default: int) -> int:
    value = inputs.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise fail(typ, name, f"{key} must be a whole number, got {value!r}")
    return int(value)


def hash_for_state(value: bytes) -> str:
    return hashlib.sha1(value.strip(), usedforsecurity=False).hexdigest()

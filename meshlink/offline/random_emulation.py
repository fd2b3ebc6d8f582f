"""Offline emulation of the pulumi-random resources that make secrets: ``RandomPassword`` and
``RandomString``.

It follows the Terraform random provider (which pulumi-random bridges):

- the character set is the union of the enabled classes (upper, lower, numeric, special;
  all on by default), special being ``!@#$%&*()-_=+[]{}<>:?`` unless ``overrideSpecial``
  replaces it;
- ``min*`` characters of each class are drawn first, from that class alone, even when the
  class itself is switched off (the provider does the same), the rest from the whole set,
  and the result is shuffled;
- ``length`` must be at least 1 and at least the sum of the ``min*`` settings;
- the outputs are the inputs with their defaults filled in (``number`` mirrors
  ``numeric``), ``result``, and for a password ``bcryptHash``: a real bcrypt hash (cost
  10, ``$2a$``, the password cut at 72 bytes as the provider cuts it), so a program that
  hands the hash to something else sees a valid one.

Where it differs from the real provider, on purpose: every draw comes from
HMAC-SHA-256(seed, resource name) through a SHAKE-256 stream instead of the operating
system's random source, and the bcrypt salt is derived the same way. Two runs with the same
seed and name give the same password, which keeps renders byte-identical. These values are
for tests and rendering only: a real ``pulumi up`` gets real randomness from the provider.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from meshlink.extras import require_extra

require_extra("offline", "rendering offline (meshlink render)")

import bcrypt

PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"  # noqa: S105 (a type token)
STRING_TYPE = "random:index/randomString:RandomString"

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
NUMERIC = "0123456789"
SPECIAL = "!@#$%&*()-_=+[]{}<>:?"

BCRYPT_COST = 10
"""The provider uses Go's ``bcrypt.DefaultCost``."""
BCRYPT_MAX_BYTES = 72

_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_STANDARD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TO_BCRYPT = str.maketrans(_STANDARD_ALPHABET, _BCRYPT_ALPHABET)


class RandomEmulationError(ValueError):
    """Inputs the provider would refuse; the message names the resource and the input."""


class _Stream:
    """An endless deterministic byte stream for one resource and purpose."""

    def __init__(self, seed: str, name: str, purpose: str) -> None:
        key = hmac.new(seed.encode(), f"{purpose}\x1f{name}".encode(), hashlib.sha256).digest()
        self._shake = hashlib.shake_256(key)
        self._offset = 0

    def read(self, count: int) -> bytes:
        data = self._shake.digest(self._offset + count)[self._offset :]
        self._offset += count
        return data

    def below(self, limit: int) -> int:
        """A uniform integer in ``[0, limit)``, by rejection sampling (no modulo bias)."""
        bits = max(limit - 1, 1).bit_length()
        width = (bits + 7) // 8
        mask = (1 << bits) - 1
        while True:
            value = int.from_bytes(self.read(width), "big") & mask
            if value < limit:
                return value


def _flag(inputs: Mapping[str, Any], key: str) -> bool:
    value = inputs.get(key)
    return True if value is None else bool(value)


def _count(typ: str, name: str, inputs: Mapping[str, Any], key: str) -> int:
    value = inputs.get(key, 0) or 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise RandomEmulationError(f"{typ} {name!r}: {key} must be a whole number")
    if value < 0:
        raise RandomEmulationError(f"{typ} {name!r}: {key} must not be negative")
    return int(value)


def _settings(typ: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs with the provider's defaults filled in, as it reports them back."""
    length = inputs.get("length")
    if length is None:
        raise RandomEmulationError(f"{typ} {name!r}: length is required")
    numeric = inputs.get("numeric")
    if numeric is None:
        numeric = inputs.get("number")
    numeric = True if numeric is None else bool(numeric)
    settings: dict[str, Any] = {
        "length": _count(typ, name, {"length": length}, "length"),
        "upper": _flag(inputs, "upper"),
        "lower": _flag(inputs, "lower"),
        "numeric": numeric,
        "number": numeric,
        "special": _flag(inputs, "special"),
        "minUpper": _count(typ, name, inputs, "minUpper"),
        "minLower": _count(typ, name, inputs, "minLower"),
        "minNumeric": _count(typ, name, inputs, "minNumeric"),
        "minSpecial": _count(typ, name, inputs, "minSpecial"),
    }
    if inputs.get("overrideSpecial") is not None:
        settings["overrideSpecial"] = str(inputs["overrideSpecial"])
    if inputs.get("keepers") is not None:
        settings["keepers"] = dict(inputs["keepers"])
    minimum = sum(settings[k] for k in ("minUpper", "minLower", "minNumeric", "minSpecial"))
    if settings["length"] < 1 or settings["length"] < minimum:
        raise RandomEmulationError(
            f"{typ} {name!r}: length ({settings['length']}) must be at least 1 and at least "
            f"minUpper + minLower + minNumeric + minSpecial ({minimum})"
        )
    return settings


def generate(settings: Mapping[str, Any], stream: _Stream) -> str:
    """Draw a string the way the provider does, from ``stream``."""
    special = settings.get("overrideSpecial") or SPECIAL
    classes = (
        (UPPER, settings["upper"], settings["minUpper"]),
        (LOWER, settings["lower"], settings["minLower"]),
        (NUMERIC, settings["numeric"], settings["minNumeric"]),
        (special, settings["special"], settings["minSpecial"]),
    )
    alphabet = "".join(chars for chars, enabled, _ in classes if enabled)
    if not alphabet:
        raise RandomEmulationError("the character set specified is empty")
    drawn: list[str] = []
    for chars, _, minimum in classes:
        drawn += [chars[stream.below(len(chars))] for _ in range(minimum)]
    drawn += [alphabet[stream.below(len(alphabet))] for _ in range(settings["length"] - len(drawn))]
    # Fisher-Yates: every order equally likely.
    for index in range(len(drawn) - 1, 0, -1):
        other = stream.below(index + 1)
        drawn[index], drawn[other] = drawn[other], drawn[index]
    return "".join(drawn)


def bcrypt_hash(password: str, stream: _Stream) -> str:
    """A ``$2a$10$`` hash of ``password`` with a salt drawn from ``stream``."""
    salt = base64.b64encode(stream.read(16)).decode().rstrip("=").translate(_TO_BCRYPT)
    setting = f"$2a${BCRYPT_COST:02d}${salt}".encode()
    return bcrypt.hashpw(password.encode()[:BCRYPT_MAX_BYTES], setting).decode()


def emulate(typ: str, name: str, inputs: Mapping[str, Any], *, seed: str) -> tuple[str, dict]:
    """The id and outputs the provider would report for a new ``typ`` named ``name``."""
    if typ not in (PASSWORD_TYPE, STRING_TYPE):
        raise NotImplementedError(f"no offline emulation for {typ}")
    settings = _settings(typ, name, inputs)
    result = generate(settings, _Stream(seed, name, "characters"))
    outputs = {**settings, "result": result}
    if typ == PASSWORD_TYPE:
        outputs["bcryptHash"] = bcrypt_hash(result, _Stream(seed, name, "bcrypt-salt"))
        # The provider gives every password the same id, so the id never reveals it.
        return "none", outputs
    return result, outputs

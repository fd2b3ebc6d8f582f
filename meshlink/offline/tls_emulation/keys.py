"""Private keys: generated deterministically from the seed and the resource name, written
in the provider's formats (PEM and OpenSSH), loaded from PEM inputs, and what signing with
them takes."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import math
import struct
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from meshlink.offline.tls_emulation.common import (
    PRIVATE_KEY,
    PrivateKey,
    PublicKey,
    fail,
    hash_for_state,
    int_input,
)

ECDSA_CURVES: dict[str, ec.EllipticCurve] = {
    "P224": ec.SECP224R1(),
    "P256": ec.SECP256R1(),
    "P384": ec.SECP384R1(),
    "P521": ec.SECP521R1(),
}

_SSH_CURVE_NAMES = {"secp256r1": "nistp256", "secp384r1": "nistp384", "secp521r1": "nistp521"}


# --- deterministic randomness -------------------------------------------------------------


class _Stream:
    """A deterministic byte stream: SHAKE-256 over a key and a block counter."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._counter = 0

    def read(self, n: int) -> bytes:
        out = hashlib.shake_256(self._key + struct.pack(">Q", self._counter)).digest(n)
        self._counter += 1
        return out

    def integer(self, bits: int) -> int:
        raw = int.from_bytes(self.read((bits + 7) // 8), "big")
        return raw >> ((8 - bits % 8) % 8)


def _stream(seed: str, name: str, purpose: str) -> _Stream:
    key = hmac.new(seed.encode(), f"{purpose}\0{name}".encode(), hashlib.sha256).digest()
    return _Stream(key)


@functools.cache
def _small_primes(limit: int = 1 << 16) -> tuple[int, ...]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\0\0"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, limit, i)))
    return tuple(i for i in range(3, limit) if sieve[i])


def _probably_prime(n: int, stream: _Stream, rounds: int) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        a = 2 + stream.integer(n.bit_length()) % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(stream: _Stream, bits: int, public_exponent: int) -> int:
    """A prime of exactly ``bits`` bits with its top two bits set (so that the product of
    two such primes has exactly twice as many bits), and ``p - 1`` coprime to the public
    exponent. Candidates are sieved in windows by the small primes before Miller-Rabin,
    which keeps a 2048-bit prime to about a second of CPU."""
    window = 4096
    primes = _small_primes()
    while True:
        base = stream.integer(bits) | (3 << (bits - 2)) | 1
        # Index i stands for base + 2i; mark the indices divisible by a small prime.
        composite = bytearray(window)
        for p in primes:
            start = (-base * pow(2, -1, p)) % p
            composite[start::p] = b"\1" * len(range(start, window, p))
        for i in range(window):
            if composite[i]:
                continue
            candidate = base + 2 * i
            if candidate.bit_length() != bits:
                break
            if (candidate - 1) % public_exponent == 0:
                continue
            if _probably_prime(candidate, stream, rounds=1) and _probably_prime(
                candidate, stream, rounds=5
            ):
                return candidate


def _rsa_key(stream: _Stream, bits: int) -> rsa.RSAPrivateKey:
    e = 65537
    while True:
        p = _prime(stream, bits - bits // 2, e)
        q = _prime(stream, bits // 2, e)
        if p == q or (p * q).bit_length() != bits:
            continue
        d = pow(e, -1, math.lcm(p - 1, q - 1))
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=rsa.rsa_crt_dmp1(d, p),
            dmq1=rsa.rsa_crt_dmq1(d, q),
            iqmp=rsa.rsa_crt_iqmp(p, q),
            public_numbers=rsa.RSAPublicNumbers(e, p * q),
        )
        return numbers.private_key()


@functools.lru_cache(maxsize=256)
def _generated_key_der(seed: str, name: str, algorithm: str, curve: str, bits: int) -> bytes:
    """PKCS #8 DER of the key for this (seed, name, algorithm): cached, because RSA prime
    searches cost seconds and tests declare the same keys many times."""
    stream = _stream(seed, name, f"private-key/{algorithm}/{curve}/{bits}")
    key: PrivateKey
    if algorithm == "ECDSA":
        curve_obj = ECDSA_CURVES[curve]
        # In [1, 2^(n-1)): always below the group order of the NIST curves.
        scalar = 1 + stream.integer(curve_obj.key_size + 64) % ((1 << (curve_obj.key_size - 1)) - 1)
        key = ec.derive_private_key(scalar, curve_obj)
    elif algorithm == "ED25519":
        key = ed25519.Ed25519PrivateKey.from_private_bytes(stream.read(32))
    else:
        key = _rsa_key(stream, bits)
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --- the PrivateKey resource --------------------------------------------------------------


def _openssh_private_key(key: PrivateKey, seed: str, name: str) -> str:
    """OpenSSH's private key format with the check integers derived, not random."""
    text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    lines = text.strip().splitlines()
    blob = bytearray(base64.b64decode("".join(lines[1:-1])))
    offset = len(b"openssh-key-v1\0")
    for _ in range(3):  # cipher name, kdf name, kdf options
        (length,) = struct.unpack(">I", blob[offset : offset + 4])
        offset += 4 + length
    offset += 4  # number of keys
    (length,) = struct.unpack(">I", blob[offset : offset + 4])
    offset += 4 + length + 4  # public key, then the private section's length
    check = _stream(seed, name, "openssh-check").read(4)
    blob[offset : offset + 8] = check + check
    body = base64.b64encode(bytes(blob)).decode()
    wrapped = "\n".join(body[i : i + 70] for i in range(0, len(body), 70))
    return f"{lines[0]}\n{wrapped}\n{lines[-1]}\n"


def _ssh_public(public_key: PublicKey) -> tuple[str, str, str]:
    """``publicKeyOpenssh`` and the two fingerprints, or empty strings for P-224."""
    if isinstance(public_key, ec.EllipticCurvePublicKey) and (
        public_key.curve.name not in _SSH_CURVE_NAMES
    ):
        return "", "", ""
    line = public_key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    blob = base64.b64decode(line.split()[1])
    md5 = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    md5_text = ":".join(md5[i : i + 2] for i in range(0, len(md5), 2))
    sha256 = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return line + "\n", md5_text, f"SHA256:{sha256}"


def create_private_key(name: str, inputs: Mapping[str, Any], seed: str) -> dict[str, Any]:
    algorithm = inputs.get("algorithm")
    if algorithm not in {"RSA", "ECDSA", "ED25519"}:
        raise fail(PRIVATE_KEY, name, f"algorithm must be RSA, ECDSA or ED25519, got {algorithm!r}")
    curve = str(inputs.get("ecdsaCurve") or "P224")
    bits = int_input(PRIVATE_KEY, name, inputs, "rsaBits", 2048)
    if algorithm == "ECDSA" and curve not in ECDSA_CURVES:
        raise fail(
            PRIVATE_KEY, name, f"invalid ECDSA curve {curve!r}; supported: P224, P256, P384, P521"
        )
    if algorithm == "RSA" and bits < 1024:
        raise fail(PRIVATE_KEY, name, f"rsaBits {bits} is too small to generate a key")
    der = _generated_key_der(
        seed,
        name,
        algorithm,
        curve if algorithm == "ECDSA" else "",
        bits if algorithm == "RSA" else 0,
    )
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    )
    public_key = key.public_key()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        traditional = serialization.PrivateFormat.PKCS8
    else:
        traditional = serialization.PrivateFormat.TraditionalOpenSSL
    public_der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    openssh_public, md5, sha256 = _ssh_public(public_key)
    return {
        "algorithm": algorithm,
        "ecdsaCurve": curve,
        "rsaBits": bits,
        "privateKeyPem": key.private_bytes(
            serialization.Encoding.PEM, traditional, serialization.NoEncryption()
        ).decode(),
        "privateKeyPemPkcs8": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "privateKeyOpenssh": _openssh_private_key(key, seed, name) if openssh_public else "",
        "publicKeyPem": public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "publicKeyOpenssh": openssh_public,
        "publicKeyFingerprintMd5": md5,
        "publicKeyFingerprintSha256": sha256,
        "id": hash_for_state(public_der),
    }


# --- keys given as inputs -----------------------------------------------------------------


def load_private_key(typ: str, name: str, field: str, pem: Any) -> PrivateKey:
    if not isinstance(pem, str) or not pem.strip():
        raise fail(typ, name, f"{field} is required")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        # The message of a key parser may quote the input: never pass it on.
        raise fail(typ, name, f"failed to parse {field}: not a PEM private key") from None
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise fail(typ, name, f"{field}: unsupported private key type {type(key).__name__}")
    return key


def key_algorithm_name(key: PrivateKey | PublicKey) -> str:
    """The provider's ``keyAlgorithm`` value for a key."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ECDSA"
    return "ED25519"


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name == "secp384r1":
            return hashes.SHA384()
        if key.curve.name == "secp521r1":
            return hashes.SHA512()
    return hashes.SHA256()


def sign_kwargs(key: PrivateKey) -> dict[str, Any]:
    return {"ecdsa_deterministic": True} if isinstance(key, ec.EllipticCurvePrivateKey) else {}

"""Offline emulation of the four pulumi-tls resources meshlink declares.

``PrivateKey``, ``SelfSignedCert``, ``CertRequest`` and ``LocallySignedCert`` are
computed here with ``cryptography`` from the inputs the engine receives (wire names,
camelCase), and return the output properties the provider returns, with real PEMs. The
mock engine uses it so that tests and ``meshlink render`` work on real certificates:
chains verify, SANs and key usages can be read back, keys match their certificates.

It follows the Terraform tls provider (which pulumi-tls bridges) and the Go
``crypto/x509`` package it is built on:

- ``allowedUses`` maps each name to a KeyUsage bit or an ExtendedKeyUsage purpose, in
  the order given; KeyUsage is marked critical, ExtendedKeyUsage is not.
- Every certificate carries BasicConstraints, marked critical: ``CA:TRUE`` when
  ``isCaCertificate``, otherwise ``CA:FALSE``.
- ``maxPathLength`` (default -1) is written only for a CA and only when it is above 0:
  the provider never sets Go's ``MaxPathLenZero``, so a requested 0 is *omitted*, which
  means "no limit".
- A CA certificate always gets a SubjectKeyIdentifier; other certificates only with
  ``setSubjectKeyId``. The identifier is the SHA-1 of the subject public key bits (RFC
  5280 method 1; for Ed25519, of the key wrapped in an OCTET STRING, as Go does).
- A locally signed certificate gets an AuthorityKeyIdentifier whenever its CA
  certificate has a SubjectKeyIdentifier (Go copies it); a self-signed one only with
  ``setAuthorityKeyId``, which fails when there is no SubjectKeyIdentifier.
- A CA certificate needs a non-empty subject.
- The subject is written in Go's order (C, ST, L, STREET, PostalCode, O, OU, CN,
  SERIALNUMBER, then the e-mail address) with Go's string types (PrintableString when
  the value allows it, UTF8String otherwise). A locally signed certificate takes the
  subject, DNS names, IP addresses and URIs of the request and nothing else from it.
- The subject alternative names are critical only when the subject is empty.
- The signature hash follows the signing key: SHA-256 for RSA, P-224 and P-256,
  SHA-384 for P-384, SHA-512 for P-521; RSA signs with PKCS #1 v1.5.
- Validity starts at the given clock and lasts ``validityPeriodHours``;
  ``validityStartTime``/``validityEndTime`` are RFC 3339 strings.
- ``id`` is the serial number (certificates), the SHA-1 of the DER public key (keys) or
  of the DER request (requests), in hex, as the provider sets it.
- ``privateKeyPem`` is PKCS #1 for RSA, SEC 1 for ECDSA and PKCS #8 for Ed25519; the
  OpenSSH forms are empty for P-224, which OpenSSH does not support.

Where it differs from the real provider, on purpose:

- **Deterministic.** Keys derive from HMAC-SHA-256(seed, resource name) through a
  SHAKE-256 stream: an ECDSA scalar drawn from it, an Ed25519 seed taken from it, RSA
  primes found by a sieved Miller-Rabin search over it. Serial numbers are a hash of
  the seed, the name and the certificate's content (128 bits, like the provider's random
  ones). ECDSA signatures use RFC 6979 deterministic nonces instead of Go's randomised
  ones, and the OpenSSH private key's check integers are derived rather than random.
  Two runs with the same seed, names, inputs and clock give byte-identical PEMs. These
  keys are for tests and rendering only: never deploy them.
- **One name, one key.** A replacement (a new ``replacement_trigger``) gives the same key
  again, because the key depends on the name and not on the engine's history.
- **Stateless.** Every call is a create: ``readyForRenewal`` is false, as the provider
  reports right after creating; the emulation does not model later plans, refreshes or
  early renewal (pulumi-tls#39 is about exactly that behaviour).
- **Not modelled:** the write-only ``*Wo`` inputs, name constraints, the provider's
  warning when ``caCertPem`` is not a CA, and Go's acceptance of ``encipher_only`` or
  ``decipher_only`` without ``key_agreement`` (``cryptography`` refuses that combination
  and so does the emulation).
- **Hash of the id.** Go trims Unicode white space around the DER before hashing it for
  ``id``; the emulation trims ASCII white space only.
- **Errors.** Inputs the provider would refuse raise :class:`EmulationError` with a
  message naming the resource and the input; the engine reports it as the program
  error, much as a failed create would be.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from cryptography import x509

from meshlink.offline.tls_emulation.certificates import (
    create_cert_request,
    create_locally_signed_cert,
    create_self_signed_cert,
    subject_key_id,
)
from meshlink.offline.tls_emulation.common import (
    CERT_REQUEST,
    LOCALLY_SIGNED_CERT,
    PRIVATE_KEY,
    SELF_SIGNED_CERT,
    EmulationError,
)
from meshlink.offline.tls_emulation.keys import create_private_key, key_algorithm_name

_HANDLERS: dict[str, Callable[[str, Mapping[str, Any], str, dt.datetime], dict[str, Any]]] = {
    PRIVATE_KEY: lambda name, inputs, seed, now: create_private_key(name, inputs, seed),
    SELF_SIGNED_CERT: create_self_signed_cert,
    CERT_REQUEST: lambda name, inputs, seed, now: create_cert_request(name, inputs),
    LOCALLY_SIGNED_CERT: create_locally_signed_cert,
}


def emulate(typ: str, name: str, inputs: dict[str, Any], *, seed: str, now: dt.datetime) -> dict:
    """The outputs the provider would return on creating ``typ`` named ``name``.

    The result holds the inputs (as the provider's state does) plus the computed
    properties, under the provider's wire names.
    """
    handler = _HANDLERS.get(typ)
    if handler is None:
        raise NotImplementedError(f"the offline pulumi-tls emulation does not cover {typ}")
    if now.tzinfo is None:
        raise ValueError("the emulation clock must be timezone-aware")
    outputs = dict(inputs)
    outputs.update(handler(name, inputs, seed, now))
    return outputs


def split_pem_certificates(text: str) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in order (empty text gives none)."""
    return x509.load_pem_x509_certificates(text.encode()) if text.strip() else []


__all__ = [
    "CERT_REQUEST",
    "LOCALLY_SIGNED_CERT",
    "PRIVATE_KEY",
    "SELF_SIGNED_CERT",
    "EmulationError",
    "emulate",
    "key_algorithm_name",
    "split_pem_certificates",
    "subject_key_id",
]

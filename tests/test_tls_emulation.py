"""The offline pulumi-tls emulation produces what the provider would, deterministically."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

import pulumi_tls as tls
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from meshlink.offline.tls_emulation import (
    CERT_REQUEST,
    LOCALLY_SIGNED_CERT,
    PRIVATE_KEY,
    SELF_SIGNED_CERT,
    EmulationError,
    emulate,
)
from tests.support.pki import NOW, certificate, server_verifier

SEED = "emulation-tests"


def _key(name: str, seed: str = SEED, **inputs: Any) -> dict[str, Any]:
    return emulate(
        PRIVATE_KEY,
        name,
        inputs or {"algorithm": "ECDSA", "ecdsaCurve": "P256"},
        seed=seed,
        now=NOW,
    )


def _root(
    key: dict[str, Any], name: str = "root", seed: str = SEED, **extra: Any
) -> dict[str, Any]:
    inputs = {
        "privateKeyPem": key["privateKeyPem"],
        "subject": {"commonName": "Link Root", "organization": "Example Corp", "country": "DE"},
        "validityPeriodHours": 24 * 365,
        "allowedUses": ["cert_signing", "crl_signing"],
        "isCaCertificate": True,
        **extra,
    }
    return emulate(SELF_SIGNED_CERT, name, inputs, seed=seed, now=NOW)


def _leaf(
    ca_key: dict[str, Any], ca: dict[str, Any], *, seed: str = SEED, **extra: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    key = _key("leaf-key", seed)
    request = emulate(
        CERT_REQUEST,
        "leaf-csr",
        {
            "privateKeyPem": key["privateKeyPem"],
            "subject": {"commonName": "db.link.example.com"},
            "dnsNames": ["db.link.example.com", "db2.link.example.com"],
            "uris": ["spiffe://link.example/ns/db"],
        },
        seed=seed,
        now=NOW,
    )
    inputs = {
        "certRequestPem": request["certRequestPem"],
        "caCertPem": ca["certPem"],
        "caPrivateKeyPem": ca_key["privateKeyPem"],
        "validityPeriodHours": 2160,
        "allowedUses": ["digital_signature", "server_auth"],
        **extra,
    }
    cert = emulate(LOCALLY_SIGNED_CERT, "leaf-cert", inputs, seed=seed, now=NOW)
    return key, request, cert


def _sdk_output_names(resource: type) -> set[str]:
    """The wire names of the output properties the pulumi-tls SDK declares."""
    names = set()
    for member in vars(resource).values():
        wire_name = getattr(getattr(member, "fget", None), "_pulumi_name", None)
        if isinstance(wire_name, str):
            names.add(wire_name)
    assert names, resource
    return names


def test_every_output_the_sdk_declares_is_produced_under_its_wire_name() -> None:
    key = _key("k")
    root = _root(key)
    _, request, leaf = _leaf(key, root)
    # The write-only inputs are never returned by the provider either.
    write_only = {
        "privateKeyPemWo",
        "privateKeyPemWoVersion",
        "caPrivateKeyPemWo",
        "caPrivateKeyPemWoVersion",
    }
    for resource, outputs, optional_inputs in (
        (tls.PrivateKey, key, set()),
        (tls.SelfSignedCert, root, {"dnsNames", "ipAddresses", "uris"}),
        (tls.CertRequest, request, {"ipAddresses"}),
        (tls.LocallySignedCert, leaf, set()),
    ):
        expected = _sdk_output_names(resource) - write_only - optional_inputs
        assert expected <= set(outputs), (resource.__name__, expected - set(outputs))


def test_two_runs_are_byte_identical_and_the_seed_changes_everything() -> None:
    first_key = _key("k")
    first_root = _root(first_key)
    first = _leaf(first_key, first_root)
    second_key = _key("k")
    second_root = _root(second_key)
    second = _leaf(second_key, second_root)
    assert first_key == second_key
    assert first_root == second_root
    assert first == second

    other_key = _key("k", seed="another seed")
    other_root = _root(other_key, seed="another seed")
    assert other_key["privateKeyPem"] != first_key["privateKeyPem"]
    assert other_root["certPem"] != first_root["certPem"]
    assert _key("other-name")["publicKeyPem"] != first_key["publicKeyPem"]


def test_rsa_keys_are_deterministic_and_well_formed() -> None:
    first = _key("rsa", algorithm="RSA", rsaBits=2048)
    second = _key("rsa", algorithm="RSA", rsaBits=2048)
    assert first["privateKeyPem"] == second["privateKeyPem"]
    assert first["privateKeyPem"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    key = serialization.load_pem_private_key(first["privateKeyPem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.private_numbers()
    assert key.key_size == 2048
    assert numbers.public_numbers.e == 65537
    assert numbers.p * numbers.q == numbers.public_numbers.n
    assert numbers.p.bit_length() == numbers.q.bit_length() == 1024
    # The key signs and verifies, which also proves d is the inverse of e.
    signature = key.sign(b"link", padding_pkcs1(), hashes.SHA256())
    key.public_key().verify(signature, b"link", padding_pkcs1(), hashes.SHA256())


def padding_pkcs1() -> Any:
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PKCS1v15()


@pytest.mark.parametrize(
    ("inputs", "header", "key_type", "ssh_prefix"),
    [
        (
            {"algorithm": "ECDSA", "ecdsaCurve": "P256"},
            "EC PRIVATE KEY",
            ec.EllipticCurvePrivateKey,
            "ecdsa-sha2-nistp256 ",
        ),
        (
            {"algorithm": "ECDSA", "ecdsaCurve": "P384"},
            "EC PRIVATE KEY",
            ec.EllipticCurvePrivateKey,
            "ecdsa-sha2-nistp384 ",
        ),
        ({"algorithm": "ED25519"}, "PRIVATE KEY", ed25519.Ed25519PrivateKey, "ssh-ed25519 "),
        (
            {"algorithm": "ECDSA", "ecdsaCurve": "P224"},
            "EC PRIVATE KEY",
            ec.EllipticCurvePrivateKey,
            "",
        ),
    ],
)
def test_private_key_outputs_match_the_provider_formats(
    inputs: dict[str, Any], header: str, key_type: type, ssh_prefix: str
) -> None:
    out = _key("formats", **inputs)
    assert out["privateKeyPem"].startswith(f"-----BEGIN {header}-----")
    assert out["privateKeyPemPkcs8"].startswith("-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(out["privateKeyPem"].encode(), password=None)
    pkcs8 = serialization.load_pem_private_key(out["privateKeyPemPkcs8"].encode(), password=None)
    public = serialization.load_pem_public_key(out["publicKeyPem"].encode())
    assert isinstance(key, key_type)
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*der) == public.public_bytes(*der)
    assert pkcs8.public_key().public_bytes(*der) == public.public_bytes(*der)
    assert out["id"] == hashlib.sha1(public.public_bytes(*der), usedforsecurity=False).hexdigest()
    if not ssh_prefix:
        # OpenSSH has no P-224: the provider leaves the OpenSSH forms empty.
        assert out["publicKeyOpenssh"] == out["privateKeyOpenssh"] == ""
        assert out["publicKeyFingerprintMd5"] == out["publicKeyFingerprintSha256"] == ""
        return
    assert out["publicKeyOpenssh"].startswith(ssh_prefix)
    assert out["publicKeyOpenssh"].endswith("\n")
    ssh_public = serialization.load_ssh_public_key(out["publicKeyOpenssh"].encode())
    assert ssh_public.public_bytes(*der) == public.public_bytes(*der)
    blob = base64.b64decode(out["publicKeyOpenssh"].split()[1])
    assert out["publicKeyFingerprintSha256"] == "SHA256:" + base64.b64encode(
        hashlib.sha256(blob).digest()
    ).decode().rstrip("=")
    assert (
        out["publicKeyFingerprintMd5"].replace(":", "")
        == hashlib.md5(blob, usedforsecurity=False).hexdigest()
    )
    ssh_private = serialization.load_ssh_private_key(out["privateKeyOpenssh"].encode(), None)
    assert ssh_private.public_key().public_bytes(*der) == public.public_bytes(*der)


def test_ca_certificate_has_exactly_the_uses_asked_for() -> None:
    key = _key("k")
    out = _root(key, maxPathLength=2, setAuthorityKeyId=True)
    cert = certificate(out["certPem"])
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature and not usage.value.key_encipherment
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 2
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert cert.subject == cert.issuer
    assert [a.oid for a in cert.subject] == [
        NameOID.COUNTRY_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.COMMON_NAME,
    ]
    assert cert.not_valid_before_utc == NOW
    assert cert.not_valid_after_utc == NOW + dt.timedelta(hours=24 * 365)
    assert out["validityStartTime"] == "2025-06-01T12:00:00Z"
    assert out["validityEndTime"] == "2026-06-01T12:00:00Z"
    assert out["id"] == str(cert.serial_number)
    assert out["keyAlgorithm"] == "ECDSA"
    assert out["readyForRenewal"] is False
    cert.verify_directly_issued_by(cert)


def test_path_length_zero_is_left_out_as_the_provider_does() -> None:
    key = _key("k")
    for requested in (0, -1):
        cert = certificate(_root(key, maxPathLength=requested)["certPem"])
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert basic.ca and basic.path_length is None


def test_authority_key_id_on_a_self_signed_certificate_needs_a_subject_key_id() -> None:
    key = _key("k")
    with pytest.raises(EmulationError, match="Could not determine Authority Key Identifier"):
        _root(key, isCaCertificate=False, setAuthorityKeyId=True, allowedUses=["server_auth"])
    cert = certificate(_root(key, setAuthorityKeyId=False)["certPem"])
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)


def test_a_ca_needs_a_subject_and_uses_must_be_known() -> None:
    key = _key("k")
    with pytest.raises(EmulationError, match="at least one Distinguished Name"):
        _root(key, subject={})
    with pytest.raises(EmulationError, match="'cert_sign' is not one of"):
        _root(key, allowedUses=["cert_sign"])


def test_locally_signed_leaf_carries_the_request_and_the_ca_key_id() -> None:
    ca_key = _key("ca-key")
    ca = _root(ca_key)
    leaf_key, _, out = _leaf(ca_key, ca, setSubjectKeyId=True)
    cert = certificate(out["certPem"])
    root = certificate(ca["certPem"])
    cert.verify_directly_issued_by(root)
    assert cert.issuer == root.subject
    assert (
        cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "db.link.example.com"
    )
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == [
        "db.link.example.com",
        "db2.link.example.com",
    ]
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [
        "spiffe://link.example/ns/db"
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert not eku.critical and list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and not basic.value.ca
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    key = serialization.load_pem_private_key(leaf_key["privateKeyPem"].encode(), password=None)
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(*der) == key.public_key().public_bytes(*der)
    assert out["caKeyAlgorithm"] == "ECDSA"
    # And a strict RFC 5280 verifier accepts it for each of its DNS names.
    for name in ("db.link.example.com", "db2.link.example.com"):
        server_verifier([root], name).verify(cert, [])


def test_without_set_subject_key_id_a_leaf_has_none() -> None:
    ca_key = _key("ca-key")
    _, _, out = _leaf(ca_key, _root(ca_key))
    cert = certificate(out["certPem"])
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


def test_empty_subject_makes_the_san_critical() -> None:
    ca_key = _key("ca-key")
    ca = _root(ca_key)
    key = _key("client-key")
    request = emulate(
        CERT_REQUEST,
        "client-csr",
        {"privateKeyPem": key["privateKeyPem"], "uris": ["spiffe://client.example/cluster/a"]},
        seed=SEED,
        now=NOW,
    )
    out = emulate(
        LOCALLY_SIGNED_CERT,
        "client-cert",
        {
            "certRequestPem": request["certRequestPem"],
            "caCertPem": ca["certPem"],
            "caPrivateKeyPem": ca_key["privateKeyPem"],
            "validityPeriodHours": 24,
            "allowedUses": ["digital_signature", "client_auth"],
        },
        seed=SEED,
        now=NOW,
    )
    cert = certificate(out["certPem"])
    assert len(cert.subject) == 0
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_signature_hash_follows_the_signing_key() -> None:
    p384 = _key("p384", algorithm="ECDSA", ecdsaCurve="P384")
    cert = certificate(_root(p384)["certPem"])
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)
    rsa_key = _key("rsa-ca", algorithm="RSA", rsaBits=2048)
    rsa_root = _root(rsa_key)
    cert = certificate(rsa_root["certPem"])
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert rsa_root["keyAlgorithm"] == "RSA"


def test_garbage_inputs_fail_without_echoing_key_material() -> None:
    key = _key("k")
    broken = key["privateKeyPem"].replace("M", "x", 3)
    with pytest.raises(EmulationError) as caught:
        _root({"privateKeyPem": broken})
    assert "PRIVATE KEY" not in str(caught.value)
    assert broken.splitlines()[1] not in str(caught.value)
    with pytest.raises(EmulationError, match="Failed to parse certificate request PEM"):
        emulate(
            LOCALLY_SIGNED_CERT,
            "x",
            {
                "certRequestPem": "nonsense",
                "caCertPem": "",
                "caPrivateKeyPem": key["privateKeyPem"],
            },
            seed=SEED,
            now=NOW,
        )
    with pytest.raises(NotImplementedError):
        emulate("tls:index/unknown:Unknown", "x", {}, seed=SEED, now=NOW)

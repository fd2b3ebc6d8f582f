"""ExistingCertificateAuthority: a user's own CA is checked before anything is declared,
and works as a LinkIssuer when it passes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import VerificationError

from meshlink.offline.engine import run_program
from meshlink.pki import ExistingCertificateAuthority, LeafCertificate, read_secret_config
from meshlink.validation import MeshlinkValidationError
from tests.support.pki import (
    NOW,
    MadeCa,
    certificates,
    contains_secret_marker,
    make_ca,
    make_key,
    plain_text,
    run_pki,
    verify_client,
    verify_server,
)

FQDN = "mysql.link.example.com"


def _clock() -> dt.datetime:
    return NOW


def _issue_with(args: dict[str, Any]) -> Any:
    def program() -> None:
        ca = ExistingCertificateAuthority("byo-ca", args, clock=_clock)  # type: ignore[arg-type]
        server = LeafCertificate("server", {"issuer": ca, "role": "server", "dns_names": [FQDN]})
        client = LeafCertificate(
            "client", {"issuer": ca, "role": "client", "dns_names": ["client.example.com"]}
        )
        pulumi.export("trust", ca.trust_bundle_pem)
        pulumi.export("chain", ca.chain_pem)
        pulumi.export("issuer_key", ca.issuer_private_key_pem)
        pulumi.export("server_chain", server.full_chain_pem)
        pulumi.export("client_chain", client.full_chain_pem)

    return program


def test_a_root_of_ones_own_signs_leaves_that_verify() -> None:
    root = make_ca("Corporate Link Root")
    run = run_pki(_issue_with({"cert_pem": root.cert_pem, "private_key_pem": root.key_pem}))
    recorded = run.component_outputs
    out = run.outputs
    assert out["chain"] == ""
    assert certificates(out["trust"]) == [root.cert]
    verify_server(out["server_chain"], out["trust"], FQDN)
    verify_client(out["client_chain"], out["trust"])
    assert "issuer_key" in run.secret_outputs
    component = run.named("meshlink:index:ExistingCertificateAuthority", "byo-ca")
    assert not contains_secret_marker(recorded[component.urn])
    assert "PRIVATE KEY" not in plain_text(recorded[component.urn])
    # The key reaches the signing resource only as a secret input.
    assert (
        "caPrivateKeyPem"
        in run.named("tls:index/locallySignedCert:LocallySignedCert", "server-cert").secret_inputs
    )


def test_an_intermediate_of_ones_own_carries_its_chain_to_the_root() -> None:
    root = make_ca("Corporate Root", path_length=1)
    intermediate = make_ca("Corporate Link Intermediate", issuer=root, path_length=0)
    run = run_pki(
        _issue_with(
            {
                "cert_pem": intermediate.cert_pem,
                "private_key_pem": intermediate.key_pem,
                "root_cert_pem": root.cert_pem,
                "previous_ca_certs": [make_ca("Old Root").cert_pem],
            }
        )
    )
    out = run.outputs
    assert certificates(out["chain"]) == [intermediate.cert]
    assert [c.subject.rfc4514_string() for c in certificates(out["trust"])] == [
        "CN=Corporate Root",
        "CN=Old Root",
    ]
    path = verify_server(out["server_chain"], out["trust"], FQDN)
    assert path[1:] == [intermediate.cert, root.cert]
    verify_client(out["client_chain"], out["trust"])


def _refuse(args: dict[str, Any]) -> str:
    problems: list[str] = []

    def program() -> None:
        try:
            ExistingCertificateAuthority("byo-ca", args, clock=_clock)  # type: ignore[arg-type]
        except MeshlinkValidationError as error:
            problems.append(str(error))

    run = run_pki(program)
    assert len(problems) == 1
    assert run.registrations == []
    return problems[0]


def _key_lines(*cas: MadeCa) -> list[str]:
    """Every base64 line of the keys' PEMs, in each encoding a user might paste."""
    lines: list[str] = []
    for ca in cas:
        for fmt in (
            serialization.PrivateFormat.PKCS8,
            serialization.PrivateFormat.TraditionalOpenSSL,
        ):
            pem = ca.key.private_bytes(
                serialization.Encoding.PEM, fmt, serialization.NoEncryption()
            ).decode()
            lines += [line for line in pem.splitlines() if not line.startswith("-----")]
    return lines


def _assert_no_key_material(message: str, *cas: MadeCa) -> None:
    for line in _key_lines(*cas):
        assert line[:24] not in message
    assert "PRIVATE KEY-----" not in message


def test_not_a_ca_is_refused() -> None:
    leaf = make_ca("just-a-server.example.com", is_ca=False)
    message = _refuse({"cert_pem": leaf.cert_pem, "private_key_pem": leaf.key_pem})
    assert "cert_pem: CN=just-a-server.example.com is not a CA certificate" in message
    _assert_no_key_material(message, leaf)


def test_a_ca_that_may_not_sign_certificates_is_refused() -> None:
    ca = make_ca("No Cert Sign", key_cert_sign=False)
    message = _refuse({"cert_pem": ca.cert_pem, "private_key_pem": ca.key_pem})
    assert "may not sign certificates (keyUsage has no keyCertSign)" in message


def test_a_mismatched_key_is_refused_without_showing_it() -> None:
    ca = make_ca("Link Root")
    other = make_ca("Another Root")
    message = _refuse({"cert_pem": ca.cert_pem, "private_key_pem": other.key_pem})
    assert "private_key_pem: is not the key of cert_pem (CN=Link Root)" in message
    _assert_no_key_material(message, ca, other)


def test_an_expired_or_not_yet_valid_ca_is_refused() -> None:
    expired = make_ca(
        "Expired Root",
        not_before=NOW - dt.timedelta(days=800),
        not_after=NOW - dt.timedelta(days=1),
    )
    message = _refuse({"cert_pem": expired.cert_pem, "private_key_pem": expired.key_pem})
    assert "cert_pem: CN=Expired Root expired on 2025-05-31" in message
    future = make_ca("Future Root", not_before=NOW + dt.timedelta(days=1))
    message = _refuse({"cert_pem": future.cert_pem, "private_key_pem": future.key_pem})
    assert "is not valid before 2025-06-02" in message


@pytest.mark.parametrize(
    ("kind", "words"), [("rsa1024", "RSA key has 1024 bits"), ("p224", "curve secp224r1 is weak")]
)
def test_a_weak_key_is_refused_unless_allowed(kind: str, words: str) -> None:
    weak = make_ca("Weak Root", key=make_key(kind))
    message = _refuse({"cert_pem": weak.cert_pem, "private_key_pem": weak.key_pem})
    assert words in message
    _assert_no_key_material(message, weak)
    run = run_pki(
        _issue_with(
            {"cert_pem": weak.cert_pem, "private_key_pem": weak.key_pem, "allow_weak_keys": True}
        )
    )
    leaf = certificates(run.outputs["server_chain"])[0]
    leaf.verify_directly_issued_by(weak.cert)
    # Allowed, but a strict verifier still refuses the weak CA: the reason it is opt-in.
    with pytest.raises(
        VerificationError, match=r"Forbidden public key algorithm|RSA key is too weak"
    ):
        verify_server(run.outputs["server_chain"], run.outputs["trust"], FQDN)


def test_garbage_pem_is_refused_without_echoing_it() -> None:
    ca = make_ca("Link Root")
    damaged_key = ca.key_pem.replace(ca.key_pem.splitlines()[1], "A" * 64)
    message = _refuse(
        {
            "cert_pem": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
            "private_key_pem": damaged_key,
        }
    )
    assert "cert_pem: holds a BEGIN CERTIFICATE block that is not a valid certificate" in message
    assert "private_key_pem: is not a valid PEM private key" in message
    assert "A" * 24 not in message
    _assert_no_key_material(message, ca)
    message = _refuse({"cert_pem": "hello", "private_key_pem": "secret-ish text that is no key"})
    assert "cert_pem: is not a PEM certificate" in message
    assert "private_key_pem: is not a PEM private key" in message
    assert "secret-ish" not in message


def test_an_encrypted_key_and_missing_settings_are_explained() -> None:
    ca = make_ca("Link Root")
    encrypted = ca.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    message = _refuse({"cert_pem": ca.cert_pem, "private_key_pem": encrypted})
    assert "private_key_pem: is encrypted" in message
    message = _refuse({"cert_pem": ca.cert_pem})
    assert "private_key_pem: Field required" in message


def test_an_intermediate_needs_its_root_and_a_real_chain() -> None:
    root = make_ca("Corporate Root")
    intermediate = make_ca("Link Intermediate", issuer=root)
    message = _refuse({"cert_pem": intermediate.cert_pem, "private_key_pem": intermediate.key_pem})
    assert (
        "root_cert_pem: is required, because cert_pem (CN=Link Intermediate) is not a "
        "self-signed root" in message
    )
    stranger = make_ca("Unrelated Root")
    message = _refuse(
        {
            "cert_pem": intermediate.cert_pem,
            "private_key_pem": intermediate.key_pem,
            "root_cert_pem": stranger.cert_pem,
        }
    )
    assert "CN=Link Intermediate is not signed by CN=Unrelated Root" in message
    two = root.cert_pem + intermediate.cert_pem
    message = _refuse({"cert_pem": two, "private_key_pem": intermediate.key_pem})
    assert "cert_pem: holds 2 certificates" in message


def test_secret_config_is_read_as_text_and_must_be_secret() -> None:
    root = make_ca("Config Root")
    seen: dict[str, Any] = {}

    def program() -> None:
        seen["cert"] = read_secret_config("linkCaCert")
        seen["key"] = read_secret_config("linkCaKey")
        try:
            read_secret_config("plainKey")
        except MeshlinkValidationError as error:
            seen["plain"] = str(error)
        try:
            read_secret_config("missing")
        except MeshlinkValidationError as error:
            seen["missing"] = str(error)

    run_program(
        program,
        project="pki",
        stack="test",
        config={
            "pki:linkCaCert": root.cert_pem,
            "pki:linkCaKey": root.key_pem,
            "pki:plainKey": root.key_pem,
        },
        secret_config_keys=["pki:linkCaCert", "pki:linkCaKey"],
    )
    assert seen["cert"] == root.cert_pem and seen["key"] == root.key_pem
    assert "pki:plainKey: must be set with --secret" in seen["plain"]
    _assert_no_key_material(seen["plain"], root)
    assert "pki:missing: is required" in seen["missing"]

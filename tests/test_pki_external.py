"""ExternallySignedCertificateAuthority: the two-phase flow with an offline root."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
import pytest
from cryptography import x509

from meshlink.pki import (
    ExternallySignedCertificateAuthority,
    LeafCertificate,
    SignedCertificateMismatch,
)
from meshlink.validation import MeshlinkValidationError
from tests.support.pki import (
    NOW,
    certificates,
    make_ca,
    run_pki,
    sign_csr_as_ca,
    verify_client,
    verify_server,
)

FQDN = "mysql.link.example.com"
SUBJECT = {"common_name": "Example Link Issuing CA", "organization": "Example"}


def _clock() -> dt.datetime:
    return NOW


def _external(extra: dict[str, Any]) -> ExternallySignedCertificateAuthority:
    args: Any = {"subject": SUBJECT, **extra}
    return ExternallySignedCertificateAuthority("link-issuing", args, clock=_clock)


def _program(extra: dict[str, Any], *, with_leaves: bool = True) -> Any:
    def program() -> None:
        ca = _external(extra)
        pulumi.export("csr", ca.csr_pem)
        pulumi.export("ready", ca.not_ready_reason or "")
        if with_leaves:
            server = LeafCertificate(
                "server", {"issuer": ca, "role": "server", "dns_names": [FQDN]}
            )
            client = LeafCertificate(
                "client", {"issuer": ca, "role": "client", "uris": ["spiffe://client.example/a"]}
            )
            pulumi.export("trust", ca.trust_bundle_pem)
            pulumi.export("chain", ca.chain_pem)
            pulumi.export("server_chain", server.full_chain_pem)
            pulumi.export("client_chain", client.full_chain_pem)

    return program


def test_phase_one_exports_a_request_and_leaves_refuse_to_use_it() -> None:
    run = run_pki(_program({}, with_leaves=False))
    request = x509.load_pem_x509_csr(run.outputs["csr"].encode())
    assert request.is_signature_valid
    assert request.subject.rfc4514_string() == "CN=Example Link Issuing CA,O=Example"
    assert "csr" not in run.secret_outputs
    assert "has no signed certificate yet: export its csr_pem" in run.outputs["ready"]

    problems: list[str] = []

    def program() -> None:
        ca = _external({})
        try:
            LeafCertificate("server", {"issuer": ca, "role": "server", "dns_names": [FQDN]})
        except MeshlinkValidationError as error:
            problems.append(str(error))

    run = run_pki(program)
    assert "issuer: the issuing CA 'link-issuing' has no signed certificate yet" in problems[0]
    assert not run.of_type("meshlink:index:LeafCertificate")


def test_phase_two_issues_leaves_that_chain_to_the_corporate_root() -> None:
    root = make_ca("Corporate Root")
    csr = run_pki(_program({}, with_leaves=False)).outputs["csr"]
    signed = sign_csr_as_ca(csr, root)
    run = run_pki(_program({"signed_cert_pem": signed, "root_cert_pem": root.cert_pem}))
    out = run.outputs
    assert out["ready"] == ""
    issuing = certificates(signed)[0]
    assert certificates(out["chain"]) == [issuing]
    assert certificates(out["trust"]) == [root.cert]
    path = verify_server(out["server_chain"], out["trust"], FQDN)
    assert path[1:] == [issuing, root.cert]
    assert verify_client(out["client_chain"], out["trust"]).chain[1:] == [issuing, root.cert]


def test_a_certificate_signed_for_another_key_fails_the_update() -> None:
    root = make_ca("Corporate Root")
    # Signed for the request of another key (e.g. before a rotation): the chain checks
    # pass before registration, but the key does not match.
    other_csr = run_pki(_program({}, with_leaves=False), seed="another-key").outputs["csr"]
    signed = sign_csr_as_ca(other_csr, root)
    # In the real engine too, the update fails with this error before any leaf is signed.
    with pytest.raises(SignedCertificateMismatch, match="was not issued for this component's key"):
        run_pki(_program({"signed_cert_pem": signed, "root_cert_pem": root.cert_pem}))


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (
            lambda root, csr: make_ca("Not Mine", is_ca=False, issuer=root).cert_pem,
            "is not a CA certificate",
        ),
        (
            lambda root, csr: sign_csr_as_ca(csr, make_ca("Another Root")),
            "is not signed by CN=Corporate Root",
        ),
        (lambda root, csr: "garbage", "signed_cert_pem: is not a PEM certificate"),
    ],
)
def test_bad_signed_certificates_are_refused_before_anything_is_declared(
    make: Any, words: str
) -> None:
    root = make_ca("Corporate Root")
    csr = run_pki(_program({}, with_leaves=False)).outputs["csr"]
    problems: list[str] = []

    def program() -> None:
        try:
            _external(
                {
                    "signed_cert_pem": make(root, csr),
                    "root_cert_pem": root.cert_pem,
                }
            )
        except MeshlinkValidationError as error:
            problems.append(str(error))

    run = run_pki(program)
    assert len(problems) == 1 and words in problems[0], problems
    assert run.registrations == []


def test_an_expired_signed_certificate_or_a_missing_root_is_refused() -> None:
    root = make_ca("Corporate Root")
    csr = run_pki(_program({}, with_leaves=False)).outputs["csr"]
    signed = sign_csr_as_ca(csr, root, not_after_days=-1)
    problems: list[str] = []

    def program() -> None:
        for extra in (
            {"signed_cert_pem": signed, "root_cert_pem": root.cert_pem},
            {"signed_cert_pem": sign_csr_as_ca(csr, root)},
        ):
            try:
                _external(extra)
            except MeshlinkValidationError as error:
                problems.append(str(error))

    run_pki(program)
    assert "signed_cert_pem: CN=Example Link Issuing CA,O=Example expired on" in problems[0]
    assert "root_cert_pem: is required with signed_cert_pem" in problems[1]


def test_rotation_feeds_the_key_and_request_only() -> None:
    run = run_pki(_program({"rotation": "2025-06"}, with_leaves=False))
    triggers = {
        r.name: r.replacement_trigger for r in run.registrations if r.type.startswith("tls:")
    }
    assert triggers == {"link-issuing-key": "2025-06", "link-issuing-csr": "2025-06"}

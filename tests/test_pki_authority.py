"""CertificateAuthority and LeafCertificate on the offline engine, with real certificates
from the pulumi-tls emulation checked by a strict RFC 5280 verifier."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import VerificationError

from meshlink.offline.engine import OfflineRun
from meshlink.pki import CertificateAuthority, LeafCertificate
from meshlink.pki.authority import CertificateAuthorityArgs
from meshlink.validation import MeshlinkValidationError
from tests.support.pki import (
    CERT_REQUEST,
    LOCALLY_SIGNED_CERT,
    PRIVATE_KEY,
    SELF_SIGNED_CERT,
    cert_of,
    certificates,
    contains_secret_marker,
    key_of,
    plain_text,
    public_der,
    run_pki,
    verify_client,
    verify_server,
)

SERVER_NAMES = ["mysql.link.example.com", "mysql-replica.link.example.com"]
CLIENT_URI = "spiffe://client.link.example/cluster/client-a"


def _ca_args(**extra: Any) -> CertificateAuthorityArgs:
    args: dict[str, Any] = {
        "subject": {"common_name": "Example Link Root", "organization": "Example"}
    }
    args.update(extra)
    return args  # type: ignore[return-value]


def _program(
    *,
    issuing: bool = False,
    leaf_rotation: str | None = None,
    ca_rotation: str | None = None,
    previous: list[str] | None = None,
    leaf_key: dict[str, Any] | None = None,
) -> Any:
    def program() -> None:
        extra: dict[str, Any] = {}
        if issuing:
            extra["issuing_ca"] = {"subject": {"common_name": "Example Link Issuing CA"}}
        if ca_rotation is not None:
            extra["ca_rotation"] = ca_rotation
        if previous:
            extra["previous_ca_certs"] = previous
        ca = CertificateAuthority("link-ca", _ca_args(**extra))
        server_args: dict[str, Any] = {"issuer": ca, "role": "server", "dns_names": SERVER_NAMES}
        if leaf_rotation is not None:
            server_args["rotation"] = leaf_rotation
        if leaf_key is not None:
            server_args["key"] = leaf_key
        server = LeafCertificate("server", server_args)  # type: ignore[arg-type]
        client = LeafCertificate(
            "client",
            {
                "issuer": ca,
                "role": "client",
                "dns_names": ["client-a.link.example.com"],
                "uris": [CLIENT_URI],
            },
        )
        pulumi.export("trust", ca.trust_bundle_pem)
        pulumi.export("root", ca.root_cert_pem)
        pulumi.export("chain", ca.chain_pem)
        pulumi.export("issuer_key", ca.issuer_private_key_pem)
        pulumi.export("server_chain", server.full_chain_pem)
        pulumi.export("server_cert", server.cert_pem)
        pulumi.export("server_key", server.private_key_pem)
        pulumi.export("client_chain", client.full_chain_pem)
        pulumi.export("server_names", server.dns_names)

    return program


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _assert_leaf_profile(cert: x509.Certificate, eku: x509.ObjectIdentifier) -> None:
    assert _eku(cert) == [eku]
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


def test_root_signed_leaves_verify_strictly_for_every_name() -> None:
    run = run_pki(_program())
    out = run.outputs
    assert out["chain"] == ""
    assert len(certificates(out["server_chain"])) == 1
    for name in SERVER_NAMES:
        path = verify_server(out["server_chain"], out["trust"], name)
        assert [c.subject for c in path] == [
            cert_of(run, "server-cert").subject,
            cert_of(run, "link-ca-root-cert").subject,
        ]
    with pytest.raises(VerificationError):
        verify_server(out["server_chain"], out["trust"], "other.link.example.com")
    verified = verify_client(out["client_chain"], out["trust"])
    assert x509.UniformResourceIdentifier(CLIENT_URI) in (verified.subjects or [])

    server = cert_of(run, "server-cert")
    client = cert_of(run, "client-cert")
    assert (
        server.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
        == SERVER_NAMES
    )
    _assert_leaf_profile(server, ExtendedKeyUsageOID.SERVER_AUTH)
    _assert_leaf_profile(client, ExtendedKeyUsageOID.CLIENT_AUTH)
    client_san = client.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert client_san.get_values_for_type(x509.UniformResourceIdentifier) == [CLIENT_URI]
    assert client_san.get_values_for_type(x509.DNSName) == ["client-a.link.example.com"]
    # A server certificate is refused as a client one and the other way round.
    with pytest.raises(VerificationError):
        verify_client(out["server_chain"], out["trust"])
    with pytest.raises(VerificationError):
        verify_server(out["client_chain"], out["trust"], "client-a.link.example.com")
    assert out["server_names"] == SERVER_NAMES


def test_issuing_ca_chain_verifies_leaf_issuing_root() -> None:
    run = run_pki(_program(issuing=True))
    out = run.outputs
    root = cert_of(run, "link-ca-root-cert")
    issuing = cert_of(run, "link-ca-issuing-cert")
    assert certificates(out["chain"]) == [issuing]
    assert certificates(out["server_chain"]) == [cert_of(run, "server-cert"), issuing]
    assert certificates(out["trust"]) == [root]
    for name in SERVER_NAMES:
        path = verify_server(out["server_chain"], out["trust"], name)
        assert path[1:] == [issuing, root]
    assert verify_client(out["client_chain"], out["trust"]).chain[1:] == [issuing, root]
    # Without the issuing CA in tls.crt, a peer holding only the root cannot build the path.
    with pytest.raises(VerificationError):
        verify_server(out["server_cert"], out["trust"], SERVER_NAMES[0])

    root_basic = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert root_basic.critical and root_basic.value.ca and root_basic.value.path_length == 1
    issuing_basic = issuing.extensions.get_extension_for_class(x509.BasicConstraints)
    assert issuing_basic.critical and issuing_basic.value.ca
    for ca in (root, issuing):
        usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
        assert not usage.value.digital_signature
    issuing_aki = issuing.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert issuing_aki.key_identifier == root_ski.digest
    # The leaves are signed by the issuing CA's key, not the root's.
    leaf_request = run.named(LOCALLY_SIGNED_CERT, "server-cert")
    assert (
        leaf_request.inputs["caCertPem"]
        == run.named(LOCALLY_SIGNED_CERT, "link-ca-issuing-cert").outputs["certPem"]
    )


def test_two_runs_declare_byte_identical_keys_and_certificates() -> None:
    first = run_pki(_program(issuing=True))
    second = run_pki(_program(issuing=True))
    # Registration order may differ between runs; compare by name.
    tls_outputs = {r.name: r.outputs for r in first.registrations if r.type.startswith("tls:")}
    assert len(tls_outputs) == 11
    assert tls_outputs == {
        r.name: r.outputs for r in second.registrations if r.type.startswith("tls:")
    }
    assert first.outputs == second.outputs


def test_every_key_matches_its_certificate() -> None:
    run = run_pki(_program(issuing=True))
    pairs = {
        "link-ca-root-key": "link-ca-root-cert",
        "link-ca-issuing-key": "link-ca-issuing-cert",
        "server-key": "server-cert",
        "client-key": "client-cert",
    }
    for key_name, cert_name in pairs.items():
        assert public_der(key_of(run, key_name).public_key()) == public_der(
            cert_of(run, cert_name).public_key()
        )


def test_defaults_are_ecdsa_p256_and_documented_lifetimes() -> None:
    run = run_pki(_program(issuing=True))
    for registration in run.of_type(PRIVATE_KEY):
        assert registration.inputs["algorithm"] == "ECDSA"
        assert registration.inputs["ecdsaCurve"] == "P256"
        assert isinstance(key_of(run, registration.name), ec.EllipticCurvePrivateKey)
    root = run.named(SELF_SIGNED_CERT, "link-ca-root-cert")
    assert (root.inputs["validityPeriodHours"], root.inputs["earlyRenewalHours"]) == (87600, 8760)
    issuing = run.named(LOCALLY_SIGNED_CERT, "link-ca-issuing-cert")
    assert (issuing.inputs["validityPeriodHours"], issuing.inputs["earlyRenewalHours"]) == (
        26280,
        4368,
    )
    leaf = run.named(LOCALLY_SIGNED_CERT, "server-cert")
    assert (leaf.inputs["validityPeriodHours"], leaf.inputs["earlyRenewalHours"]) == (2160, 720)
    server = cert_of(run, "server-cert")
    assert server.not_valid_after_utc - server.not_valid_before_utc == dt.timedelta(days=90)


def test_rsa_leaf_also_allows_key_encipherment() -> None:
    run = run_pki(_program(leaf_key={"algorithm": "RSA", "rsa_bits": 2048}))
    cert = cert_of(run, "server-cert")
    assert isinstance(cert.public_key(), rsa.RSAPublicKey)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment
    verify_server(run.outputs["server_chain"], run.outputs["trust"], SERVER_NAMES[0])
    client = cert_of(run, "client-cert")
    assert not client.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment


def test_children_are_parented_and_named_after_the_component() -> None:
    run = run_pki(_program(issuing=True))
    ca = run.named("meshlink:index:CertificateAuthority", "link-ca")
    server = run.named("meshlink:index:LeafCertificate", "server")
    for registration in run.registrations:
        if registration.type.startswith("tls:"):
            owner = ca if registration.name.startswith("link-ca-") else None
            if registration.name.startswith("server-"):
                owner = server
            if owner is not None:
                assert registration.parent == owner.urn, registration.name
    leaf_cert = run.named(LOCALLY_SIGNED_CERT, "server-cert")
    assert run.depends_on(leaf_cert.urn, run.named(LOCALLY_SIGNED_CERT, "link-ca-issuing-cert").urn)


def test_private_keys_stay_secret_and_out_of_component_outputs() -> None:
    run = run_pki(_program(issuing=True))
    recorded = run.component_outputs
    for registration in run.of_type(PRIVATE_KEY):
        assert {
            "privateKeyPem",
            "privateKeyPemPkcs8",
            "privateKeyOpenssh",
        } <= registration.secret_outputs
    for registration in run.of_type(SELF_SIGNED_CERT) + run.of_type(CERT_REQUEST):
        assert "privateKeyPem" in registration.secret_inputs
    for registration in run.of_type(LOCALLY_SIGNED_CERT):
        assert "caPrivateKeyPem" in registration.secret_inputs
    assert {"issuer_key", "server_key"} <= run.secret_outputs
    assert "PRIVATE KEY" in run.outputs["issuer_key"]
    plain_exports = {k: v for k, v in run.outputs.items() if k not in run.secret_outputs}
    assert "PRIVATE KEY" not in plain_text(plain_exports)

    components = [r for r in run.registrations if r.type.startswith("meshlink:index:")]
    assert {r.urn for r in components} <= set(recorded)
    for component in components:
        outputs = recorded[component.urn]
        assert not contains_secret_marker(outputs), component.name
        assert "PRIVATE KEY" not in plain_text(outputs), component.name
    ca_outputs = recorded[run.named("meshlink:index:CertificateAuthority", "link-ca").urn]
    assert "BEGIN CERTIFICATE" in plain_text(ca_outputs["trust_bundle_pem"])


def _triggers(run: OfflineRun) -> dict[str, Any]:
    return {r.name: r.replacement_trigger for r in run.registrations if r.type.startswith("tls:")}


def test_leaf_rotation_changes_the_trigger_of_exactly_that_leaf() -> None:
    before = _triggers(run_pki(_program(issuing=True, leaf_rotation="2025-06")))
    after = _triggers(run_pki(_program(issuing=True, leaf_rotation="2025-09")))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"server-key", "server-csr", "server-cert"}
    assert after["server-cert"] == "2025-09"


def test_ca_rotation_changes_the_triggers_of_the_ca_only() -> None:
    before = _triggers(run_pki(_program(issuing=True, ca_rotation="1")))
    after = _triggers(run_pki(_program(issuing=True, ca_rotation="2")))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {
        "link-ca-root-key",
        "link-ca-root-cert",
        "link-ca-issuing-key",
        "link-ca-issuing-csr",
        "link-ca-issuing-cert",
    }
    assert before["server-cert"] is None


def test_no_rotation_value_means_no_trigger() -> None:
    assert set(_triggers(run_pki(_program())).values()) == {None}


def test_rotation_overlap_trusts_old_and_new_roots() -> None:
    old = run_pki(_program(), seed="before-rotation")
    new = run_pki(_program(previous=[old.outputs["root"]], ca_rotation="2"), seed="after-rotation")
    bundle = certificates(new.outputs["trust"])
    assert bundle == [certificates(new.outputs["root"])[0], certificates(old.outputs["root"])[0]]
    # During the overlap a gateway with the new bundle accepts a peer still on the old chain,
    for chain in (old.outputs["server_chain"], new.outputs["server_chain"]):
        verify_server(chain, new.outputs["trust"], SERVER_NAMES[0])
    verify_client(old.outputs["client_chain"], new.outputs["trust"])
    # and once the old root is dropped, the old chain is refused.
    with pytest.raises(VerificationError):
        verify_server(old.outputs["server_chain"], new.outputs["root"], SERVER_NAMES[0])


def _refusal(args: dict[str, Any]) -> tuple[str, OfflineRun]:
    errors: list[str] = []

    def program() -> None:
        try:
            CertificateAuthority("link-ca", args)  # type: ignore[arg-type]
        except MeshlinkValidationError as error:
            errors.append(str(error))

    run = run_pki(program)
    assert len(errors) == 1, errors
    return errors[0], run


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ({"algorithm": "RSA", "rsa_bits": 1024}, "RSA keys of 1024 bits are too weak"),
        ({"algorithm": "ECDSA", "ecdsa_curve": "P224"}, "P224 is too weak"),
        ({"algorithm": "RSA", "rsa_bits": 512, "allow_weak_keys": True}, "cannot be generated"),
        ({"algorithm": "RSA", "rsa_bits": 2500}, "2048, 3072 or 4096"),
        ({"algorithm": "DSA"}, "key.algorithm"),
    ],
)
def test_weak_or_unknown_keys_are_refused_before_anything_is_declared(
    key: dict[str, Any], words: str
) -> None:
    message, run = _refusal({"subject": {"common_name": "Root"}, "key": key})
    assert words in message
    assert "CertificateAuthority 'link-ca'" in message
    assert run.registrations == []


def test_weak_keys_are_accepted_with_the_explicit_override() -> None:
    def program() -> None:
        ca = CertificateAuthority(
            "link-ca", _ca_args(key={"algorithm": "RSA", "rsa_bits": 1024, "allow_weak_keys": True})
        )
        pulumi.export("root", ca.root_cert_pem)

    run = run_pki(program)
    root = certificates(run.outputs["root"])[0]
    public_key = root.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 1024


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"max_path_length": 0}, "max_path_length: 0 cannot be expressed"),
        (
            {"validity_hours": 100, "early_renewal_hours": 100},
            "early_renewal_hours (100) must be less",
        ),
        (
            {
                "validity_hours": 1000,
                "early_renewal_hours": 10,
                "issuing_ca": {"subject": {"common_name": "I"}},
            },
            "must not exceed the root's validity_hours",
        ),
        (
            {"previous_ca_certs": ["not a certificate"]},
            "previous_ca_certs: [0]: is not a PEM certificate",
        ),
        ({"unknown": 1}, "unknown: Extra inputs are not permitted"),
    ],
)
def test_inconsistent_settings_are_refused(extra: dict[str, Any], words: str) -> None:
    message, run = _refusal({"subject": {"common_name": "Root"}, **extra})
    assert words in message
    assert run.registrations == []


def test_a_ca_subject_needs_a_common_name() -> None:
    message, _ = _refusal({"subject": {"organization": "Example"}})
    assert "subject.common_name: Field required" in message


def test_leaf_settings_are_checked_before_anything_is_declared() -> None:
    problems: list[str] = []

    def program() -> None:
        ca = CertificateAuthority("link-ca", _ca_args())
        for args in (
            {"issuer": ca, "role": "server"},
            {"issuer": ca, "role": "client"},
            {"issuer": ca, "role": "server", "dns_names": ["*.link.example.com"]},
            {"issuer": ca, "role": "client", "uris": ["not a uri"]},
            {"issuer": "a CA", "role": "server", "dns_names": ["a.example.com"]},
            {"issuer": ca, "role": "server", "dns_names": ["a.example.com", "a.example.com"]},
        ):
            try:
                LeafCertificate("leaf", args)  # type: ignore[arg-type]
            except MeshlinkValidationError as error:
                problems.append(str(error))

    run = run_pki(program)
    assert len(problems) == 6
    assert "needs dns_names: every FQDN" in problems[0]
    assert "needs dns_names or uris" in problems[1]
    assert "dns_names[0]" in problems[2] and "wildcard" in problems[2]
    assert "uris: " in problems[3] and "absolute URI" in problems[3]
    assert "issuer: " in problems[4] and "got str" in problems[4]
    assert "same name twice" in problems[5]
    assert not any(r.type == "meshlink:index:LeafCertificate" for r in run.registrations)

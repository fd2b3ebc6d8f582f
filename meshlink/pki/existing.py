"""Bring your own link CA: a CA certificate and key the user already has.

The PEMs come from Pulumi secret configuration as plain strings, read when the program
runs (:func:`read_secret_config`), so that every check happens before anything is
declared and a bad CA fails ``pulumi preview`` with one clear message. Inside, the key
is wrapped as a secret Output at once and never leaves as anything else.

Checked: the certificate parses and is a CA (basicConstraints ``CA:TRUE``) allowed to
sign certificates (``keyCertSign``); the key parses, is not encrypted, is not weak and
is the certificate's key; the certificate is valid now; when it is not itself the root,
``chain_pem`` and ``root_cert_pem`` lead from it to a self-signed root. No message ever
quotes the key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Required, TypedDict

import pulumi
import pulumi.runtime.config as runtime_config
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, ConfigDict, Field

from meshlink.argdocs import documents
from meshlink.outputs import register_declared_outputs
from meshlink.pki.issuer import IssuerComponent, dedupe_pem, join_pem
from meshlink.pki.x509_checks import (
    CaChecks,
    CertificateProblem,
    Clock,
    chain_problems,
    describe,
    hours_left,
    is_self_signed,
    key_strength_problem,
    load_certificate,
    load_certificates,
    load_private_key,
    same_public_key,
    utc_now,
)
from meshlink.validation import MeshlinkValidationError, validate_args

TYPE = "meshlink:index:ExistingCertificateAuthority"


class ExistingCertificateAuthorityArgs(TypedDict, total=False):
    """A CA of the user's own that signs the link leaves."""

    cert_pem: Required[str]
    """The signing CA's certificate (one PEM block)."""
    private_key_pem: Required[str]
    """Its private key, unencrypted PEM, from secret configuration."""
    chain_pem: str
    """Intermediate CA certificates between ``cert_pem`` and the root, nearest first."""
    root_cert_pem: str
    """The root peers must trust, when ``cert_pem`` is not itself the root."""
    previous_ca_certs: Sequence[str]
    """Roots still trusted during a CA rotation; they join the trust bundle."""
    allow_weak_keys: bool
    """Accept RSA under 2048 bits, weak curves and SHA-1 signatures. Off by default."""


def read_secret_config(key: str, *, namespace: str | None = None) -> str:
    """A secret configuration value as a plain string, for validation before anything is
    declared. Refuses a value that was not set with ``--secret``, because a CA key in
    plain configuration is already exposed in the stack file."""
    project = namespace or pulumi.get_project()
    full_key = key if ":" in key else f"{project}:{key}"
    value = runtime_config.get_config(full_key)
    if value is None:
        raise MeshlinkValidationError(
            "configuration",
            [f"{full_key}: is required (pulumi config set --secret {full_key} < file.pem)"],
        )
    if not runtime_config.is_config_secret(full_key):
        raise MeshlinkValidationError(
            "configuration",
            [
                f"{full_key}: must be set with --secret "
                f"(pulumi config set --secret {full_key} < file.pem)"
            ],
        )
    return str(value)


class ExistingCaTrust(BaseModel):
    """How a CA of the user's own is trusted, without its certificate and key: also the
    stack configuration's ``ca`` section in ``mode: existing`` (which reads those two from
    secret keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chain_pem: str | None = None
    root_cert_pem: str | None = None
    previous_ca_certs: list[str] = Field(default_factory=list)
    allow_weak_keys: bool = False


class _Model(ExistingCaTrust):
    cert_pem: str = Field(min_length=1)
    private_key_pem: str = Field(min_length=1)


def _problems(
    model: _Model, now: dt.datetime
) -> tuple[list[str], x509.Certificate | None, x509.Certificate | None, list[x509.Certificate]]:
    problems: list[str] = []
    checks = CaChecks(now=now, allow_weak_keys=model.allow_weak_keys)
    cert: x509.Certificate | None = None
    try:
        cert = load_certificate(model.cert_pem, "cert_pem")
        problems.extend(checks.problems(cert, "cert_pem"))
    except CertificateProblem as problem:
        problems.append(str(problem))
    try:
        key = load_private_key(model.private_key_pem, "private_key_pem")
        weak = key_strength_problem(key.public_key(), allow_weak_keys=model.allow_weak_keys)
        if weak and cert is None:
            problems.append(f"private_key_pem: {weak}")
        if cert is not None and not same_public_key(key.public_key(), cert.public_key()):
            problems.append(
                f"private_key_pem: is not the key of cert_pem ({describe(cert)}); the "
                "public key derived from it differs from the certificate's"
            )
    except CertificateProblem as problem:
        problems.append(str(problem))

    intermediates: list[x509.Certificate] = []
    root: x509.Certificate | None = None
    try:
        if model.chain_pem:
            intermediates = load_certificates(model.chain_pem, "chain_pem")
            for index, intermediate in enumerate(intermediates):
                problems.extend(checks.problems(intermediate, f"chain_pem[{index}]"))
        if model.root_cert_pem:
            root = load_certificate(model.root_cert_pem, "root_cert_pem")
            problems.extend(checks.validity_problems(root, "root_cert_pem"))
    except CertificateProblem as problem:
        problems.append(str(problem))
    if root is not None and cert is not None and root == cert and not intermediates:
        root = None
    if cert is not None and not problems:
        if root is None:
            if intermediates or not is_self_signed(cert):
                problems.append(
                    f"root_cert_pem: is required, because cert_pem ({describe(cert)}) is not a "
                    "self-signed root; peers must be given the root to trust"
                )
        else:
            problems.extend(chain_problems(cert, intermediates, root, setting="chain_pem"))

    for index, pem in enumerate(model.previous_ca_certs):
        try:
            load_certificates(pem, f"previous_ca_certs[{index}]")
        except CertificateProblem as problem:
            problems.append(str(problem))
    return problems, cert, root, intermediates


@documents(ExistingCertificateAuthorityArgs)
class ExistingCertificateAuthority(IssuerComponent):
    """A link CA from a certificate and key the user already has.

    Satisfies :class:`~meshlink.pki.LinkIssuer`. ``clock`` fixes "now" for the expiry
    check (tests); by default it is the machine's clock at program time.
    """

    leaf_validity_limit_hours: int | None = None
    """Whole hours from program time until ``cert_pem`` expires: no leaf may be longer."""

    def __init__(
        self,
        name: str,
        args: ExistingCertificateAuthorityArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        clock: Clock = utc_now,
    ) -> None:
        where = f"ExistingCertificateAuthority {name!r}"
        model = validate_args(_Model, args, where=where, show_input=False)
        now = clock()
        problems, cert, root, intermediates = _problems(model, now)
        if problems or cert is None:
            raise MeshlinkValidationError(where, problems)
        super().__init__(TYPE, name, None, opts)
        self.leaf_validity_limit_hours = hours_left(cert, now)

        pem = serialization.Encoding.PEM
        cert_text = cert.public_bytes(pem).decode()
        root_text = (root or cert).public_bytes(pem).decode()
        chain_text = ""
        if root is not None:
            chain_text = join_pem(
                [cert_text, *(c.public_bytes(pem).decode() for c in intermediates)]
            )
        self.issuer_cert_pem = pulumi.Output.from_input(cert_text)
        self.issuer_private_key_pem = pulumi.Output.secret(model.private_key_pem)
        self.root_cert_pem = pulumi.Output.from_input(root_text)
        self.chain_pem = pulumi.Output.from_input(chain_text)
        self.trust_bundle_pem = pulumi.Output.from_input(
            dedupe_pem([root_text, *model.previous_ca_certs])
        )
        register_declared_outputs(self)

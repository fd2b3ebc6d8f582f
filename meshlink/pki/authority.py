"""The link root CA, and optionally an issuing CA under it, generated with pulumi-tls.

Defaults, and why:

- **Keys:** ECDSA P-256. It is what every TLS stack on the path (Envoy's BoringSSL, the
  Go and Java clients) handles fastest and everywhere, at 128-bit security. P-384 and
  RSA 2048/3072/4096 are there for policies that require them.
- **Root lifetime:** 10 years, early renewal 1 year. The root's key only ever lives in
  the encrypted Pulumi state and replacing it is a coordinated rotation, so it should be
  rare; the one-year window is a backstop that makes a forgotten root due on a
  ``pulumi up`` long before it expires, instead of an outage on the day it does.
- **Issuing CA lifetime:** 3 years, early renewal 6 months. It is replaced without
  touching anyone's trust bundle (peers trust the root), so it can be short.
- **Uses:** ``cert_signing`` and ``crl_signing`` only. ``digital_signature`` would only be
  needed for a CA that signs OCSP responses itself, which this one does not.
- **Path length:** the root allows exactly one CA under it when there is an issuing CA.
  pulumi-tls cannot write ``pathLenConstraint: 0`` (it leaves a requested 0 out, which
  means "unlimited"), so 0 is refused rather than silently meaning the opposite, and the
  issuing CA carries no path length.

Rotation (DESIGN fact 13): ``early_renewal_hours`` alone is unreliable (pulumi-tls#39).
Changing ``ca_rotation`` replaces every CA key and certificate here on the next
``pulumi up``, and with them every leaf they signed. To keep traffic flowing across a
root rotation:

1. Put the current ``root_cert_pem`` into ``previous_ca_certs`` and change
   ``ca_rotation`` in the same update. Every trust bundle then carries the old and the
   new root, so a gateway that still presents an old certificate is accepted by one that
   already has the new bundle. The two clusters' Secrets change moments apart; a
   handshake that meets a peer in between is retried by the client.
2. When every gateway serves a certificate from the new root (the leaves were all
   replaced in step 1), remove the old root from ``previous_ca_certs``.

Rotating only the issuing CA (``issuing_ca.rotation``) needs no trust change at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Required, TypedDict

import pulumi
import pulumi_tls as tls
from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshlink.argdocs import documents
from meshlink.outputs import register_declared_outputs
from meshlink.pki.issuer import IssuerComponent, dedupe_pem, join_pem
from meshlink.pki.models import (
    HOURS_PER_DAY,
    HOURS_PER_YEAR,
    CaSubjectModel,
    Hours,
    KeyArgs,
    KeyModel,
    Rotation,
    SubjectArgs,
    check_lifetime,
    rotation_trigger,
)
from meshlink.pki.x509_checks import CertificateProblem, load_certificates
from meshlink.validation import validate_args

TYPE = "meshlink:index:CertificateAuthority"

ROOT_VALIDITY_HOURS = 10 * HOURS_PER_YEAR
MAX_CA_VALIDITY_HOURS = 20 * HOURS_PER_YEAR
"""Upper bound of a link CA's lifetime. NIST SP 800-57 Part 1 Rev. 5, section 5.3.6,
recommends a cryptoperiod of one to three years for a private signature key, CA keys
included; a root's certificate may outlive its key's use for signing, but 20 years is
already past the horizon of the key sizes the same document (table 4) assesses, and a
link that needs longer has no rotation plan. https://doi.org/10.6028/NIST.SP.800-57pt1r5"""
MAX_PATH_LENGTH = 2
"""meshlink issues at most one intermediate (the issuing CA) below a root, so a path
length of 1 suffices and 2 leaves room for one more level. A larger value only widens what
a compromised intermediate could sign (RFC 5280, section 4.2.1.9)."""
ROOT_EARLY_RENEWAL_HOURS = HOURS_PER_YEAR
ISSUING_VALIDITY_HOURS = 3 * HOURS_PER_YEAR
ISSUING_EARLY_RENEWAL_HOURS = 182 * HOURS_PER_DAY
CA_USES = ["cert_signing", "crl_signing"]


class IssuingCaArgs(TypedDict, total=False):
    """An intermediate CA under the root that signs the leaves, so that the root key is
    used only to sign it."""

    subject: Required[SubjectArgs]
    """Its distinguished name; ``common_name`` is required."""
    key: KeyArgs
    """Its key; ECDSA P-256 by default."""
    validity_hours: int
    """Lifetime in hours; 3 years by default."""
    early_renewal_hours: int
    """How long before expiry pulumi-tls considers it due; 6 months by default."""
    rotation: Rotation
    """Change it to replace the issuing CA (key and certificate) and the leaves it signed."""


class CertificateAuthorityArgs(TypedDict, total=False):
    """A link root CA, and optionally an issuing CA under it."""

    subject: Required[SubjectArgs]
    """The root's distinguished name; ``common_name`` is required."""
    key: KeyArgs
    """The root key; ECDSA P-256 by default."""
    validity_hours: int
    """Root lifetime in hours; 10 years by default."""
    early_renewal_hours: int
    """How long before expiry pulumi-tls considers the root due; 1 year by default."""
    max_path_length: int
    """Most CA certificates allowed under the root; 1 with an issuing CA, unlimited
    without. 0 cannot be expressed with pulumi-tls and is refused."""
    issuing_ca: IssuingCaArgs
    """An issuing CA to sign the leaves instead of the root."""
    previous_ca_certs: Sequence[str]
    """PEM roots still trusted during a CA rotation; they join every trust bundle."""
    ca_rotation: Rotation
    """Change it to replace every CA key and certificate here (see the module docs)."""


class _IssuingModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: CaSubjectModel
    key: KeyModel = Field(default_factory=KeyModel)
    validity_hours: Hours = ISSUING_VALIDITY_HOURS
    early_renewal_hours: int = Field(default=ISSUING_EARLY_RENEWAL_HOURS, ge=0)
    rotation: Rotation | None = None

    @model_validator(mode="after")
    def _lifetime(self) -> _IssuingModel:
        check_lifetime(self.validity_hours, self.early_renewal_hours, "")
        return self


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: CaSubjectModel
    key: KeyModel = Field(default_factory=KeyModel)
    validity_hours: Hours = ROOT_VALIDITY_HOURS
    early_renewal_hours: int = Field(default=ROOT_EARLY_RENEWAL_HOURS, ge=0)
    max_path_length: int | None = None
    issuing_ca: _IssuingModel | None = None
    previous_ca_certs: list[str] = Field(default_factory=list)
    ca_rotation: Rotation | None = None

    @field_validator("previous_ca_certs")
    @classmethod
    def _previous_are_cas(cls, value: list[str]) -> list[str]:
        for index, pem in enumerate(value):
            for cert in _parse(pem, f"[{index}]"):
                try:
                    is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
                except x509.ExtensionNotFound:
                    is_ca = False
                if not is_ca:
                    raise ValueError(f"[{index}] is not a CA certificate")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _Model:
        check_lifetime(self.validity_hours, self.early_renewal_hours, "")
        if self.validity_hours > MAX_CA_VALIDITY_HOURS:
            raise ValueError(
                f"validity_hours ({self.validity_hours}) exceeds 20 years "
                f"({MAX_CA_VALIDITY_HOURS} hours); a CA key that old has outlived every key "
                "management guideline (NIST SP 800-57); plan a rotation instead"
            )
        if self.max_path_length is not None and self.max_path_length > MAX_PATH_LENGTH:
            raise ValueError(
                f"max_path_length ({self.max_path_length}) is above {MAX_PATH_LENGTH}: meshlink "
                "issues at most one intermediate, and a longer path only lets a compromised "
                "intermediate create more CAs"
            )
        if self.max_path_length is not None:
            if self.max_path_length == 0:
                raise ValueError(
                    "max_path_length: 0 cannot be expressed with pulumi-tls (it would be "
                    "left out, which means unlimited); leave it unset"
                )
            if self.max_path_length < 0:
                raise ValueError("max_path_length must be at least 1")
            if self.issuing_ca is not None and self.max_path_length < 1:
                raise ValueError("max_path_length must be at least 1 with an issuing CA")
        if self.issuing_ca is not None and self.issuing_ca.validity_hours > self.validity_hours:
            raise ValueError(
                f"issuing_ca.validity_hours ({self.issuing_ca.validity_hours}) must not exceed "
                f"the root's validity_hours ({self.validity_hours})"
            )
        return self

    @property
    def signer_validity_hours(self) -> int:
        """The lifetime of the certificate that signs the leaves."""
        return self.issuing_ca.validity_hours if self.issuing_ca else self.validity_hours

    def leaves_problem(self, leaf_validity_hours: int, leaf_setting: str) -> str | None:
        """Why leaves of ``leaf_validity_hours`` must not come from this CA, or None: a
        leaf that outlives its issuer fails verification before it expires."""
        signer = "issuing_ca.validity_hours" if self.issuing_ca is not None else "validity_hours"
        if self.signer_validity_hours >= leaf_validity_hours:
            return None
        return (
            f"{signer} ({self.signer_validity_hours}) is shorter than the leaves it signs "
            f"({leaf_setting}: {leaf_validity_hours} hours): they would outlive their issuer "
            "and fail verification before they expire"
        )


CertificateAuthorityModel = _Model
"""The pydantic model that validates :class:`CertificateAuthorityArgs`, for callers that
collect problems of several settings before raising one error."""


def _parse(pem: str, setting: str) -> list[x509.Certificate]:
    try:
        return load_certificates(pem, setting)
    except CertificateProblem as problem:
        raise ValueError(str(problem)) from None


@documents(CertificateAuthorityArgs)
class CertificateAuthority(IssuerComponent):
    """A link root CA made with pulumi-tls, optionally with an issuing CA under it.

    Satisfies :class:`~meshlink.pki.LinkIssuer`. The private keys are reachable only as
    secret Outputs (``issuer_private_key_pem``) and are never registered as outputs of
    this component.
    """

    leaf_validity_limit_hours: int | None = None
    """The lifetime of the certificate that signs the leaves: no leaf may be longer. (A
    leaf issued late in that certificate's life can still outlive it: rotate the CA, or
    the leaves with it, before then.)"""

    def __init__(
        self,
        name: str,
        args: CertificateAuthorityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        model = validate_args(_Model, args, where=f"CertificateAuthority {name!r}")
        super().__init__(TYPE, name, None, opts)
        self.leaf_validity_limit_hours = model.signer_validity_hours

        self._declare_root(name, model)
        self.issuing_key: tls.PrivateKey | None = None
        self.issuing_cert: tls.LocallySignedCert | None = None
        if model.issuing_ca is None:
            self.issuer_cert_pem = self.root_cert.cert_pem
            self.issuer_private_key_pem = pulumi.Output.secret(self.root_key.private_key_pem)
            self.chain_pem = pulumi.Output.from_input("")
        else:
            self._declare_issuing_ca(name, model, model.issuing_ca)
        register_declared_outputs(self)

    def _declare_root(self, name: str, model: _Model) -> None:
        """The self-signed root, replaced whenever ``ca_rotation`` changes; the trust
        bundle keeps the previous roots given."""
        root_opts = pulumi.ResourceOptions(
            parent=self, replacement_trigger=rotation_trigger(model.ca_rotation)
        )
        self.root_key = tls.PrivateKey(
            f"{name}-root-key", **model.key.private_key_args(), opts=root_opts
        )
        max_path = model.max_path_length
        if max_path is None and model.issuing_ca is not None:
            max_path = 1
        self.root_cert = tls.SelfSignedCert(
            f"{name}-root-cert",
            private_key_pem=self.root_key.private_key_pem,
            subject=model.subject.self_signed_subject(),
            validity_period_hours=model.validity_hours,
            early_renewal_hours=model.early_renewal_hours,
            allowed_uses=CA_USES,
            is_ca_certificate=True,
            max_path_length=max_path,
            set_subject_key_id=True,
            set_authority_key_id=True,
            opts=root_opts,
        )
        self.root_cert_pem = self.root_cert.cert_pem
        self.trust_bundle_pem = self.root_cert.cert_pem.apply(
            lambda root: dedupe_pem([root, *model.previous_ca_certs])
        )

    def _declare_issuing_ca(self, name: str, model: _Model, issuing: _IssuingModel) -> None:
        """The issuing CA under the root, which signs the leaves; replaced with the root
        or on its own ``rotation``."""
        issuing_opts = pulumi.ResourceOptions(
            parent=self,
            replacement_trigger=rotation_trigger(model.ca_rotation, issuing.rotation),
        )
        self.issuing_key = tls.PrivateKey(
            f"{name}-issuing-key", **issuing.key.private_key_args(), opts=issuing_opts
        )
        issuing_csr = tls.CertRequest(
            f"{name}-issuing-csr",
            private_key_pem=self.issuing_key.private_key_pem,
            subject=issuing.subject.request_subject(),
            opts=issuing_opts,
        )
        self.issuing_cert = tls.LocallySignedCert(
            f"{name}-issuing-cert",
            cert_request_pem=issuing_csr.cert_request_pem,
            ca_cert_pem=self.root_cert.cert_pem,
            ca_private_key_pem=self.root_key.private_key_pem,
            validity_period_hours=issuing.validity_hours,
            early_renewal_hours=issuing.early_renewal_hours,
            allowed_uses=CA_USES,
            is_ca_certificate=True,
            set_subject_key_id=True,
            opts=issuing_opts,
        )
        self.issuer_cert_pem = self.issuing_cert.cert_pem
        self.issuer_private_key_pem = pulumi.Output.secret(self.issuing_key.private_key_pem)
        self.chain_pem = self.issuing_cert.cert_pem.apply(lambda pem: join_pem([pem]))

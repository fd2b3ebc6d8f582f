"""A link leaf certificate: the server certificate of an ingress gateway, or the client
certificate an egress gateway presents when it originates mutual TLS.

Server leaves carry a DNS SAN for every FQDN the gateway serves, because the client's
DestinationRule checks ``subjectAltNames`` against the FQDN (DESIGN fact 3), and EKU
``serverAuth``. Client leaves carry EKU ``clientAuth`` and a SAN naming the client
cluster (a DNS name, or a URI such as ``spiffe://…``), so the server Gateway can admit
clients by ``subjectAltNames``.

Lifetime: 90 days, early renewal 30 days by default (``LeafLifetimeArgs``). Short-lived
leaves limit what a leaked gateway key is worth, and 90 days is what public CAs settled
on. At most 397 days unless ``allow_long_validity`` is set, and never longer than the
certificate that signs it has left to live. Because
``early_renewal_hours`` alone does not reliably renew (pulumi-tls#39), ``rotation``
drives renewal: change it (a date works well) and the next ``pulumi up`` replaces the
leaf's key, request and certificate, and nothing of the CA.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Required, TypedDict

import pulumi
import pulumi_tls as tls
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    field_validator,
    model_validator,
)

from meshlink.argdocs import documents
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.pki.issuer import LinkIssuer, check_issuer, join_pem
from meshlink.pki.models import (
    HOURS_PER_DAY,
    KeyArgs,
    KeyModel,
    Rotation,
    check_lifetime,
    rotation_trigger,
)
from meshlink.validation import Fqdn, MeshlinkValidationError, check_uri_san, validate_args

TYPE = "meshlink:index:LeafCertificate"

LEAF_VALIDITY_HOURS = 90 * HOURS_PER_DAY
LEAF_EARLY_RENEWAL_HOURS = 30 * HOURS_PER_DAY
MIN_LEAF_VALIDITY_HOURS = HOURS_PER_DAY
"""A leaf is replaced only by a ``pulumi up``; one that lives less than a day would expire
between two runs of any ordinary schedule."""
MAX_LEAF_VALIDITY_HOURS = 397 * HOURS_PER_DAY
"""The CA/Browser Forum Baseline Requirements, section 6.3.2: TLS subscriber certificates
"SHOULD NOT have a Validity Period greater than 397 days"
(https://cabforum.org/working-groups/server/baseline-requirements/requirements/). A private
link is not bound by them, but a longer-lived key is worth more to whoever leaks it;
``allow_long_validity`` accepts more for a peer that cannot be rotated that often."""

StrictHours = Annotated[int, Strict(), Field(ge=MIN_LEAF_VALIDITY_HOURS)]
StrictRenewalHours = Annotated[int, Strict(), Field(ge=0)]


class LeafLifetimeArgs(TypedDict, total=False):
    """How long the link's leaf certificates (server and client) live."""

    validity_hours: int
    """Lifetime in hours: 90 days (2160) by default; at least 24, at most 397 days (9528)
    unless ``allow_long_validity``; never more than the signing CA has left to live."""
    early_renewal_hours: int
    """How long before expiry pulumi-tls considers a leaf due: 30 days (720) by default;
    less than ``validity_hours``. Renewal is reliable only through ``rotation``."""
    allow_long_validity: bool
    """Accept a lifetime above 397 days, for a peer that cannot take new certificates
    that often. Off by default."""


def check_leaf_lifetime(validity_hours: int, early_renewal_hours: int, allow_long: bool) -> None:
    check_lifetime(validity_hours, early_renewal_hours, "")
    if validity_hours > MAX_LEAF_VALIDITY_HOURS and not allow_long:
        raise ValueError(
            f"validity_hours ({validity_hours}) exceeds 397 days ({MAX_LEAF_VALIDITY_HOURS} "
            "hours), the longest lifetime the CA/Browser Forum recommends for a TLS "
            "certificate; rotate more often, or set allow_long_validity: true if a peer "
            "leaves no choice"
        )


class LeafLifetime(BaseModel):
    """The validated :class:`LeafLifetimeArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    validity_hours: StrictHours = LEAF_VALIDITY_HOURS
    early_renewal_hours: StrictRenewalHours = LEAF_EARLY_RENEWAL_HOURS
    allow_long_validity: StrictBool = False

    @model_validator(mode="after")
    def _consistent(self) -> LeafLifetime:
        check_leaf_lifetime(self.validity_hours, self.early_renewal_hours, self.allow_long_validity)
        return self

    def leaf_args(self) -> dict[str, Any]:
        """The fields of :class:`LeafCertificateArgs` this sets."""
        return self.model_dump()


def leaf_outlives_issuer(issuer: Any, validity_hours: int, setting: str) -> str | None:
    """Why a leaf of ``validity_hours`` must not be issued by ``issuer``, or None.

    A leaf that outlives the certificate signing it fails verification before it expires.
    Issuers that know how long their signing certificate has left say so in
    ``leaf_validity_limit_hours``; for others nothing can be checked before the update.
    """
    limit = getattr(issuer, "leaf_validity_limit_hours", None)
    if not isinstance(limit, int) or isinstance(limit, bool) or validity_hours <= limit:
        return None
    return (
        f"{setting} ({validity_hours}) is longer than the link CA's signing certificate has "
        f"to live ({limit} hours): the leaves would outlive their issuer and fail "
        "verification before they expire; shorten the leaves or rotate the CA first"
    )


class LeafCertificateArgs(TypedDict, total=False):
    """A server or client certificate for a link gateway."""

    issuer: Required[LinkIssuer]
    """The link CA that signs it."""
    role: Required[Literal["server", "client"]]
    """``server`` (EKU serverAuth) for an ingress gateway, ``client`` (EKU clientAuth)
    for an egress gateway."""
    dns_names: list[str]
    """DNS SANs. A server leaf needs every FQDN it serves; a client leaf may name its
    cluster here."""
    uris: list[str]
    """URI SANs, such as ``spiffe://example.org/cluster/client-a``, identifying a client."""
    common_name: str
    """Subject CN; defaults to the first DNS name when it fits in 64 characters."""
    organization: str
    """Subject O."""
    key: KeyArgs
    """The leaf key; ECDSA P-256 by default."""
    validity_hours: int
    """Lifetime in hours; 90 days by default, at most 397 days unless
    ``allow_long_validity``, never longer than the issuer has left to live."""
    early_renewal_hours: int
    """How long before expiry pulumi-tls considers it due; 30 days by default."""
    allow_long_validity: bool
    """Accept ``validity_hours`` above 397 days."""
    rotation: Rotation
    """Change it to replace this leaf (key, request and certificate)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    issuer: Any
    role: Literal["server", "client"]
    dns_names: list[Fqdn] = Field(default_factory=list)
    uris: list[str] = Field(default_factory=list)
    common_name: str | None = Field(default=None, min_length=1, max_length=64)
    organization: str | None = Field(default=None, min_length=1, max_length=64)
    key: KeyModel = Field(default_factory=KeyModel)
    validity_hours: StrictHours = LEAF_VALIDITY_HOURS
    early_renewal_hours: StrictRenewalHours = LEAF_EARLY_RENEWAL_HOURS
    allow_long_validity: StrictBool = False
    rotation: Rotation | None = None

    @field_validator("issuer")
    @classmethod
    def _is_issuer(cls, value: Any) -> Any:
        return check_issuer(value)

    @field_validator("uris")
    @classmethod
    def _uris(cls, value: list[str]) -> list[str]:
        return [check_uri_san(v) for v in value]

    @model_validator(mode="after")
    def _consistent(self) -> _Model:
        check_leaf_lifetime(self.validity_hours, self.early_renewal_hours, self.allow_long_validity)
        if len(set(self.dns_names)) != len(self.dns_names):
            raise ValueError("dns_names holds the same name twice")
        if self.role == "server" and not self.dns_names:
            raise ValueError(
                "a server certificate needs dns_names: every FQDN the gateway serves, "
                "since clients check the SAN against the FQDN"
            )
        if self.role == "client" and not (self.dns_names or self.uris):
            raise ValueError(
                "a client certificate needs dns_names or uris identifying the client "
                "cluster, so that the server can admit it by subjectAltNames"
            )
        return self

    def subject(self) -> tls.CertRequestSubjectArgs | None:
        subject: dict[str, str] = {}
        common_name = self.common_name
        if common_name is None and self.dns_names and len(self.dns_names[0]) <= 64:
            common_name = self.dns_names[0]
        if common_name:
            subject["common_name"] = common_name
        if self.organization:
            subject["organization"] = self.organization
        return tls.CertRequestSubjectArgs(**subject) if subject else None

    def allowed_uses(self) -> list[str]:
        uses = ["digital_signature"]
        if self.key.is_rsa:
            # RSA key exchange (TLS 1.2 static RSA) encrypts with the certificate's key.
            uses.append("key_encipherment")
        uses.append("server_auth" if self.role == "server" else "client_auth")
        return uses


@documents(LeafCertificateArgs)
class LeafCertificate(pulumi.ComponentResource):
    """``tls.PrivateKey`` + ``tls.CertRequest`` + ``tls.LocallySignedCert`` under a
    :class:`~meshlink.pki.LinkIssuer`.

    ``cert_pem`` is the leaf alone; ``full_chain_pem`` is the leaf followed by the
    issuer's chain, which is what belongs in ``tls.crt``; ``private_key_pem`` is a secret
    Output and is not registered as an output of this component. ``dns_names`` and
    ``uris`` are the SANs as plain lists, for the Istio objects that must match them.
    """

    cert_pem: Registered[pulumi.Output[str]]
    """The leaf certificate alone."""
    full_chain_pem: Registered[pulumi.Output[str]]
    """The leaf followed by the issuer's chain: what belongs in ``tls.crt``."""
    private_key_pem: pulumi.Output[str]
    """The leaf's key: a secret Output, not registered."""
    validity_end_time: Registered[pulumi.Output[str]]
    """When the leaf expires (RFC 3339)."""
    dns_names: Registered[list[str]]
    """The DNS SANs, for the Istio objects that must match them."""
    uris: Registered[list[str]]
    """The URI SANs."""
    role: Registered[str]
    """``server`` or ``client``: the extended key usage the leaf carries."""

    def __init__(
        self, name: str, args: LeafCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        where = f"LeafCertificate {name!r}"
        model = validate_args(_Model, args, where=where)
        issuer: LinkIssuer = model.issuer
        if issuer.not_ready_reason:
            raise MeshlinkValidationError(where, [f"issuer: {issuer.not_ready_reason}"])
        outlives = leaf_outlives_issuer(issuer, model.validity_hours, "validity_hours")
        if outlives:
            raise MeshlinkValidationError(where, [outlives])
        super().__init__(TYPE, name, None, opts)

        self.role = model.role
        self.dns_names = list(model.dns_names)
        self.uris = list(model.uris)
        child_opts = pulumi.ResourceOptions(
            parent=self, replacement_trigger=rotation_trigger(model.rotation)
        )
        self.key = tls.PrivateKey(f"{name}-key", **model.key.private_key_args(), opts=child_opts)
        self.request = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=self.key.private_key_pem,
            subject=model.subject(),
            dns_names=self.dns_names or None,
            uris=self.uris or None,
            opts=child_opts,
        )
        self.certificate = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=self.request.cert_request_pem,
            ca_cert_pem=issuer.issuer_cert_pem,
            ca_private_key_pem=issuer.issuer_private_key_pem,
            validity_period_hours=model.validity_hours,
            early_renewal_hours=model.early_renewal_hours,
            allowed_uses=model.allowed_uses(),
            is_ca_certificate=False,
            set_subject_key_id=True,
            opts=child_opts,
        )
        self.cert_pem = self.certificate.cert_pem
        self.full_chain_pem = pulumi.Output.all(self.certificate.cert_pem, issuer.chain_pem).apply(
            lambda parts: join_pem(parts)
        )
        self.private_key_pem = pulumi.Output.secret(self.key.private_key_pem)
        self.validity_end_time = self.certificate.validity_end_time

        register_declared_outputs(self)

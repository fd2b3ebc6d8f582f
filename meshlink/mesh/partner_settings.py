"""What ``PartnerLink`` takes: its arguments, the models that validate them, the one
service the link's client half declares, and the checks of the certificate the partner
signs, apart from the component (:mod:`meshlink.mesh.partner`)."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence
from typing import Any, NotRequired, Required, TypedDict

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshlink.mesh.common import RESERVED_PORTS, RESERVED_PORTS_TEXT
from meshlink.mesh.half import LinkOptions, LinkOptionsArgs
from meshlink.mesh.identity import ClientIdentity, ClientIdentityArgs
from meshlink.mesh.link_parts import MeshLinkClientArgs, MeshLinkClientSettings
from meshlink.mesh.services import LinkedService
from meshlink.mesh.targets import check_external_address
from meshlink.pki import LinkIssuer
from meshlink.pki.issuer import check_issuer
from meshlink.pki.models import CaSubjectModel, KeyArgs, KeyModel, SubjectArgs
from meshlink.pki.x509_checks import CaChecks, Clock, describe
from meshlink.validation import Fqdn, KubernetesLabel, Port


class PartnerEndpointArgs(TypedDict):
    """The partner's mutual-TLS endpoint, as the partner publishes it."""

    host: str
    """Its DNS name: the egress gateway resolves it and connects there."""
    port: int
    """Its TLS port."""
    ca_bundle_pem: str
    """The CA certificate(s) that verify the partner's server certificate (PEM); with
    ``signed_by_partner``, also what the signed client certificate must chain to."""
    sni: NotRequired[str]
    """The server name to send; defaults to ``host``."""
    subject_alt_names: NotRequired[Sequence[str]]
    """The names the partner's server certificate carries (one of them must match);
    defaults to ``[host]``."""


def check_partner_host(value: str) -> str:
    """A partner's host is a DNS name outside the platform. Not an IP address: the
    ServiceEntry resolves its host by DNS, and an address says nothing the partner's
    certificate can be checked against. Not the cluster's own infrastructure either
    (metadata server, API server, a Kubernetes Service)."""
    check_external_address(value)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return value
    raise ValueError(
        f"{value!r} is an IP address; give the partner's DNS name (the egress gateway "
        "resolves it, and it is the default SNI and expected server name)"
    )


def _check_pem_certificates(value: Any) -> Any:
    if not isinstance(value, str) or "-----BEGIN CERTIFICATE-----" not in value:
        raise ValueError(
            "expected the partner's CA certificate(s) as PEM text ('-----BEGIN "
            "CERTIFICATE-----'); it is public and is checked before anything is declared"
        )
    return value


class PartnerEndpoint(BaseModel):
    """Validates :class:`PartnerEndpointArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: Port
    ca_bundle_pem: str
    sni: Fqdn | None = None
    subject_alt_names: list[str] | None = Field(default=None, min_length=1)

    @field_validator("host")
    @classmethod
    def _partner_host(cls, value: str) -> str:
        return check_partner_host(value)

    @field_validator("ca_bundle_pem")
    @classmethod
    def _bundle(cls, value: Any) -> Any:
        return _check_pem_certificates(value)


class SignedByPartnerArgs(TypedDict, total=False):
    """A client certificate from the partner's CA: meshlink makes the key and the request,
    the partner signs it."""

    subject: Required[SubjectArgs]
    """The request's distinguished name; ``common_name`` is required (the partner may
    prescribe it)."""
    key: KeyArgs
    """The client key; ECDSA P-256 by default."""
    signed_cert_pem: str
    """The certificate the partner signed for ``csr_pem`` (followed by any intermediates
    between it and ``endpoint.ca_bundle_pem``); leave it out until then."""


class SignedByPartner(BaseModel):
    """Validates :class:`SignedByPartnerArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: CaSubjectModel
    key: KeyModel = Field(default_factory=KeyModel)
    signed_cert_pem: str | None = None


class PartnerLinkArgs(LinkOptionsArgs, total=False):
    """A link from client workloads to a partner's mutual-TLS endpoint that meshlink does
    not declare. Give ``issuer`` and ``client_identity``, or ``signed_by_partner``."""

    endpoint: Required[PartnerEndpointArgs]
    app_port: Required[int]
    """The port client workloads connect to (``endpoint.host``:``app_port``); the egress
    gateway carries it to the endpoint's port."""
    service_name: str
    """Short name (a DNS label) in the names of the link's objects; default ``partner``."""
    client: Required[MeshLinkClientArgs]
    """The client cluster, with its provider."""
    issuer: LinkIssuer
    """A link CA the partner trusts, which issues the client certificate here."""
    client_identity: ClientIdentityArgs
    """With ``issuer``: the client certificate's SAN, as the partner expects it."""
    signed_by_partner: SignedByPartnerArgs
    """Instead of ``issuer``: a client certificate signed by the partner's CA."""


class PartnerLinkSettings(LinkOptions):
    """Validates :class:`PartnerLinkArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    endpoint: PartnerEndpoint
    app_port: Port
    service_name: KubernetesLabel = "partner"
    client: MeshLinkClientSettings
    issuer: Any = None
    client_identity: ClientIdentity | None = None
    signed_by_partner: SignedByPartner | None = None

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: Any) -> Any:
        return None if value is None else check_issuer(value)

    @model_validator(mode="after")
    def _one_credential(self) -> PartnerLinkSettings:
        if (self.issuer is None) == (self.signed_by_partner is None):
            raise ValueError(
                "give exactly one of issuer (a link CA the partner trusts, with "
                "client_identity) or signed_by_partner (a certificate from the partner's CA)"
            )
        if self.issuer is not None and self.client_identity is None:
            raise ValueError("client_identity is required with issuer: it is the certificate's SAN")
        if self.signed_by_partner is not None:
            if self.client_identity is not None:
                raise ValueError(
                    "client_identity cannot be set with signed_by_partner: the partner "
                    "decides what its certificate names"
                )
            if "leaf_lifetime" in self.model_fields_set:
                raise ValueError(
                    "leaf_lifetime cannot be set with signed_by_partner: the partner "
                    "chooses the certificate's lifetime"
                )
        return self


class PartnerService(LinkedService):
    """The one service of a partner link: the endpoint is its FQDN and link port, and its
    target (nothing meshlink declares routes there). The partner chooses the server name
    and the names on its certificate, so they need not be the host."""

    sni: Fqdn
    server_names: tuple[str, ...]

    @property
    def origination_sni(self) -> str:
        return self.sni

    @property
    def expected_server_names(self) -> tuple[str, ...]:
        return self.server_names


def partner_service(settings: PartnerLinkSettings) -> PartnerService:
    endpoint = settings.endpoint
    return PartnerService(
        name=settings.service_name,
        fqdn=endpoint.host,
        app_port=settings.app_port,
        link_port=endpoint.port,
        target_external={"address": endpoint.host, "port": endpoint.port},
        sni=endpoint.sni or endpoint.host,
        server_names=tuple(endpoint.subject_alt_names or [endpoint.host]),
    )


def port_problems(settings: PartnerLinkSettings) -> list[str]:
    """The rules of :func:`~meshlink.mesh.services.check_services` for the one service,
    named by this component's settings."""
    problems = [
        f"{setting}: {port} is reserved by Istio on its proxies and gateways "
        f"({RESERVED_PORTS_TEXT})"
        for setting, port in (
            ("app_port", settings.app_port),
            ("endpoint.port", settings.endpoint.port),
        )
        if port in RESERVED_PORTS
    ]
    if settings.app_port == settings.endpoint.port:
        problems.append(
            f"app_port: equals endpoint.port ({settings.app_port}); the client sidecars and "
            "the egress gateway need two distinct ports (the app port as TCP, the "
            "endpoint's as TLS)"
        )
    return problems


SIGNED_CERT_SETTING = "signed_by_partner.signed_cert_pem"


def signed_certificate_problems(
    chain: Sequence[x509.Certificate], partner_cas: Sequence[x509.Certificate], clock: Clock
) -> list[str]:
    """Why the partner's signed certificate (leaf first, then intermediates) cannot be the
    link's client certificate; empty when it can."""
    leaf, intermediates = chain[0], list(chain[1:])
    where = f"{SIGNED_CERT_SETTING}: {describe(leaf)}"
    problems = CaChecks(now=clock()).validity_problems(leaf, SIGNED_CERT_SETTING)
    try:
        is_ca = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        problems.append(f"{where} is a CA certificate; the partner must sign a client certificate")
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        client_auth = ExtendedKeyUsageOID.CLIENT_AUTH in usages
    except x509.ExtensionNotFound:
        client_auth = False
    if not client_auth:
        problems.append(
            f"{where} has no clientAuth extended key usage; the partner's endpoint would "
            "refuse it as a client certificate"
        )
    if not _chains_to(leaf, intermediates, partner_cas):
        problems.append(
            f"{where} is not signed by the partner's CA in endpoint.ca_bundle_pem (through "
            "the intermediates that follow it, nearest first); it was signed by "
            f"{leaf.issuer.rfc4514_string() or '(empty issuer)'}"
        )
    return problems


def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chains_to(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> bool:
    path = [leaf, *intermediates]
    if not all(_signed_by(child, parent) for child, parent in itertools.pairwise(path)):
        return False
    return any(_signed_by(path[-1], anchor) for anchor in anchors)

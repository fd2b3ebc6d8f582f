"""What ``LinkServer`` takes: its arguments and the models that validate them, apart
from the component so that its plan (:mod:`meshlink.mesh.half_plans`) reads them too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Required, TypedDict

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshlink.mesh.ciphers import DEFAULT_CIPHER_SUITES, CipherSuites
from meshlink.mesh.gateway_settings import (
    ExistingIngressGatewaySettings,
    ExistingIngressGatewaySettingsArgs,
    IngressGatewaySettings,
    IngressGatewaySettingsArgs,
)
from meshlink.mesh.half import (
    LinkCredential,
    LinkCredentialArgs,
    LinkOptions,
    LinkOptionsArgs,
    check_one_source,
)
from meshlink.mesh.identity import check_identity
from meshlink.mesh.readiness import IstioReadinessArgs, IstioReadinessSettings
from meshlink.mesh.services import LinkedService, LinkedServiceArgs
from meshlink.pki import LinkIssuer
from meshlink.pki.issuer import check_issuer
from meshlink.validation import TrustDomain

DEFAULT_TRUST_DOMAINS = ("cluster.local",)


ONE_INGRESS_GATEWAY_PROBLEM = (
    "give exactly one of ingress_gateway (meshlink deploys the gateway) or "
    "existing_ingress_gateway (meshlink adds the link ports to yours)"
)
EXISTING_GATEWAY_ACCOUNT_PROBLEM = (
    "existing_ingress_gateway.service_account: required while a service has "
    "target_policies on: the targets' AuthorizationPolicies admit the ingress gateway by "
    "its service account"
)


class ServerClusterArgs(TypedDict, total=False):
    """The server cluster's settings: the same in ``LinkServer`` and in ``MeshLink``'s
    ``server``. Give ``ingress_gateway`` (meshlink deploys one) or
    ``existing_ingress_gateway`` (meshlink adds its ports to it)."""

    ingress_gateway: IngressGatewaySettingsArgs
    """Deploy an ingress gateway (namespace and name default to ``<prefix>-ingress``)."""
    existing_ingress_gateway: ExistingIngressGatewaySettingsArgs
    """Or reuse one, adding the link ports to its Service."""
    readiness: IstioReadinessArgs
    """How the readiness gate reaches the server cluster (give its kubeconfig)."""
    cluster_name: str
    """Named in messages (default ``server``)."""
    trust_domains: Sequence[str]
    """The server mesh's trust domain(s), for the ingress gateway's principal in the
    targets' AuthorizationPolicies (``<trust domain>/ns/<namespace>/sa/<account>``).
    Default ``[cluster.local]``, Istio's default; managed Cloud Service Mesh uses the
    fleet's workload identity pool, ``<fleet project>.svc.id.goog``."""


class ServerClusterSettings(BaseModel):
    """Validates :class:`ServerClusterArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    ingress_gateway: IngressGatewaySettings | None = None
    existing_ingress_gateway: ExistingIngressGatewaySettings | None = None
    readiness: IstioReadinessSettings = Field(default_factory=IstioReadinessSettings)
    cluster_name: str = Field(default="server", min_length=1)
    trust_domains: list[TrustDomain] = Field(
        default_factory=lambda: list(DEFAULT_TRUST_DOMAINS), min_length=1
    )

    @model_validator(mode="after")
    def _one_gateway(self) -> ServerClusterSettings:
        if (self.ingress_gateway is None) == (self.existing_ingress_gateway is None):
            raise ValueError(ONE_INGRESS_GATEWAY_PROBLEM)
        return self


class ServerTlsArgs(TypedDict, total=False):
    """What the ingress Gateway accepts from clients."""

    min_tls_version: Literal["TLSV1_2", "TLSV1_3"]
    """Lowest TLS version between the clusters (default TLSV1_2)."""
    cipher_suites: Sequence[str]
    """TLS 1.2 cipher suites the ingress Gateway accepts: ECDHE with AES-GCM or
    ChaCha20-Poly1305 only (default: all six). TLS 1.3 suites are not configurable."""


class ServerTls(BaseModel):
    """Validates :class:`ServerTlsArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    min_tls_version: Literal["TLSV1_2", "TLSV1_3"] = "TLSV1_2"
    cipher_suites: CipherSuites = Field(default_factory=lambda: list(DEFAULT_CIPHER_SUITES))


class LinkServerArgs(ServerClusterArgs, ServerTlsArgs, LinkOptionsArgs, total=False):
    """The server cluster's half of a link. Pass the cluster's ``kubernetes.Provider``
    through ``opts``. Give ``issuer`` or ``credential``."""

    services: Required[Sequence[LinkedServiceArgs]]
    issuer: LinkIssuer
    """The link CA that issues the server certificates (one per service)."""
    credential: LinkCredentialArgs
    """Instead of ``issuer``: a server certificate issued elsewhere (EKU ``serverAuth``,
    a DNS SAN for every service's FQDN), used for every service."""
    allowed_client_identities: Sequence[str]
    """Client certificate SANs (DNS names or URIs) that every service's ingress Gateway
    admits."""
    service_client_identities: Mapping[str, Sequence[str]]
    """Per service name, more client SANs that this service's Gateway admits: a service
    that some client clusters only may use (fan-in). Every service must admit at least one
    identity, here or in ``allowed_client_identities``."""
    client_trust_bundle_pem: pulumi.Input[str]
    """What verifies client certificates (``ca.crt`` of the server Secrets). Defaults to
    the issuer's trust bundle; required with ``credential``."""


class LinkServerSettings(ServerClusterSettings, ServerTls, LinkOptions):
    """Validates :class:`LinkServerArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    services: list[LinkedService] = Field(min_length=1)
    issuer: Any = None
    credential: LinkCredential | None = None
    allowed_client_identities: list[str] = Field(default_factory=list)
    service_client_identities: dict[str, list[str]] = Field(default_factory=dict)
    client_trust_bundle_pem: Any = None

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: Any) -> Any:
        return None if value is None else check_issuer(value)

    @field_validator("allowed_client_identities")
    @classmethod
    def _identities(cls, value: list[str]) -> list[str]:
        for identity in value:
            check_identity(identity)
        if len(set(value)) != len(value):
            raise ValueError("lists an identity twice")
        return value

    @field_validator("service_client_identities")
    @classmethod
    def _service_identities(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for service, identities in value.items():
            if not identities:
                raise ValueError(f"[{service}]: an empty list admits no client; remove the key")
            for identity in identities:
                check_identity(identity)
            if len(set(identities)) != len(identities):
                raise ValueError(f"[{service}]: lists an identity twice")
        return value

    def admitted_identities(self, service: str) -> list[str]:
        """The client SANs ``service``'s Gateway admits: every service's, then its own."""
        own = self.service_client_identities.get(service, [])
        return list(dict.fromkeys([*self.allowed_client_identities, *own]))

    @model_validator(mode="after")
    def _certificate_source(self) -> LinkServerSettings:
        check_one_source(
            self.issuer,
            self.credential,
            trust_bundle=self.client_trust_bundle_pem,
            trust_setting="client_trust_bundle_pem",
        )
        if self.credential is not None and self.rotation is not None:
            raise ValueError(
                "rotation cannot be set with credential: rotate the certificate where it is issued"
            )
        if self.credential is not None and "leaf_lifetime" in self.model_fields_set:
            raise ValueError(
                "leaf_lifetime cannot be set with credential: the certificate's lifetime is "
                "chosen where it is issued"
            )
        if (
            self.existing_ingress_gateway is not None
            and self.existing_ingress_gateway.service_account is None
            and any(s.target_policies for s in self.services)
        ):
            raise ValueError(EXISTING_GATEWAY_ACCOUNT_PROBLEM)
        self._check_admission()
        return self

    def _check_admission(self) -> None:
        names = [s.name for s in self.services]
        unknown = sorted(set(self.service_client_identities) - set(names))
        if unknown:
            raise ValueError(
                f"service_client_identities: {', '.join(map(repr, unknown))} is not a "
                f"linked service (services: {', '.join(names)})"
            )
        closed = [n for n in names if not self.admitted_identities(n)]
        if closed:
            raise ValueError(
                f"service {closed[0]!r} admits no client: list its clients in "
                "allowed_client_identities (every service) or "
                f"service_client_identities[{closed[0]!r}]"
            )

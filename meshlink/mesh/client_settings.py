"""What ``LinkClient`` takes: its arguments and the models that validate them, apart
from the component so that its plan (:mod:`meshlink.mesh.half_plans`) reads them too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Required, TypedDict

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshlink.mesh.gateway_settings import EgressGatewayArgs, EgressGatewaySettings
from meshlink.mesh.gateways import EgressGateway
from meshlink.mesh.half import (
    LinkCredential,
    LinkCredentialArgs,
    LinkOptions,
    LinkOptionsArgs,
    check_one_source,
)
from meshlink.mesh.hardening import ClientNetworkPolicy, ClientNetworkPolicyArgs
from meshlink.mesh.identity import ClientIdentity, ClientIdentityArgs
from meshlink.mesh.readiness import IstioReadinessArgs, IstioReadinessSettings
from meshlink.mesh.services import LinkedService, LinkedServiceArgs
from meshlink.pki import LinkIssuer
from meshlink.pki.issuer import check_issuer
from meshlink.validation import WorkloadNamespace


class ClientClusterArgs(TypedDict, total=False):
    """The client cluster's settings: the same in ``LinkClient`` and in ``MeshLink``'s
    ``client``."""

    namespaces: Required[Sequence[str]]
    """Namespaces of the client workloads (they need sidecar injection): the link's routes
    are exported to them and the NetworkPolicy, when enabled, goes into each."""
    egress_gateway: EgressGatewayArgs
    """Egress gateway settings; namespace and name default to ``<prefix>-egress``."""
    shared_egress_gateway: EgressGateway
    """Instead of ``egress_gateway``: an ``EgressGateway`` declared once in the program and
    shared by several links on this cluster. The link then declares only its own routes,
    rules and credential on it, and is refused if another link on it already uses one of
    its ports, FQDNs or service names."""
    network_policy: ClientNetworkPolicyArgs
    """The egress lock-down of the client namespaces: off unless ``enabled: true``, since
    it blocks every other outbound connection of the pods it selects."""
    readiness: IstioReadinessArgs
    """How the readiness gate reaches the client cluster (give its kubeconfig)."""
    cluster_name: str
    """Named in messages (default ``client``)."""


class ClientClusterSettings(BaseModel):
    """Validates :class:`ClientClusterArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    namespaces: list[WorkloadNamespace] = Field(min_length=1)
    egress_gateway: EgressGatewaySettings | None = None
    """None with ``shared_egress_gateway``, and when the defaults are wanted."""
    shared_egress_gateway: Any = None
    network_policy: ClientNetworkPolicy = Field(default_factory=ClientNetworkPolicy)
    readiness: IstioReadinessSettings = Field(default_factory=IstioReadinessSettings)
    cluster_name: str = Field(default="client", min_length=1)

    @field_validator("shared_egress_gateway")
    @classmethod
    def _shared_gateway(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, EgressGateway):
            raise ValueError(
                f"expected an EgressGateway component, got {type(value).__name__}; declare "
                "EgressGateway(name, {...}) once and pass it to each link"
            )
        return value

    @model_validator(mode="after")
    def _one_egress_gateway(self) -> ClientClusterSettings:
        if self.shared_egress_gateway is not None and self.egress_gateway is not None:
            raise ValueError(
                "give egress_gateway (a gateway of this link's own) or shared_egress_gateway "
                "(one declared once for several links), not both"
            )
        return self

    @field_validator("namespaces")
    @classmethod
    def _unique_namespaces(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a namespace twice")
        return value


class LinkClientArgs(ClientClusterArgs, LinkOptionsArgs, total=False):
    """The client cluster's half of a link. Pass the cluster's ``kubernetes.Provider``
    through ``opts`` (``providers=[...]`` or ``provider=``). Give ``issuer`` or
    ``credential``."""

    services: Required[Sequence[LinkedServiceArgs]]
    issuer: LinkIssuer
    """The link CA that issues the client certificate."""
    credential: LinkCredentialArgs
    """Instead of ``issuer``: a client certificate issued elsewhere (EKU ``clientAuth``,
    SAN = the identity the server admits)."""
    client_identity: ClientIdentityArgs
    """With ``issuer`` (required there): the client certificate's SAN; the server admits
    it by this value. With ``credential`` the certificate already carries it."""
    server_trust_bundle_pem: pulumi.Input[str]
    """What verifies the server certificates (``ca.crt`` of the client Secret). Defaults
    to the issuer's trust bundle, right when one link CA issues both sides; required
    with ``credential``."""


class LinkClientSettings(ClientClusterSettings, LinkOptions):
    """Validates :class:`LinkClientArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    services: list[LinkedService] = Field(min_length=1)
    issuer: Any = None
    credential: LinkCredential | None = None
    client_identity: ClientIdentity | None = None
    server_trust_bundle_pem: Any = None

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: Any) -> Any:
        return None if value is None else check_issuer(value)

    @model_validator(mode="after")
    def _certificate_source(self) -> LinkClientSettings:
        check_one_source(
            self.issuer,
            self.credential,
            trust_bundle=self.server_trust_bundle_pem,
            trust_setting="server_trust_bundle_pem",
        )
        if self.issuer is not None and self.client_identity is None:
            raise ValueError("client_identity is required with issuer: it is the certificate's SAN")
        if self.credential is not None:
            if self.client_identity is not None:
                raise ValueError(
                    "client_identity cannot be set with credential: the certificate already "
                    "names the client, and a second value could only disagree with it"
                )
            if self.rotation is not None:
                raise ValueError(
                    "rotation cannot be set with credential: rotate the certificate where it "
                    "is issued"
                )
            if "leaf_lifetime" in self.model_fields_set:
                raise ValueError(
                    "leaf_lifetime cannot be set with credential: the certificate's lifetime "
                    "is chosen where it is issued"
                )
        return self

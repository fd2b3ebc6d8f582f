"""The client side of a link: everything that goes into the client cluster.

Per cluster: the readiness gate, the egress gateway, the link client certificate and
its Secret, the DestinationRule for the egress gateway host (one subset per service),
the ``AuthorizationPolicy`` that admits only the client namespaces to the egress
gateway, and, when enabled, the NetworkPolicy in each client namespace. Per service: two
ServiceEntries (the app port for the client namespaces, the link port for the egress
gateway's namespace), an egress ``Gateway``, a VirtualService and the origination
DestinationRule.

One client certificate serves every service: it names the client cluster, which is
what the server admits, and it is the same cluster whatever the service.

The certificate is issued here by a link CA (``issuer``), or it was issued elsewhere and
is handed in (``credential``): the split-ownership layout, where a security team's stack
owns the CA and the cluster teams never see its key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshlink.argdocs import documents
from meshlink.istio import IstioSpec
from meshlink.mesh import istio_objects as objects
from meshlink.mesh.common import EGRESS_PORT
from meshlink.mesh.gateway_settings import EgressGatewayArgs, EgressGatewaySettings
from meshlink.mesh.gateways import EgressGateway
from meshlink.mesh.half import (
    IssuedCredential,
    LinkCredential,
    LinkCredentialArgs,
    LinkHalf,
    LinkOptions,
    LinkOptionsArgs,
    check_one_source,
    default_prefix,
    peer_trust_bundle,
)
from meshlink.mesh.half_plans import (
    ClientServicePlan,
    LinkClientPlan,
    egress_namespace_problems,
    plan_link_client,
)
from meshlink.mesh.hardening import (
    ClientNetworkPolicy,
    ClientNetworkPolicyArgs,
    client_network_policy,
    egress_rules,
)
from meshlink.mesh.identity import ClientIdentity, ClientIdentityArgs
from meshlink.mesh.naming import LinkNames
from meshlink.mesh.readiness import IstioReadinessArgs, IstioReadinessSettings
from meshlink.mesh.services import LinkedService, LinkedServiceArgs
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.pki import LeafCertificate, LinkIssuer
from meshlink.pki.issuer import check_issuer
from meshlink.validation import (
    MeshlinkValidationError,
    WorkloadNamespace,
    validate_args,
)

CLIENT_KINDS = (
    "ServiceEntry",
    "Gateway",
    "VirtualService",
    "DestinationRule",
    "AuthorizationPolicy",
)


class ClientClusterArgs(TypedDict, total=False):
    """The client cluster's settings: the same in ``LinkClient`` and in ``MeshLink``'s
    ``client``."""

    namespaces: Required[Sequence[str]]
    """Namespaces of the client workloads (they need sidecar injection): the link's routes
    are exported to them and the NetworkPolicy, when enabled, goes into each."""
    egress_gateway: EgressGatewayArgs
    """Egress gateway settings; namespace and name default to ``<prefix>-egress``."""
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
    egress_gateway: EgressGatewaySettings = Field(default_factory=EgressGatewaySettings)
    network_policy: ClientNetworkPolicy = Field(default_factory=ClientNetworkPolicy)
    readiness: IstioReadinessSettings = Field(default_factory=IstioReadinessSettings)
    cluster_name: str = Field(default="client", min_length=1)

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


@documents(LinkClientArgs)
class LinkClient(LinkHalf):
    """Everything a link needs in the client cluster."""

    egress_namespace: Registered[str]
    """The egress gateway's namespace."""
    egress_service_host: Registered[str]
    """The egress gateway Service's cluster-local host name."""
    client_san: Registered[str | None]
    """The client certificate's SAN when it is issued here (None with ``credential``)."""

    def __init__(
        self,
        name: str,
        args: LinkClientArgs | LinkClientSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        where = f"LinkClient {name!r}"
        settings = validate_args(LinkClientSettings, args, where=where, show_input=False)
        plan = plan_link_client(
            settings, LinkNames(settings.object_prefix or default_prefix(name, where))
        )
        problems = egress_namespace_problems(
            plan.egress_namespace, settings.namespaces, setting="namespaces"
        )
        if problems:
            raise MeshlinkValidationError(where, problems)
        super().__init__(
            "meshlink:index:LinkClient",
            name,
            settings,
            where=where,
            istio_kinds=CLIENT_KINDS,
            opts=opts,
        )
        self.services = settings.services
        self.egress = EgressGateway(
            f"{name}-egress", plan.egress_gateway, opts=pulumi.ResourceOptions(parent=self)
        )
        namespace_resource = self.egress.workload.namespace_resource
        in_egress_namespace = [namespace_resource] if namespace_resource is not None else []
        self._declare_credential(name, settings, plan, in_egress_namespace)
        self._declare_istio_objects(
            name,
            plan,
            pulumi.ResourceOptions(parent=self, depends_on=[self.gate, *in_egress_namespace]),
        )
        self._declare_network_policies(name, settings.network_policy, plan)

        self.egress_namespace = plan.egress_namespace
        self.egress_service_host = self.egress.ref.service_host
        self.fqdns = [s.fqdn for s in settings.services]
        self.client_san = plan.client_san
        """The SAN of a certificate issued here; None for a credential issued elsewhere."""
        register_declared_outputs(self)

    def _declare_credential(
        self,
        name: str,
        settings: LinkClientSettings,
        plan: LinkClientPlan,
        in_egress_namespace: Sequence[pulumi.Resource],
    ) -> None:
        """The client certificate, issued here or handed in, and its Secret."""
        self.certificate: LeafCertificate | IssuedCredential
        if plan.leaf is None:
            assert settings.credential is not None
            self.certificate = settings.credential.issued()
        else:
            self.certificate = self._issue_leaf(
                f"{name}-client-cert", plan.leaf, settings.rotation, settings.leaf_lifetime
            )
        self.credential = self._credential_secret(
            f"{name}-client-credential",
            secret_name=plan.credential_name,
            namespace=plan.egress_namespace,
            certificate=self.certificate,
            peer_trust_bundle_pem=peer_trust_bundle(
                settings.server_trust_bundle_pem, settings.issuer
            ),
            depends_on=in_egress_namespace,
        )

    def _declare_istio_objects(
        self, name: str, plan: LinkClientPlan, opts: pulumi.ResourceOptions
    ) -> None:
        """Every Istio object of the client side, in the egress gateway's namespace."""
        egress = self.egress.ref
        declared = [
            (
                f"{name}-egress-subsets",
                objects.egress_subsets_rule(
                    [s.service for s in plan.services],
                    egress_service_host=egress.service_host,
                    export_to=plan.export_to,
                ),
                plan.egress_subsets,
            ),
            *(item for s in plan.services for item in self._service_objects(name, plan, s)),
            (
                f"{name}-egress-authorization",
                objects.egress_authorization(
                    selector=egress.labels, client_namespaces=plan.client_namespaces
                ),
                plan.egress_authorization,
            ),
        ]
        for resource_name, model, metadata_name in declared:
            self._declare(
                resource_name,
                model,
                metadata_name=metadata_name,
                namespace=plan.egress_namespace,
                opts=opts,
            )

    def _service_objects(
        self, name: str, plan: LinkClientPlan, planned: ClientServicePlan
    ) -> list[tuple[str, IstioSpec, str]]:
        """The resource name, model and ``metadata.name`` of one service's objects."""
        egress = self.egress.ref
        service = planned.service
        prefix = f"{name}-{service.name}"
        gateway_ref = objects.gateway_reference(plan.egress_namespace, planned.egress_gateway)
        return [
            (
                f"{prefix}-service-entry",
                objects.app_service_entry(service, export_to=plan.app_export_to),
                planned.service_entry,
            ),
            (
                f"{prefix}-link-service-entry",
                objects.link_service_entry(service),
                planned.link_service_entry,
            ),
            (
                f"{prefix}-egress-gateway",
                objects.egress_gateway(service, selector=egress.labels),
                planned.egress_gateway,
            ),
            (
                f"{prefix}-virtual-service",
                objects.client_virtual_service(
                    service,
                    egress_service_host=egress.service_host,
                    gateway_ref=gateway_ref,
                    export_to=plan.export_to,
                ),
                planned.virtual_service,
            ),
            (
                f"{prefix}-origination",
                objects.origination_rule(service, credential_name=plan.credential_name),
                planned.origination,
            ),
        ]

    def _declare_network_policies(
        self, name: str, network_policy: ClientNetworkPolicy, plan: LinkClientPlan
    ) -> None:
        """The egress lock-down of each client namespace, when enabled."""
        self.network_policies: list[k8s.networking.v1.NetworkPolicy] = []
        if not plan.network_policy_namespaces:
            return
        rules = egress_rules(network_policy, self.egress.ref, EGRESS_PORT)
        for client_namespace in plan.network_policy_namespaces:
            self.network_policies.append(
                client_network_policy(
                    f"{name}-{client_namespace}-egress-policy",
                    metadata_name=plan.network_policy_name,
                    namespace=client_namespace,
                    rules=rules,
                    pod_selector=network_policy.pod_selector,
                    labels=self._labels,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
            self._record("NetworkPolicy", client_namespace, plan.network_policy_name)

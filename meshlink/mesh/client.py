"""The client side of a link: everything that goes into the client cluster.

Per cluster: the readiness gate, the egress gateway (unless a shared one is given), the
link client certificate and its Secret, the DestinationRule for the egress gateway host
(one subset per service), the ``AuthorizationPolicy`` that admits only the client
namespaces to the egress gateway, and, when enabled, the NetworkPolicy in each client
namespace. Per service: two ServiceEntries (the app port for the client namespaces, the
link port for the egress gateway's namespace), an egress ``Gateway``, a VirtualService
and the origination DestinationRule.

One client certificate serves every service: it names the client cluster, which is
what the server admits, and it is the same cluster whatever the service.

The certificate is issued here by a link CA (``issuer``), or it was issued elsewhere and
is handed in (``credential``): the split-ownership layout, where a security team's stack
owns the CA and the cluster teams never see its key.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from meshlink.argdocs import documents
from meshlink.istio import IstioSpec
from meshlink.mesh import istio_objects as objects
from meshlink.mesh.client_settings import LinkClientArgs, LinkClientSettings
from meshlink.mesh.common import EGRESS_PORT
from meshlink.mesh.gateways import EgressGateway
from meshlink.mesh.half import IssuedCredential, LinkHalf, default_prefix, peer_trust_bundle
from meshlink.mesh.half_plans import (
    ClientServicePlan,
    LinkClientPlan,
    egress_namespace_problems,
    plan_link_client,
)
from meshlink.mesh.hardening import ClientNetworkPolicy, client_network_policy, egress_rules
from meshlink.mesh.naming import LinkNames
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.pki import LeafCertificate
from meshlink.validation import MeshlinkValidationError, validate_args

CLIENT_KINDS = (
    "ServiceEntry",
    "Gateway",
    "VirtualService",
    "DestinationRule",
    "AuthorizationPolicy",
)


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
        prefix = settings.object_prefix or default_prefix(name, where)
        plan = plan_link_client(settings, LinkNames(prefix))
        problems = egress_namespace_problems(
            plan.egress_namespace, settings.namespaces, setting="namespaces"
        )
        shared: EgressGateway | None = settings.shared_egress_gateway
        if shared is not None:
            problems += shared.links.conflicts(prefix, settings.services, settings.namespaces)
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
        if shared is not None:
            shared.links.claim(prefix, settings.services, settings.namespaces)
            self.egress = shared
        else:
            assert plan.egress_gateway is not None
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

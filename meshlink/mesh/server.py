"""The server side of a link: everything that goes into the server cluster.

Per cluster: the readiness gate and the ingress gateway (deployed here, or an existing
one that gets the link ports added). Per service: a server certificate and its Secret,
a ``Gateway`` that terminates the link mTLS on the link port, a VirtualService that
sends the connection on to the target service, and, in the target's namespace, an
``AuthorizationPolicy`` that admits only the ingress gateway's mesh identity on the
target port and a STRICT ``PeerAuthentication`` for the target's pods (unless the
service turns ``target_policies`` off).

A target outside the server mesh (``target_external``) gets, in the ingress gateway's
namespace, a ServiceEntry that puts it into the gateway's registry and, when it speaks
TLS, a DestinationRule that originates that TLS with the target's CA (held in a Secret
there); it has no target policies.

Server certificates are issued one per service, not one for all FQDNs: adding or
removing a service then touches no other service's key, a leaked key impersonates one
service only, and a certificate does not list every other service linked through the
same gateway.

Or the server certificate was issued elsewhere (``credential``, the split-ownership
layout): then the one certificate, whose SANs list every FQDN, serves every service.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from meshlink.argdocs import documents
from meshlink.mesh import istio_objects as objects
from meshlink.mesh import target_objects
from meshlink.mesh.gateway_settings import StandaloneIngressGatewaySettings
from meshlink.mesh.gateways import ExistingIngressGateway, IngressGateway
from meshlink.mesh.half import IssuedCredential, LinkHalf, peer_trust_bundle
from meshlink.mesh.half_plans import (
    ExternalTargetPlan,
    LinkServerPlan,
    ServerServicePlan,
    plan_link_server,
)
from meshlink.mesh.server_settings import LinkServerArgs, LinkServerSettings
from meshlink.mesh.services import check_target_policies
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.pki import LeafCertificate
from meshlink.validation import MeshlinkValidationError, validate_args

SERVER_KINDS = ("Gateway", "VirtualService", "AuthorizationPolicy", "PeerAuthentication")
EXTERNAL_TARGET_KINDS = ("ServiceEntry", "DestinationRule")
"""The kinds an external target adds, which the readiness gate then waits for too."""
TARGET_CA_KEY = "cacert"
"""The key Istio reads a CA-only credential from (``ExtractRoot`` in istio/istio
``pilot/pkg/credentials/kube/secrets.go``)."""


@documents(LinkServerArgs)
class LinkServer(LinkHalf):
    """Everything a link needs in the server cluster."""

    ingress_namespace: Registered[str]
    """The ingress gateway's namespace."""
    ingress_address: Registered[pulumi.Output[str | None]]
    """The ingress gateway's load balancer address: the static address when one was
    given, else what the load balancer reports once provisioned."""

    def __init__(
        self,
        name: str,
        args: LinkServerArgs | LinkServerSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        where = f"LinkServer {name!r}"
        settings = validate_args(LinkServerSettings, args, where=where, show_input=False)
        problems = check_target_policies(settings.services)
        if problems:
            raise MeshlinkValidationError(where, problems)
        super().__init__(
            "meshlink:index:LinkServer",
            name,
            settings,
            where=where,
            istio_kinds=(
                (*SERVER_KINDS, *EXTERNAL_TARGET_KINDS)
                if any(s.target_external is not None for s in settings.services)
                else SERVER_KINDS
            ),
            opts=opts,
        )
        plan = plan_link_server(settings, self.names)
        namespace_dependency = self._declare_ingress_gateway(name, plan)
        self.certificates: dict[str, LeafCertificate] = {}
        """The server certificates issued here, per service (empty with ``credential``)."""
        self.credential: IssuedCredential | None = (
            settings.credential.issued() if settings.credential is not None else None
        )
        trust = peer_trust_bundle(settings.client_trust_bundle_pem, settings.issuer)
        istio_opts = pulumi.ResourceOptions(
            parent=self, depends_on=[self.gate, *namespace_dependency]
        )
        for service in plan.services:
            certificate = self._server_certificate(name, settings, service)
            self._credential_secret(
                f"{name}-{service.service.name}-server-credential",
                secret_name=service.credential_name,
                namespace=plan.ingress_namespace,
                certificate=certificate,
                peer_trust_bundle_pem=trust,
                depends_on=namespace_dependency,
            )
            self._declare_ingress_routing(name, settings, plan, service, istio_opts)
            if service.external_target is not None:
                self._declare_external_target(
                    f"{name}-{service.service.name}",
                    service.external_target,
                    namespace=plan.ingress_namespace,
                    namespace_dependency=namespace_dependency,
                    opts=istio_opts,
                )
        self._declare_target_policies(name, settings.trust_domains, plan)

        self.ingress_namespace = plan.ingress_namespace
        self.ingress_address = self.ingress.address
        self.fqdns = [s.fqdn for s in settings.services]
        register_declared_outputs(self)

    def _declare_ingress_gateway(self, name: str, plan: LinkServerPlan) -> list[pulumi.Resource]:
        """The ingress gateway, deployed or patched; returns its namespace when declared
        here, which everything in that namespace waits for."""
        self.ingress: IngressGateway | ExistingIngressGateway
        gateway = plan.ingress_gateway
        namespace_dependency: list[pulumi.Resource] = []
        if isinstance(gateway, StandaloneIngressGatewaySettings):
            self.ingress = IngressGateway(
                f"{name}-ingress", gateway, opts=pulumi.ResourceOptions(parent=self)
            )
            if self.ingress.workload.namespace_resource is not None:
                namespace_dependency.append(self.ingress.workload.namespace_resource)
        else:
            self.ingress = ExistingIngressGateway(
                f"{name}-ingress", gateway, opts=pulumi.ResourceOptions(parent=self)
            )
        self._record(
            plan.ingress_service_kind, plan.ingress_namespace, self.ingress.ref.service_name
        )
        return namespace_dependency

    def _server_certificate(
        self, name: str, settings: LinkServerSettings, service: ServerServicePlan
    ) -> LeafCertificate | IssuedCredential:
        """The service's own certificate issued here, or the credential every service shares."""
        if service.leaf is None:
            assert self.credential is not None
            return self.credential
        certificate = self._issue_leaf(
            f"{name}-{service.service.name}-server-cert",
            service.leaf,
            settings.rotation,
            settings.leaf_lifetime,
        )
        self.certificates[service.service.name] = certificate
        return certificate

    def _declare_ingress_routing(
        self,
        name: str,
        settings: LinkServerSettings,
        plan: LinkServerPlan,
        service: ServerServicePlan,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """The Gateway that terminates the link mTLS and the VirtualService behind it."""
        namespace = plan.ingress_namespace
        self._declare(
            f"{name}-{service.service.name}-ingress-gateway",
            objects.ingress_gateway(
                service.service,
                selector=self.ingress.ref.labels,
                credential_name=service.credential_name,
                min_tls_version=plan.min_tls_version,
                allowed_clients=service.admitted_clients,
                cipher_suites=settings.cipher_suites,
            ),
            metadata_name=service.gateway,
            namespace=namespace,
            opts=opts,
        )
        self._declare(
            f"{name}-{service.service.name}-virtual-service",
            objects.server_virtual_service(
                service.service,
                gateway_ref=objects.gateway_reference(namespace, service.gateway),
                target_host=service.route_host,
            ),
            metadata_name=service.virtual_service,
            namespace=namespace,
            opts=opts,
        )

    def _declare_external_target(
        self,
        resource_prefix: str,
        plan: ExternalTargetPlan,
        *,
        namespace: str,
        namespace_dependency: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions,
    ) -> None:
        """The target in the ingress gateway's registry, and the TLS it speaks."""
        self._declare(
            f"{resource_prefix}-target-entry",
            target_objects.external_target_service_entry(
                plan.target, registry_host=plan.registry_host
            ),
            metadata_name=plan.service_entry,
            namespace=namespace,
            opts=opts,
        )
        tls = plan.target.tls
        if tls is None or plan.origination is None or plan.ca_secret is None:
            return
        k8s.core.v1.Secret(
            f"{resource_prefix}-target-ca",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=plan.ca_secret,
                namespace=namespace,
                labels=self._labels,
            ),
            type="Opaque",
            string_data={TARGET_CA_KEY: tls.ca_bundle_pem},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(namespace_dependency)),
        )
        self._record("Secret", namespace, plan.ca_secret)
        self._declare(
            f"{resource_prefix}-target-origination",
            target_objects.target_origination_rule(
                plan.target, registry_host=plan.registry_host, ca_credential_name=plan.ca_secret
            ),
            metadata_name=plan.origination,
            namespace=namespace,
            opts=opts,
        )

    def _declare_target_policies(
        self, name: str, trust_domains: Sequence[str], plan: LinkServerPlan
    ) -> None:
        """In each target's namespace: admit only the ingress gateway's mesh identity, and
        require mesh mTLS of the target's pods."""
        ingress = self.ingress.ref
        assert ingress.service_account is not None or not any(
            s.target_policies for s in plan.services
        )
        principals = [
            target_objects.mesh_principal(
                domain, plan.ingress_namespace, ingress.service_account or ""
            )
            for domain in trust_domains
        ]
        opts = pulumi.ResourceOptions(parent=self, depends_on=[self.gate])
        for service in plan.services:
            policies = service.target_policies
            if policies is None:
                continue
            self._declare(
                f"{name}-{service.service.name}-target-authorization",
                target_objects.target_authorization(service.service, principals=principals),
                metadata_name=policies.authorization,
                namespace=policies.namespace,
                opts=opts,
            )
            self._declare(
                f"{name}-{service.service.name}-target-mtls",
                target_objects.target_peer_authentication(service.service),
                metadata_name=policies.peer_authentication,
                namespace=policies.namespace,
                opts=opts,
            )

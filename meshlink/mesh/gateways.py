"""Egress and ingress gateways, deployed by gateway injection.

Managed Cloud Service Mesh installs no gateways and does not support IstioOperator,
so meshlink deploys them the way Istio recommends for any mesh: a plain Deployment whose
pod template asks the sidecar injector for the ``gateway`` template (``image: auto``),
in a namespace labelled for injection. Both gateways share that implementation
(:class:`~meshlink.mesh.gateway_workload.GatewayWorkload`); they differ only in their Service:

- the egress gateway is reached by client sidecars inside the cluster, so a ClusterIP
  Service with the mesh-internal TLS port 15443 (``tls``) is enough;
- the ingress gateway is reached from the other cluster's network, so a LoadBalancer
  Service exposes each link port, keeps client addresses (``externalTrafficPolicy:
  Local``) and accepts only the client cluster's egress addresses.

The selector labels are one value, ``labels``: the Deployment's selector and pod
labels, the Service selector, the PodDisruptionBudget, the NetworkPolicy peers and the
Istio ``Gateway`` selector are all built from it, so they cannot drift apart. They
default to ``{app: <name>, istio: <name>}``, unique per gateway, because a ``Gateway``
selector matches gateway pods in every namespace: a shared value such as
``istio: ingressgateway`` would also configure somebody else's gateway.

:class:`ExistingIngressGateway` reuses a gateway that somebody else deploys: it adds the
link ports to its Service with a server-side-apply patch under a field manager of its
own, so the ports go away again when the link is removed and nothing else of that
Service is touched.

One :class:`EgressGateway` can serve several links on the same client cluster (each
``LinkClient`` takes it as ``shared_egress_gateway``). The gateway keeps what each link
claimed on it: every link's routes on the gateway match by port and SNI = FQDN, and its
subsets of the egress gateway host are named after its services, so two links using the
same port, FQDN or service name would take each other's traffic. A link that claims what
another already holds is refused, naming both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from meshlink.argdocs import documents
from meshlink.mesh.common import EGRESS_PORT, check_ip, untyped, validated_later
from meshlink.mesh.gateway_links import GatewayLinks
from meshlink.mesh.gateway_plan import plan_gateway_workload, resolved_names
from meshlink.mesh.gateway_service import (
    lb_address,
    link_port_spec,
    load_balancer_source_ranges,
    service_annotations,
)
from meshlink.mesh.gateway_settings import (
    EgressGatewayArgs,
    EgressGatewaySettings,
    ExistingIngressGatewayArgs,
    ExistingIngressGatewaySettings,
    IngressGatewayArgs,
    IngressGatewaySettings,
    StandaloneExistingIngressGatewaySettings,
    StandaloneIngressGatewaySettings,
    check_link_ports,
)
from meshlink.mesh.gateway_workload import GatewayWorkload
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import MeshlinkValidationError, validate_args

PATCH_FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager"


def cluster_host(service: str, namespace: str) -> str:
    """The in-cluster FQDN of a Service: how Istio names it as a host."""
    return f"{service}.{namespace}.svc.cluster.local"


class GatewayRef:
    """What the Istio objects need to know about a gateway, deployed or reused."""

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        labels: Mapping[str, str],
        service_name: str,
        service_account: str | None,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.labels = dict(labels)
        self.service_name = service_name
        self.service_account = service_account
        """Its pods' service account (their mesh identity); None when not known."""

    @property
    def service_host(self) -> str:
        return cluster_host(self.service_name, self.namespace)


class GatewayComponent(pulumi.ComponentResource):
    """The outputs every gateway component has."""

    namespace: Registered[str]
    """The gateway's namespace."""
    name: Registered[str]
    """The gateway's name (its Deployment's or Service's)."""
    labels: Registered[dict[str, str]]
    """The labels that select the gateway's pods, which Istio Gateways select too."""


class _IngressGatewayComponent(GatewayComponent):
    """The outputs both ingress gateway components have."""

    link_ports: Registered[list[int]]
    """The link ports the gateway's Service exposes, sorted."""
    address: Registered[pulumi.Output[str | None]]
    """The load balancer's address: the static address when one was given, else what the
    load balancer reports once provisioned."""


@documents(EgressGatewayArgs)
class EgressGateway(GatewayComponent):
    """The client cluster's egress gateway: where link traffic leaves the mesh.

    Client sidecars reach it over mesh mTLS on port 15443 and it originates the link
    TLS. Pass the client cluster's provider through ``opts`` (``provider=`` or
    ``providers=``).
    """

    port: Registered[int]
    """The port client sidecars reach the gateway on (mesh mTLS)."""
    service_host: Registered[str]
    """The gateway Service's cluster-local host name."""

    def __init__(
        self,
        name: str,
        args: EgressGatewayArgs | EgressGatewaySettings | None = None,
        *,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        where = f"EgressGateway {name!r}"
        settings = validate_args(EgressGatewaySettings, args or {}, where=where)
        resolved_names(settings, name, where=where)
        super().__init__("meshlink:index:EgressGateway", name, None, opts)
        workload = GatewayWorkload(
            self, plan_gateway_workload(name, settings, where=where, component="egress-gateway")
        )
        self.workload = workload
        self.namespace = workload.namespace
        self.name = workload.name
        self.labels = workload.labels
        self.port = EGRESS_PORT
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={
                "name": workload.name,
                "namespace": workload.namespace,
                "labels": {**workload.object_labels, **workload.labels},
            },
            spec={
                "type": "ClusterIP",
                "selector": workload.labels,
                "ports": [
                    {
                        "name": "tls",
                        "port": EGRESS_PORT,
                        "target_port": EGRESS_PORT,
                        "protocol": "TCP",
                    }
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[workload.namespace_resource] if workload.namespace_resource else [],
            ),
        )
        self.ref = GatewayRef(
            namespace=workload.namespace,
            name=workload.name,
            labels=workload.labels,
            service_name=workload.name,
            service_account=workload.name,
        )
        self.service_host = self.ref.service_host
        self.links = GatewayLinks(name)
        """What each link using this gateway as ``shared_egress_gateway`` holds on it."""
        register_declared_outputs(self)


@documents(IngressGatewayArgs)
class IngressGateway(_IngressGatewayComponent):
    """The server cluster's ingress gateway: where link traffic enters the mesh.

    A LoadBalancer Service exposes the link ports to the client cluster's egress
    addresses only, with ``externalTrafficPolicy: Local`` so the gateway sees the real
    client address and the load balancer sends traffic only to nodes running a replica.
    """

    def __init__(
        self,
        name: str,
        args: IngressGatewayArgs | StandaloneIngressGatewaySettings,
        *,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        where = f"IngressGateway {name!r}"
        settings = validate_args(StandaloneIngressGatewaySettings, args, where=where)
        problems = check_link_ports(settings.link_ports, setting="link_ports")
        if problems:
            raise MeshlinkValidationError(where, problems)
        resolved_names(settings, name, where=where)
        super().__init__("meshlink:index:IngressGateway", name, None, opts)
        self._declare(name, settings, settings.link_ports, where=where)

    def _declare(
        self,
        name: str,
        settings: IngressGatewaySettings,
        link_ports: Sequence[int],
        *,
        where: str,
    ) -> None:
        workload = GatewayWorkload(
            self,
            plan_gateway_workload(
                name,
                settings,
                where=where,
                component="ingress-gateway",
                # As Istio's own gateway chart does: lets the non-root proxy bind a link
                # port below 1024 if one is chosen.
                pod_sysctls=[{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
            ),
        )
        self.workload = workload
        self.namespace = workload.namespace
        self.name = workload.name
        self.labels = workload.labels
        self.link_ports = sorted(link_ports)

        self.service, self.address = self._declare_service(name, settings, workload, where)
        self.ref = GatewayRef(
            namespace=workload.namespace,
            name=workload.name,
            labels=workload.labels,
            service_name=workload.name,
            service_account=workload.name,
        )
        register_declared_outputs(self)

    def _declare_service(
        self,
        name: str,
        settings: IngressGatewaySettings,
        workload: GatewayWorkload,
        where: str,
    ) -> tuple[k8s.core.v1.Service, pulumi.Output[str | None]]:
        """The LoadBalancer Service that exposes the link ports, and its address."""
        annotations = service_annotations(settings)
        allowed_sources = load_balancer_source_ranges(settings, where)
        static_ip = (
            validated_later(settings.static_ip, check_ip, f"{where}: static_ip")
            if isinstance(settings.static_ip, pulumi.Output)
            else settings.static_ip
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={
                "name": workload.name,
                "namespace": workload.namespace,
                "labels": {**workload.object_labels, **workload.labels},
                "annotations": annotations or None,
            },
            spec=untyped(
                {
                    "type": "LoadBalancer",
                    "selector": workload.labels,
                    "external_traffic_policy": "Local",
                    "load_balancer_source_ranges": allowed_sources,
                    "load_balancer_ip": None if settings.static_ip_name else static_ip,
                    "ports": [link_port_spec(p) for p in self.link_ports],
                }
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[workload.namespace_resource] if workload.namespace_resource else [],
            ),
        )
        address = (
            pulumi.Output.from_input(static_ip)
            if static_ip is not None
            else service.status.apply(lb_address)
        )
        return service, address


@documents(ExistingIngressGatewayArgs)
class ExistingIngressGateway(_IngressGatewayComponent):
    """Adds the link ports to an ingress gateway that someone else deploys.

    The ports go in with a server-side-apply ``ServicePatch`` under a pinned field
    manager: applying twice changes nothing, and deleting the link removes exactly the
    ports it added. (A client-side JSON patch is neither, which is why removing a link by
    hand tends to leave the port open.)
    """

    field_manager: Registered[str]
    """The server-side-apply field manager that owns the added ports."""

    def __init__(
        self,
        name: str,
        args: ExistingIngressGatewayArgs | StandaloneExistingIngressGatewaySettings,
        *,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        where = f"ExistingIngressGateway {name!r}"
        settings = validate_args(StandaloneExistingIngressGatewaySettings, args, where=where)
        problems = check_link_ports(settings.link_ports, setting="link_ports")
        if problems:
            raise MeshlinkValidationError(where, problems)
        super().__init__("meshlink:index:ExistingIngressGateway", name, None, opts)
        self._declare(name, settings, settings.link_ports)

    def _declare(
        self, name: str, settings: ExistingIngressGatewaySettings, link_ports: Sequence[int]
    ) -> None:
        self.namespace = settings.namespace
        self.name = settings.service_name
        self.labels = dict(settings.labels)
        self.link_ports = sorted(link_ports)
        self.field_manager = settings.field_manager or f"meshlink-{name}"[:128]
        self.patch = k8s.core.v1.ServicePatch(
            f"{name}-link-ports",
            metadata={
                "name": settings.service_name,
                "namespace": settings.namespace,
                "annotations": {PATCH_FIELD_MANAGER_ANNOTATION: self.field_manager},
            },
            spec=untyped({"ports": [link_port_spec(p) for p in self.link_ports]}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.address = (
            pulumi.Output.from_input(settings.address)
            if settings.address is not None
            else self.patch.status.apply(lb_address)
        )
        self.ref = GatewayRef(
            namespace=settings.namespace,
            name=settings.service_name,
            labels=settings.labels,
            service_name=settings.service_name,
            service_account=settings.service_account,
        )
        register_declared_outputs(self)

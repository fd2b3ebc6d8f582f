"""A gateway's workload, declared from its
:class:`~meshlink.mesh.gateway_plan.GatewayWorkloadPlan`: namespace, identity,
Secret-reading RBAC, Deployment and PodDisruptionBudget."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from meshlink.mesh.common import untyped
from meshlink.mesh.gateway_plan import GatewayWorkloadPlan


class GatewayWorkload:
    """Namespace, identity, RBAC, Deployment and PodDisruptionBudget of a gateway, declared
    from its plan.

    Not a component of its own: it declares into the gateway component that owns it, so
    each gateway is one node in the resource tree.
    """

    def __init__(self, owner: pulumi.ComponentResource, plan: GatewayWorkloadPlan) -> None:
        self.plan = plan
        self.namespace = plan.namespace
        self.name = plan.name
        self.labels: dict[str, str] = dict(plan.labels)
        self.object_labels = dict(plan.object_labels)
        self._owner = owner

        self.namespace_resource: k8s.core.v1.Namespace | None = None
        if plan.namespace_labels is not None:
            self.namespace_resource = k8s.core.v1.Namespace(
                f"{plan.resource_name}-namespace",
                metadata={"name": plan.namespace, "labels": dict(plan.namespace_labels)},
                opts=pulumi.ResourceOptions(parent=owner),
            )
        self._in_namespace = pulumi.ResourceOptions(parent=owner, depends_on=self._namespace)
        self._declare_identity()
        self.deployment = k8s.apps.v1.Deployment(
            f"{plan.resource_name}-deployment",
            metadata=self._metadata(plan.name, {**self.object_labels, **self.labels}),
            spec=untyped(plan.deployment_spec),
            opts=pulumi.ResourceOptions(
                parent=owner,
                depends_on=[*self._namespace, self.service_account, self.role_binding],
            ),
        )
        self.pdb = k8s.policy.v1.PodDisruptionBudget(
            f"{plan.resource_name}-pdb",
            metadata=self._metadata(plan.name),
            spec=untyped(plan.pdb_spec),
            opts=self._in_namespace,
        )

    @property
    def _namespace(self) -> list[pulumi.Resource]:
        """What an object in the gateway's namespace waits for: the namespace, when it is
        declared here."""
        return [self.namespace_resource] if self.namespace_resource is not None else []

    def _metadata(
        self, name: str, labels: dict[str, str] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgsDict:
        return {
            "name": name,
            "namespace": self.plan.namespace,
            "labels": self.object_labels if labels is None else labels,
        }

    def _declare_identity(self) -> None:
        """The gateway's service account, and the Role that lets it read Secrets."""
        plan = self.plan
        prefix = plan.resource_name
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{prefix}-sa", metadata=self._metadata(plan.name), opts=self._in_namespace
        )
        # Istio checks that the gateway's service account may read a credentialName
        # Secret in its own namespace before it hands the certificate to the gateway.
        self.role = k8s.rbac.v1.Role(
            f"{prefix}-secret-reader",
            metadata=self._metadata(plan.role_name),
            rules=[
                {"api_groups": [""], "resources": ["secrets"], "verbs": ["get", "watch", "list"]}
            ],
            opts=self._in_namespace,
        )
        self.role_binding = k8s.rbac.v1.RoleBinding(
            f"{prefix}-secret-reader-binding",
            metadata=self._metadata(plan.role_name),
            role_ref={
                "api_group": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": plan.role_name,
            },
            subjects=[{"kind": "ServiceAccount", "name": plan.name, "namespace": plan.namespace}],
            opts=pulumi.ResourceOptions(
                parent=self._owner, depends_on=[self.role, self.service_account]
            ),
        )

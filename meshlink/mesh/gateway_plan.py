"""What a gateway's workload consists of, decided from its settings without declaring
anything: namespace, identity, Secret-reading RBAC, Deployment and PodDisruptionBudget.

:class:`meshlink.mesh.gateway_workload.GatewayWorkload` declares exactly this plan. Every
object that selects the gateway's pods (Deployment selector and pod labels, topology
spread, PodDisruptionBudget) is built here from the one ``labels`` value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshlink.mesh.common import MANAGED_BY
from meshlink.validation import MeshlinkValidationError, check_dns1123_label

if TYPE_CHECKING:
    from meshlink.mesh.gateway_settings import GatewaySettings

PROXY_UID = 1337
PROXY_GID = 1337
"""The istio-proxy user and group the gateway container runs as."""

SPREAD_TOPOLOGY_KEYS = ("topology.kubernetes.io/zone", "kubernetes.io/hostname")


def _default_label(value: str | None, component_name: str, *, where: str, setting: str) -> str:
    if value is not None:
        return value
    try:
        return check_dns1123_label(component_name)
    except ValueError as error:
        raise MeshlinkValidationError(
            where, [f"{setting}: derived from the component name, but {error}; set it"]
        ) from None


def resolved_names(
    settings: GatewaySettings, component_name: str, *, where: str
) -> tuple[str, str]:
    """The gateway's namespace and name, defaulting to the component name; called before
    the component registers, so a bad default fails before anything is declared."""
    return (
        _default_label(settings.namespace, component_name, where=where, setting="namespace"),
        _default_label(settings.name, component_name, where=where, setting="name"),
    )


def object_labels(instance: str, component: str) -> dict[str, str]:
    return {
        **MANAGED_BY,
        "app.kubernetes.io/part-of": "meshlink",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
    }


@dataclass(frozen=True)
class GatewayWorkloadPlan:
    """The objects of one gateway workload; ``resource_name`` prefixes their Pulumi names."""

    resource_name: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    """The selector labels of the gateway's pods."""
    object_labels: Mapping[str, str]
    namespace_labels: Mapping[str, str] | None
    """Labels of the namespace meshlink creates; None when the namespace is not created
    (it must exist and have injection enabled)."""
    role_name: str
    deployment_spec: Mapping[str, Any]
    pdb_spec: Mapping[str, Any]

    @property
    def creates_namespace(self) -> bool:
        return self.namespace_labels is not None


def _injection_labels(revision: str | None) -> dict[str, str]:
    return {"istio.io/rev": revision} if revision else {"istio-injection": "enabled"}


def _proxy_container(settings: GatewaySettings) -> dict[str, Any]:
    return {
        "name": "istio-proxy",
        "image": "auto",
        "resources": {
            "requests": dict(settings.resources.requests),
            "limits": dict(settings.resources.limits),
        },
        # Explicit, not left to the injection template: the proxy's own UID/GID 1337, as
        # Istio's gateway chart sets them (istio/istio
        # manifests/charts/gateway/templates/deployment.yaml).
        "security_context": {
            "allow_privilege_escalation": False,
            "privileged": False,
            "read_only_root_filesystem": True,
            "run_as_non_root": True,
            "run_as_user": PROXY_UID,
            "run_as_group": PROXY_GID,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _pod_spec(
    settings: GatewaySettings,
    *,
    name: str,
    labels: Mapping[str, str],
    pod_sysctls: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    spread = [
        {
            "max_skew": 1,
            "topology_key": key,
            "when_unsatisfiable": "ScheduleAnyway",
            "label_selector": {"match_labels": dict(labels)},
        }
        for key in SPREAD_TOPOLOGY_KEYS
    ]
    pod_security: dict[str, Any] = {
        "run_as_non_root": True,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }
    if pod_sysctls:
        pod_security["sysctls"] = [dict(s) for s in pod_sysctls]
    return {
        "service_account_name": name,
        "security_context": pod_security,
        "node_selector": dict(settings.node_selector) or None,
        "tolerations": [dict(t) for t in settings.tolerations] or None,
        "topology_spread_constraints": spread,
        "containers": [_proxy_container(settings)],
    }


def _deployment_spec(
    settings: GatewaySettings,
    *,
    name: str,
    labels: Mapping[str, str],
    pod_sysctls: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    return {
        "replicas": settings.replicas,
        "selector": {"match_labels": dict(labels)},
        "strategy": {
            "type": "RollingUpdate",
            "rolling_update": {"max_surge": 1, "max_unavailable": 0},
        },
        "template": {
            "metadata": {
                # The injector replaces `image: auto` with the proxy image that matches the
                # control plane, and keeps it current on restarts.
                "annotations": {"inject.istio.io/templates": "gateway"},
                "labels": {**labels, "sidecar.istio.io/inject": "true"},
            },
            "spec": _pod_spec(settings, name=name, labels=labels, pod_sysctls=pod_sysctls),
        },
    }


def plan_gateway_workload(
    resource_name: str,
    settings: GatewaySettings,
    *,
    where: str,
    component: str,
    pod_sysctls: Sequence[Mapping[str, str]] = (),
) -> GatewayWorkloadPlan:
    """The workload of the gateway component ``resource_name``; declares nothing."""
    namespace, name = resolved_names(settings, resource_name, where=where)
    labels = dict(settings.labels or {"app": name, "istio": name})
    own_labels = object_labels(name, component)
    return GatewayWorkloadPlan(
        resource_name=resource_name,
        namespace=namespace,
        name=name,
        labels=labels,
        object_labels=own_labels,
        namespace_labels=(
            {**own_labels, **_injection_labels(settings.revision)}
            if settings.create_namespace
            else None
        ),
        role_name=f"{name}-secret-reader",
        deployment_spec=_deployment_spec(
            settings, name=name, labels=labels, pod_sysctls=pod_sysctls
        ),
        pdb_spec={"min_available": 1, "selector": {"match_labels": labels}},
    )

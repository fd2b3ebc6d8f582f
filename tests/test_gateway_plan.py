"""plan_gateway_workload: a gateway's namespace, names, selector labels, Deployment and
PodDisruptionBudget, decided from its settings with no Pulumi engine."""

from __future__ import annotations

from typing import Any

import pytest

from meshlink.mesh.gateway_plan import GatewayWorkloadPlan, plan_gateway_workload
from meshlink.mesh.gateway_settings import EgressGatewaySettings
from meshlink.validation import MeshlinkValidationError

WHERE = "EgressGateway 'team-egress'"


def plan(component_name: str = "team-egress", /, **settings: Any) -> GatewayWorkloadPlan:
    return plan_gateway_workload(
        component_name, EgressGatewaySettings(**settings), where=WHERE, component="egress-gateway"
    )


def pod_spec(workload: GatewayWorkloadPlan) -> dict[str, Any]:
    spec: dict[str, Any] = workload.deployment_spec["template"]["spec"]
    return spec


def test_names_and_selector_labels_default_to_the_component_name() -> None:
    workload = plan("team-egress")
    assert (workload.namespace, workload.name) == ("team-egress", "team-egress")
    assert workload.labels == {"app": "team-egress", "istio": "team-egress"}
    assert workload.role_name == "team-egress-secret-reader"


def test_given_namespace_and_name_win_over_the_component_name() -> None:
    workload = plan("team-egress", namespace="istio-egress", name="egress-gateway")
    assert (workload.namespace, workload.name) == ("istio-egress", "egress-gateway")
    assert workload.labels == {"app": "egress-gateway", "istio": "egress-gateway"}
    assert workload.object_labels["app.kubernetes.io/instance"] == "egress-gateway"
    assert workload.object_labels["app.kubernetes.io/component"] == "egress-gateway"


def test_every_pod_selector_is_the_one_labels_value() -> None:
    labels = {"app": "edge", "team": "payments"}
    workload = plan(labels=labels)
    spec = workload.deployment_spec
    assert spec["selector"]["match_labels"] == labels
    assert spec["template"]["metadata"]["labels"] == {**labels, "sidecar.istio.io/inject": "true"}
    assert workload.pdb_spec["selector"]["match_labels"] == labels
    spread = pod_spec(workload)["topology_spread_constraints"]
    assert [c["topology_key"] for c in spread] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    assert all(c["label_selector"]["match_labels"] == labels for c in spread)


def test_created_namespace_is_labelled_for_default_injection() -> None:
    workload = plan()
    assert workload.creates_namespace
    assert workload.namespace_labels is not None
    assert workload.namespace_labels["istio-injection"] == "enabled"
    assert "istio.io/rev" not in workload.namespace_labels


def test_revision_replaces_the_default_injection_label() -> None:
    labels = plan(revision="asm-managed").namespace_labels
    assert labels is not None
    assert labels["istio.io/rev"] == "asm-managed"
    assert "istio-injection" not in labels


def test_existing_namespace_is_not_planned() -> None:
    workload = plan(namespace="istio-egress", create_namespace=False)
    assert not workload.creates_namespace
    assert workload.namespace_labels is None


def test_deployment_replicas_placement_and_resources_follow_settings() -> None:
    toleration = {"key": "dedicated", "operator": "Equal", "value": "egress"}
    workload = plan(
        replicas=3,
        node_selector={"cloud.google.com/gke-nodepool": "egress"},
        tolerations=[toleration],
        resources={"requests": {"cpu": "250m", "memory": "256Mi"}},
    )
    assert workload.deployment_spec["replicas"] == 3
    spec = pod_spec(workload)
    assert spec["node_selector"] == {"cloud.google.com/gke-nodepool": "egress"}
    assert spec["tolerations"] == [toleration]
    container = spec["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    # Limits not given keep their default.
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}


def test_no_placement_settings_leave_the_scheduler_free() -> None:
    spec = pod_spec(plan())
    assert spec["node_selector"] is None
    assert spec["tolerations"] is None
    assert plan().deployment_spec["replicas"] == 2


def test_pods_run_as_the_gateways_own_account_and_the_unprivileged_proxy_user() -> None:
    spec = pod_spec(plan("team-egress", name="egress-gateway"))
    assert spec["service_account_name"] == "egress-gateway"
    security = spec["containers"][0]["security_context"]
    assert (security["run_as_user"], security["run_as_group"]) == (1337, 1337)
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["read_only_root_filesystem"] is True


def test_sysctls_only_when_asked_for() -> None:
    assert "sysctls" not in pod_spec(plan())["security_context"]
    sysctl = {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}
    ingress = plan_gateway_workload(
        "edge",
        EgressGatewaySettings(),
        where=WHERE,
        component="ingress-gateway",
        pod_sysctls=[sysctl],
    )
    assert pod_spec(ingress)["security_context"]["sysctls"] == [sysctl]


def test_component_name_that_is_no_label_fails_naming_the_setting() -> None:
    with pytest.raises(MeshlinkValidationError) as caught:
        plan("Team_Egress")
    assert WHERE in str(caught.value)
    assert "namespace: derived from the component name" in str(caught.value)
    # Set explicitly, the component name no longer matters.
    assert plan("Team_Egress", namespace="egress", name="egress").name == "egress"

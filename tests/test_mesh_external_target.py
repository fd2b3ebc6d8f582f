"""A linked service whose target is outside the server mesh (``target_external``): under
the mocks, the ingress gateway's namespace gets what routes there (a ServiceEntry with
the right resolution, and for a TLS target an origination rule with the target's CA), the
objects pass both Istio CRD sets, the summary names the target, and bad addresses or
settings are refused with the setting named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshlink.mesh.services import LinkedService
from meshlink.mesh.targets import ExternalTarget
from meshlink.offline.engine import OfflineRun
from meshlink.offline.rendered import RenderedObject
from meshlink.offline.summary.links import read_links, traffic_diagram
from meshlink.validation import MeshlinkValidationError
from tests.support import mesh
from tests.test_config import rejected, with_value
from tests.test_stacks import ROOT, run_stack

INGRESS_NS = "mysql-link-ingress"
SERVER = "server-cluster"
TARGET_CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBtargetca\n-----END CERTIFICATE-----\n"

CLOUD_SQL = {
    "name": "orders-sql",
    "fqdn": "orders-sql.link.example.com",
    "app_port": 5432,
    "link_port": 15432,
    "target_external": {
        "address": "10.20.0.5",
        "port": 5432,
        "tls": {
            "ca_bundle_pem": TARGET_CA_PEM,
            "subject_alt_names": ["orders-sql.db.internal.example.com"],
        },
    },
}
VM = {
    "name": "inventory",
    "fqdn": "inventory.link.example.com",
    "app_port": 6379,
    "link_port": 16379,
    "target_external": {"address": "inventory-vm.corp.example.com", "port": 6380},
}


@pytest.fixture(scope="module")
def run() -> OfflineRun:
    services = [*mesh.services(1), CLOUD_SQL, VM]
    return mesh.run_link(mesh.link_program(services=services))


def server_objects(run: OfflineRun, kind: str) -> list[dict[str, Any]]:
    return [m for c, m in mesh.by_cluster(run) if c == SERVER and m["kind"] == kind]


def named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [m for m in items if m["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} objects named {name!r}"
    return found[0]


def route_of(run: OfflineRun, service: str) -> dict[str, Any]:
    virtual_service = named(server_objects(run, "VirtualService"), f"mysql-link-{service}")
    (route,) = virtual_service["spec"]["tcp"]
    destination: dict[str, Any] = route["route"][0]["destination"]
    return destination


def test_an_ip_target_is_a_static_endpoint_seen_by_the_ingress_gateway_only(
    run: OfflineRun,
) -> None:
    entry = named(server_objects(run, "ServiceEntry"), "mysql-link-orders-sql-target")
    assert entry["metadata"]["namespace"] == INGRESS_NS
    spec = entry["spec"]
    assert spec["resolution"] == "STATIC"
    assert spec["location"] == "MESH_EXTERNAL"
    assert spec["endpoints"] == [{"address": "10.20.0.5"}]
    assert spec["addresses"] == ["10.20.0.5"]
    assert spec["exportTo"] == ["."]
    assert [p["number"] for p in spec["ports"]] == [5432]
    destination = route_of(run, "orders-sql")
    assert destination == {"host": spec["hosts"][0], "port": {"number": 5432}}


def test_a_dns_target_is_resolved_by_the_gateway_from_its_endpoint(run: OfflineRun) -> None:
    spec = named(server_objects(run, "ServiceEntry"), "mysql-link-inventory-target")["spec"]
    assert spec["resolution"] == "DNS"
    assert spec["endpoints"] == [{"address": "inventory-vm.corp.example.com"}]
    assert "addresses" not in spec
    assert route_of(run, "inventory") == {"host": spec["hosts"][0], "port": {"number": 6380}}
    # Two external targets never share a registry name.
    other = named(server_objects(run, "ServiceEntry"), "mysql-link-orders-sql-target")
    assert spec["hosts"] != other["spec"]["hosts"]


def test_a_tls_target_gets_simple_origination_with_its_ca(run: OfflineRun) -> None:
    rules = server_objects(run, "DestinationRule")
    assert [r["metadata"]["name"] for r in rules] == ["mysql-link-orders-sql-target-tls"]
    rule = rules[0]
    entry = named(server_objects(run, "ServiceEntry"), "mysql-link-orders-sql-target")
    assert rule["metadata"]["namespace"] == INGRESS_NS
    assert rule["spec"]["host"] == entry["spec"]["hosts"][0]
    assert rule["spec"]["exportTo"] == ["."]
    (setting,) = rule["spec"]["trafficPolicy"]["portLevelSettings"]
    assert setting["port"] == {"number": 5432}
    tls = setting["tls"]
    assert tls["mode"] == "SIMPLE"
    assert tls["subjectAltNames"] == ["orders-sql.db.internal.example.com"]
    assert "sni" not in tls  # an IP target sends no server name unless told to
    secret = named(server_objects(run, "Secret"), tls["credentialName"])
    assert secret["metadata"]["namespace"] == INGRESS_NS
    assert secret["stringData"] == {"cacert": TARGET_CA_PEM}


def test_external_targets_get_no_target_policies(run: OfflineRun) -> None:
    for kind in ("AuthorizationPolicy", "PeerAuthentication"):
        names = [m["metadata"]["name"] for m in server_objects(run, kind)]
        assert len(names) == 1 and names[0].startswith("mysql-link-mysql-"), names


def test_the_server_gate_waits_for_the_kinds_an_external_target_adds(run: OfflineRun) -> None:
    (gate,) = [
        r for r in run.registrations if r.type == mesh.GATE_TYPE and r.inputs["cluster"] == SERVER
    ]
    assert {
        "serviceentries.networking.istio.io",
        "destinationrules.networking.istio.io",
    } <= set(gate.inputs["crds"])
    server_istio = [r for r in mesh.istio_objects(run) if mesh.cluster_of(run, r) == SERVER]
    assert {r.inputs["kind"] for r in server_istio} >= {"ServiceEntry", "DestinationRule"}
    for registration in server_istio:
        assert run.depends_on(registration.urn, gate.urn), registration.name


def test_every_object_passes_both_istio_crd_sets_and_kubernetes(
    run: OfflineRun, istio_crds: Path
) -> None:
    mesh.assert_every_object_valid(run)


def test_the_summary_names_the_external_address_and_its_tls(run: OfflineRun) -> None:
    rendered = [
        RenderedObject(cluster=cluster, path=Path(f"{cluster}/{index}.yaml"), manifest=manifest)
        for index, (cluster, manifest) in enumerate(mesh.by_cluster(run))
    ]
    links = {link.fqdn: link for link in read_links(rendered)}
    sql, vm, mysql = (
        links["orders-sql.link.example.com"],
        links["inventory.link.example.com"],
        links["mysql.link.example.com"],
    )
    assert (sql.target, sql.target_external, sql.target_tls) == ("10.20.0.5:5432", True, True)
    assert sql.target_cell == "`10.20.0.5:5432` (external, TLS)"
    assert (vm.target, vm.target_external, vm.target_tls) == (
        "inventory-vm.corp.example.com:6380",
        True,
        False,
    )
    assert (mysql.target, mysql.target_external) == ("mysql.db.svc.cluster.local:3306", False)
    diagram = "\n".join(traffic_diagram(list(links.values())))
    assert '"TLS (target\'s CA)"' in diagram
    assert '-->|"plain TCP"|' in diagram
    assert "external 10.20.0.5:5432" in diagram


# --- refusals ------------------------------------------------------------------------

BASE = {"name": "db", "fqdn": "db.link.example.com", "app_port": 3306, "link_port": 13306}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"target_external": {"address": "127.0.0.1", "port": 3306}}, "loopback"),
        ({"target_external": {"address": "169.254.169.254", "port": 80}}, "metadata server"),
        ({"target_external": {"address": "::ffff:169.254.169.254", "port": 80}}, "link-local"),
        ({"target_external": {"address": "metadata.google.internal", "port": 80}}, "metadata"),
        (
            {"target_external": {"address": "0.0.0.0", "port": 3306}},  # noqa: S104 (refused)
            "not the address of one host",
        ),
        (
            {"target_external": {"address": "224.0.0.1", "port": 3306}},
            "not the address of one host",
        ),
        (
            {"target_external": {"address": "mysql.db.svc.cluster.local", "port": 3306}},
            "name it in target_host",
        ),
        ({"target_external": {"address": "sql.Not_A_Host.com", "port": 3306}}, "not a valid FQDN"),
        (
            {"target_external": {"address": "10.0.0.5", "port": 3306}, "target_policies": True},
            "target_policies: an external target has no pods",
        ),
        (
            {
                "target_external": {"address": "10.0.0.5", "port": 3306},
                "target_host": "mysql.db.svc.cluster.local",
            },
            "give either target_external or target_host, not both",
        ),
        (
            {
                "target_external": {
                    "address": "10.0.0.5",
                    "port": 3306,
                    "tls": {"ca_bundle_pem": TARGET_CA_PEM},
                }
            },
            "tls.subject_alt_names: required for the IP address '10.0.0.5'",
        ),
        (
            {
                "target_external": {
                    "address": "sql.example.com",
                    "port": 3306,
                    "tls": {"ca_bundle_pem": "not a certificate"},
                }
            },
            "expected the CA certificate(s)",
        ),
        ({"target_port": 3306}, "give target_host and target_port"),
    ],
)
def test_bad_targets_are_refused(target: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValueError) as error:
        LinkedService.model_validate({**BASE, **target})
    assert expected in str(error.value)


def test_a_dns_tls_target_defaults_sni_and_san_to_its_address() -> None:
    service = LinkedService.model_validate(
        {
            **BASE,
            "target_external": {
                "address": "sql.example.com",
                "port": 3306,
                "tls": {"ca_bundle_pem": TARGET_CA_PEM},
            },
        }
    )
    assert service.target_policies is False
    target = service.target
    assert isinstance(target, ExternalTarget)
    assert (target.port, target.sni, target.subject_alt_names) == (
        3306,
        "sql.example.com",
        ["sql.example.com"],
    )


def test_meshlink_names_the_offending_service_setting() -> None:
    services = [*mesh.services(1), {**VM, "target_policies": True}]
    with pytest.raises(MeshlinkValidationError) as error:
        mesh.run_link(mesh.link_program(services=services))
    assert "services[1]" in str(error.value)
    assert "target_policies" in str(error.value)


# --- stack config ----------------------------------------------------------------------


def _dev_services_with(extra: dict[str, Any]) -> dict[str, str]:
    first = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["meshlink:services"]
    return with_value("services", None, [*first, extra])


def test_the_dev_stack_config_takes_an_external_target() -> None:
    extra = {**CLOUD_SQL, "fqdn": "orders-sql.link.internal.example.com"}
    stack = run_stack(ROOT, "dev", config=_dev_services_with(extra))
    declared = {
        (m["kind"], m["metadata"]["name"])
        for m in map(mesh.manifest, mesh.kubernetes_objects(stack))
    }
    assert ("ServiceEntry", "link-orders-sql-target") in declared
    assert ("DestinationRule", "link-orders-sql-target-tls") in declared
    assert ("AuthorizationPolicy", "link-orders-sql-authz") not in declared


def test_the_dev_stack_config_names_an_external_target_with_policies_on() -> None:
    extra = {**VM, "fqdn": "inventory.link.internal.example.com", "target_policies": True}
    error = rejected(_dev_services_with(extra))
    assert any(
        p.startswith("meshlink:services[1]") and "target_policies" in p for p in error.problems
    ), error.problems

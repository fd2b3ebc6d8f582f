"""MeshNetwork: what it declares, and the ranges it refuses before declaring anything."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from meshlink.gcp import MeshNetwork, check_networks_disjoint
from meshlink.gcp.network import GOOGLE_HEALTH_CHECK_RANGES
from meshlink.offline.engine import OfflineMocks, OfflineRun, Registration
from meshlink.validation import MeshlinkValidationError
from tests.test_gcp_program import (
    ADDRESS,
    CLIENT_PROJECT,
    NETWORK,
    REGION,
    network_args,
    run_offline,
)

SUBNET = "gcp:compute/subnetwork:Subnetwork"
ROUTER = "gcp:compute/router:Router"
NAT = "gcp:compute/routerNat:RouterNat"
FIREWALL = "gcp:compute/firewall:Firewall"


def _declare(**overrides: Any) -> None:
    network = MeshNetwork("client", network_args("client", **overrides))
    pulumi.export("nat_addresses", network.nat_addresses)
    pulumi.export("pods_range_name", network.pods_range_name)


@pytest.fixture(scope="module")
def run() -> OfflineRun:
    return run_offline(lambda: _declare(nat_address_count=3))


def test_custom_mode_vpc(run: OfflineRun) -> None:
    network = run.named(NETWORK, "client-network")
    assert network.inputs["autoCreateSubnetworks"] is False
    assert network.inputs["project"] == CLIENT_PROJECT
    assert network.inputs["name"] == "client"


def test_subnet_has_pod_and_service_ranges_and_private_google_access(run: OfflineRun) -> None:
    subnet = run.named(SUBNET, "client-subnet")
    args = network_args("client")
    assert subnet.inputs["ipCidrRange"] == args["subnet_cidr"]
    assert subnet.inputs["privateIpGoogleAccess"] is True
    assert subnet.inputs["region"] == REGION
    ranges = {r["rangeName"]: r["ipCidrRange"] for r in subnet.inputs["secondaryIpRanges"]}
    assert ranges == {
        run.outputs["pods_range_name"]: args["pods_cidr"],
        "client-services": args["services_cidr"],
    }
    assert subnet.inputs["network"] == "projects/acme-client-prod/global/networks/client"
    assert subnet.inputs["logConfig"]["metadata"] == "INCLUDE_ALL_METADATA"


def test_nat_uses_only_the_reserved_addresses(run: OfflineRun) -> None:
    addresses = sorted(
        (r for r in run.of_type(ADDRESS) if r.name.startswith("client-nat-ip-")),
        key=lambda r: r.name,
    )
    assert [a.name for a in addresses] == [f"client-nat-ip-{i}" for i in range(3)]
    for address in addresses:
        assert address.inputs["addressType"] == "EXTERNAL"
        assert address.inputs["region"] == REGION
    nat = run.named(NAT, "client-nat")
    router = run.named(ROUTER, "client-router")
    assert nat.inputs["natIpAllocateOption"] == "MANUAL_ONLY"
    assert nat.inputs["natIps"] == [a.outputs["selfLink"] for a in addresses]
    assert nat.inputs["router"] == router.outputs["name"]
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    (subnetwork,) = nat.inputs["subnetworks"]
    assert subnetwork["sourceIpRangesToNats"] == ["ALL_IP_RANGES"]
    assert subnetwork["name"].endswith("/subnetworks/client-nodes")
    assert all(run.depends_on(nat.urn, a.urn) for a in addresses)
    assert run.outputs["nat_addresses"] == [a.outputs["address"] for a in addresses]


def _firewall(run: OfflineRun, suffix: str) -> Registration:
    return run.named(FIREWALL, f"client-fw-{suffix}")


def test_baseline_firewall_allows_internal_and_health_checks_and_logs_the_rest(
    run: OfflineRun,
) -> None:
    args = network_args("client")
    internal = _firewall(run, "allow-internal")
    assert internal.inputs["sourceRanges"] == [args["subnet_cidr"], args["pods_cidr"]]
    assert internal.inputs["direction"] == "INGRESS"
    health = _firewall(run, "allow-health-checks")
    assert health.inputs["sourceRanges"] == list(GOOGLE_HEALTH_CHECK_RANGES)
    assert health.inputs["allows"] == [{"protocol": "tcp"}]
    deny = _firewall(run, "deny-ingress")
    assert deny.inputs["denies"] == [{"protocol": "all"}]
    assert deny.inputs["logConfig"] == {"metadata": "INCLUDE_ALL_METADATA"}
    # Below every allow rule, above only the implied rules.
    assert deny.inputs["priority"] > max(r.inputs["priority"] for r in (internal, health))
    assert deny.inputs["priority"] < 65535
    assert not any("allows" in r.inputs for r in [deny])


def test_children_belong_to_the_component(run: OfflineRun) -> None:
    component = run.named("meshlink:index:MeshNetwork", "client")
    children = [r for r in run.registrations if r.custom]
    assert children
    assert {r.parent for r in children} == {component.urn}


def test_network_name_prefixes_every_gcp_name() -> None:
    run = run_offline(lambda: _declare(network_name="payments-link"))
    named = [r.inputs["name"] for r in run.registrations if r.custom]
    assert named and all(n.startswith("payments-link") for n in named)


def test_flow_logs_and_deny_logging_can_be_turned_off() -> None:
    run = run_offline(lambda: _declare(flow_logs=False, log_denied_ingress=False))
    assert "logConfig" not in run.named(SUBNET, "client-subnet").inputs
    assert "logConfig" not in _firewall(run, "deny-ingress").inputs


BAD_RANGES = [
    ("subnet_cidr", "10.10.0.0/33", "not an IPv4 CIDR block"),
    ("subnet_cidr", "banana", "not an IPv4 CIDR block"),
    ("subnet_cidr", "10.10.0.1/20", "did you mean '10.10.0.0/20'"),
    ("subnet_cidr", "8.8.8.0/24", "not inside the private address space"),
    ("subnet_cidr", "10.10.0.0/30", "between /8 and /29"),
    ("pods_cidr", "10.64.0.0/25", "between /8 and /24"),
    ("control_plane_cidr", "10.10.32.0/27", "exactly /28"),
    ("pods_cidr", "10.10.0.0/16", "overlaps subnet_cidr 10.10.0.0/20"),
    ("services_cidr", "10.64.4.0/22", "overlaps pods_cidr 10.64.0.0/14"),
    ("control_plane_cidr", "10.10.16.0/28", "overlaps services_cidr 10.10.16.0/20"),
]


@pytest.mark.parametrize(("setting", "value", "expected"), BAD_RANGES)
def test_bad_range_is_refused_before_anything_is_registered(
    setting: str, value: str, expected: str
) -> None:
    names: list[str] = []

    class Recording(OfflineMocks):
        def new_resource(self, args: Any) -> tuple[str | None, dict]:
            names.append(args.name)
            return super().new_resource(args)

    with pytest.raises(MeshlinkValidationError) as caught:
        run_offline(lambda: _declare(**{setting: value}), mocks=Recording())
    assert names == []
    (problem,) = caught.value.problems
    assert problem.startswith(f"{setting}: ")
    assert expected in problem
    assert "MeshNetwork 'client'" in str(caught.value)


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(MeshlinkValidationError) as caught:
        MeshNetwork(
            "client",
            network_args("client", region="Europe", nat_address_count=0, colour="blue"),
        )
    settings = sorted(p.split(":", 1)[0] for p in caught.value.problems)
    assert settings == ["colour", "nat_address_count", "region"]


def test_a_component_name_unfit_for_gcp_is_refused() -> None:
    with pytest.raises(MeshlinkValidationError, match="network_name"):
        MeshNetwork("Client_Net", network_args("client"))


def test_disjoint_networks_pass() -> None:
    check_networks_disjoint(network_args("client"), network_args("server"))


def test_overlap_across_networks_names_both_settings() -> None:
    server = network_args("server", subnet_cidr="10.10.8.0/21")
    with pytest.raises(MeshlinkValidationError) as caught:
        check_networks_disjoint(
            network_args("client"),
            server,
            names=("meshlink:client.network", "meshlink:server.network"),
        )
    (problem,) = caught.value.problems
    assert problem.startswith(
        "meshlink:server.network.subnet_cidr: 10.10.8.0/21 overlaps "
        "meshlink:client.network.subnet_cidr 10.10.0.0/20"
    )


def test_every_overlapping_pair_is_reported() -> None:
    same = network_args("client")
    with pytest.raises(MeshlinkValidationError) as caught:
        check_networks_disjoint(same, dict(same), names=("a", "b"))
    assert len(caught.value.problems) == 4


def test_same_vpc_name_in_one_project_is_refused() -> None:
    client = network_args("client", network_name="shared")
    server = network_args("server", network_name="shared", project=CLIENT_PROJECT)
    with pytest.raises(MeshlinkValidationError, match="separate VPCs"):
        check_networks_disjoint(client, server, names=("client", "server"))


def test_malformed_ranges_are_reported_with_the_side() -> None:
    with pytest.raises(MeshlinkValidationError) as caught:
        check_networks_disjoint(
            network_args("client"),
            network_args("server", pods_cidr="10.72.0.0/40"),
            names=("client", "server"),
        )
    (problem,) = caught.value.problems
    assert problem.startswith("server.pods_cidr: ")

"""IngressAddress and LinkDnsZone on their own: plain inputs (as when the two sides live in
different stacks), and what they refuse."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from meshlink.gcp import IngressAddress, LinkDnsZone, allowlist
from meshlink.offline.engine import OfflineMocks, OfflineRun
from meshlink.validation import MeshlinkValidationError
from tests.test_gcp_program import (
    ADDRESS,
    CLIENT_PROJECT,
    RECORD,
    REGION,
    SERVER_PROJECT,
    ZONE,
    run_offline,
)

CLIENT_NETWORK = f"projects/{CLIENT_PROJECT}/global/networks/client"
NAT = ["203.0.113.10", "203.0.113.11"]
UNSPECIFIED = ".".join(["0"] * 4)  # the address that would admit every source


def _ingress(**overrides: Any) -> IngressAddress:
    args: dict[str, Any] = {
        "project": SERVER_PROJECT,
        "region": REGION,
        "client_nat_addresses": NAT,
    }
    args.update(overrides)
    ingress = IngressAddress("mysql", args)  # type: ignore[arg-type]
    pulumi.export("address", ingress.address)
    pulumi.export("source_ranges", ingress.source_ranges)
    return ingress


def _zone(**overrides: Any) -> LinkDnsZone:
    args: dict[str, Any] = {
        "project": CLIENT_PROJECT,
        "network": CLIENT_NETWORK,
        "dns_name": "link.acme.internal",
        "fqdns": ["mysql.link.acme.internal", "pg.db.link.acme.internal"],
        "address": "198.51.100.77",
    }
    args.update(overrides)
    return LinkDnsZone("names", args)  # type: ignore[arg-type]


def test_plain_nat_addresses_become_slash_32s() -> None:
    names: list[str] = []
    run = run_offline(lambda: names.append(_ingress(address_name="mysql-link").address_name))
    assert run.outputs["source_ranges"] == ["203.0.113.10/32", "203.0.113.11/32"]
    address = run.named(ADDRESS, "mysql-ingress-ip")
    assert run.outputs["address"] == address.outputs["address"]
    assert address.inputs["name"] == names[0] == "mysql-link"
    assert address.inputs["networkTier"] == "PREMIUM"
    assert address.dependencies == ()


def test_allowlist_refuses_anything_but_single_addresses() -> None:
    assert allowlist(["192.0.2.1"]) == ["192.0.2.1/32"]
    for bad in ([UNSPECIFIED], ["10.0.0.0/8"], ["not-an-ip"], ["2001:db8::1"]):
        with pytest.raises(ValueError):
            allowlist(bad)
    with pytest.raises(ValueError, match="admit every source"):
        allowlist([])


@pytest.mark.parametrize(
    ("nat", "expected"),
    [
        ([], "client_nat_addresses: the list is empty"),
        ([UNSPECIFIED], f"client_nat_addresses: '{UNSPECIFIED}' would allow every source"),
        (["203.0.113.0/24"], "client_nat_addresses: '203.0.113.0/24' is not a single IPv4"),
        ("203.0.113.10", "client_nat_addresses: expected a list of IPv4 addresses"),
    ],
)
def test_bad_nat_addresses_are_refused_before_registration(nat: Any, expected: str) -> None:
    names: list[str] = []

    class Recording(OfflineMocks):
        def new_resource(self, args: Any) -> tuple[str | None, dict]:
            names.append(args.name)
            return super().new_resource(args)

    with pytest.raises(MeshlinkValidationError) as caught:
        run_offline(lambda: _ingress(client_nat_addresses=nat), mocks=Recording())
    assert names == []
    assert expected in str(caught.value)


def test_address_name_defaults_to_the_component_name() -> None:
    run = run_offline(lambda: _ingress())
    assert run.named(ADDRESS, "mysql-ingress-ip").inputs["name"] == "mysql-ingress"


def test_nat_addresses_may_arrive_as_an_output() -> None:
    run = run_offline(
        lambda: _ingress(client_nat_addresses=pulumi.Output.from_input(["192.0.2.5"]))
    )
    assert run.outputs["source_ranges"] == ["192.0.2.5/32"]


@pytest.fixture(scope="module")
def zone_run() -> OfflineRun:
    return run_offline(lambda: _zone())


def test_zone_is_private_and_bound_to_the_given_network_only(zone_run: OfflineRun) -> None:
    zone = zone_run.named(ZONE, "names-zone")
    assert zone.inputs["visibility"] == "private"
    assert zone.inputs["privateVisibilityConfig"] == {"networks": [{"networkUrl": CLIENT_NETWORK}]}
    assert zone.inputs["dnsName"] == "link.acme.internal."
    assert zone.inputs["name"] == "names"


def test_each_fqdn_gets_an_a_record(zone_run: OfflineRun) -> None:
    records = {r.inputs["name"]: r for r in zone_run.of_type(RECORD)}
    assert set(records) == {"mysql.link.acme.internal.", "pg.db.link.acme.internal."}
    for record in records.values():
        assert record.inputs["type"] == "A"
        assert record.inputs["rrdatas"] == ["198.51.100.77"]
        assert record.inputs["managedZone"] == "names"
        assert record.inputs["project"] == CLIENT_PROJECT


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"fqdns": ["mysql.example.com"]},
            "fqdns: ['mysql.example.com'] are not under the zone 'link.acme.internal'",
        ),
        ({"fqdns": ["link.acme.internal"]}, "fqdns: ['link.acme.internal'] are not under"),
        (
            {"fqdns": ["a.link.acme.internal", "a.link.acme.internal"]},
            "fqdns: ['a.link.acme.internal'] are listed more than once",
        ),
        ({"fqdns": []}, "fqdns: "),
        ({"fqdns": ["*.link.acme.internal"]}, "fqdns[0]: "),
        ({"address": "10.0.0.0/8"}, "address: "),
        ({"dns_name": "internal"}, "dns_name: "),
        (
            {"dns_name": "googleapis.com", "fqdns": ["mysql.googleapis.com"]},
            "dns_name: 'googleapis.com' would shadow googleapis.com",
        ),
        (
            {"dns_name": "link.googleapis.com", "fqdns": ["mysql.link.googleapis.com"]},
            "dns_name: 'link.googleapis.com' would shadow googleapis.com",
        ),
        (
            {"dns_name": "google.internal", "fqdns": ["mysql.google.internal"]},
            "dns_name: 'google.internal' would shadow google.internal",
        ),
        ({"dns_name": "pkg.dev", "fqdns": ["mysql.pkg.dev"]}, "would shadow pkg.dev"),
        ({"network": None}, "network: "),
    ],
)
def test_bad_zone_settings_are_refused(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(MeshlinkValidationError) as caught:
        _zone(**overrides)
    assert expected in str(caught.value)

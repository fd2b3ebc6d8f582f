"""Fan-in in the rehearsal: every client cluster of a render is planned as links of its
own, and each link's ingress is probed with the certificate of every other client its
Gateway leaves out (read from that client's credential Secret)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from meshlink.offline.program import load_program
from meshlink.offline.rehearse.other_clients import (
    client_certificates,
    not_allowed,
)
from meshlink.offline.rehearse.render import load_render
from meshlink.offline.rehearse.wiring import LinkPlan, plan_links
from meshlink.offline.render import render_program

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fan-in"
STOREFRONT = "spiffe://link.example.com/cluster/storefront"
BILLING = "spiffe://link.example.com/cluster/billing"


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], LinkPlan]:
    """The fan-in example's links by (client cluster, service name)."""
    out = tmp_path_factory.mktemp("fan-in") / "render"
    # The real clock: planning refuses certificates that have expired.
    render_program(load_program(EXAMPLE, "example"), out, include_private_keys=True)
    return {(p.client_cluster, p.fqdn.split(".")[0]): p for p in plan_links(load_render(out))}


def test_each_client_cluster_originates_its_own_links(
    plans: dict[tuple[str, str], LinkPlan],
) -> None:
    assert sorted(plans) == [
        ("billing", "ledger"),
        ("billing", "mysql"),
        ("storefront", "mysql"),
    ]
    assert plans["storefront", "mysql"].client_secret.endswith("(cluster 'storefront')")


def test_each_client_certificate_is_read_once_from_its_own_cluster(
    plans: dict[tuple[str, str], LinkPlan],
) -> None:
    found = {c.cluster: c for c in client_certificates(list(plans.values()))}
    assert sorted(found) == ["billing", "storefront"]
    assert found["storefront"].sans == [STOREFRONT]
    assert found["billing"].sans == [BILLING]
    assert found["storefront"].credential.leaf == plans["storefront", "mysql"].client.leaf


def test_only_the_clients_a_gateway_leaves_out_are_presented_to_it(
    plans: dict[tuple[str, str], LinkPlan],
) -> None:
    clients = client_certificates(list(plans.values()))
    assert [c.cluster for c in not_allowed(plans["billing", "ledger"], clients)] == ["storefront"]
    # Both clients may use the orders database: nobody else to present there.
    assert not_allowed(plans["billing", "mysql"], clients) == []
    assert not_allowed(plans["storefront", "mysql"], clients) == []


def test_a_link_never_presents_its_own_client(plans: dict[tuple[str, str], LinkPlan]) -> None:
    ledger = plans["billing", "ledger"]
    # A Gateway that admitted nobody would leave out every client, but not the link's own.
    nobody = replace(ledger, allowed_client_sans=["spiffe://link.example.com/cluster/nobody"])
    clients = client_certificates(list(plans.values()))
    assert [c.cluster for c in not_allowed(nobody, clients)] == ["storefront"]


def test_a_gateway_without_subject_alt_names_leaves_out_nobody(
    plans: dict[tuple[str, str], LinkPlan],
) -> None:
    open_gateway = replace(plans["billing", "ledger"], allowed_client_sans=[])
    assert not_allowed(open_gateway, client_certificates(list(plans.values()))) == []

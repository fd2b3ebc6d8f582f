"""A second client cluster joins the split stacks by config: the pki stack issues it a
certificate of its own, the server stack admits it to the services it may use from its
egress addresses, and it gets a client stack of its own. The first client's stack and
render do not change.

The stacks run offline with their example configuration, as in tests/test_stacks.py; the
two-client runs edit the pki and server configuration the way the README describes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meshlink.config.contract import LinkContractError
from meshlink.offline.engine import OfflineMocks, OfflineRun
from meshlink.offline.render import write_render
from tests.support.mesh import DELETE, of_kind
from tests.support.pki import verify_client
from tests.test_stacks import (
    CLIENT_URI,
    NOW,
    PKI_STACK,
    SECRET_TYPE,
    SERVER_STACK,
    STACKS,
    RecordingMocks,
    edit_config,
    kubernetes_by_name,
    loaded_config,
    run_server_stack,
    run_stack,
)

REPORTS_URI = "spiffe://link.example.com/cluster/reports-client"
REPORTS_NAT = ["203.0.113.20"]
ORDERS_NAT = ["203.0.113.10", "203.0.113.11"]
PG_FQDN = "pg.link.internal.example.com"
PG: dict[str, Any] = {
    "name": "pg",
    "fqdn": PG_FQDN,
    "app_port": 5432,
    "link_port": 15432,
    "target_host": "pg.orders.svc.cluster.local",
    "target_port": 5432,
    "target_labels": {"app.kubernetes.io/name": "pg"},
}


def pki_config(clients: dict[str, str], *, extra_fqdns: tuple[str, ...] = ()) -> dict[str, str]:
    """The example pki stack with ``clients`` (name -> URI SAN) instead of client_identity."""
    config = edit_config(
        loaded_config(STACKS / "pki", "prod"), "meshlink-pki:client_identity", None, DELETE
    )
    if extra_fqdns:
        fqdns = ["mysql.link.internal.example.com", *extra_fqdns]
        config = edit_config(config, "meshlink-pki:server_fqdns", None, fqdns)
    value = {name: {"identity": {"uri": uri}} for name, uri in clients.items()}
    return edit_config(config, "meshlink-pki:clients", None, value)


def server_config(
    clients: dict[str, dict[str, Any]], *, extra_services: tuple[dict[str, Any], ...] = ()
) -> dict[str, str]:
    """The example server stack with ``clients`` instead of the one-client keys."""
    config = loaded_config(STACKS / "server", "prod")
    for key in ("client_identity", "client_nat_addresses"):
        config = edit_config(config, f"meshlink-server:{key}", None, DELETE)
    if extra_services:
        services = [*json.loads(config["meshlink-server:services"]), *extra_services]
        config = edit_config(config, "meshlink-server:services", None, services)
    return edit_config(config, "meshlink-server:clients", None, clients)


TWO_CLIENTS = {
    "client": {"identity": {"uri": CLIENT_URI}, "nat_addresses": ORDERS_NAT},
    "reports": {"identity": {"uri": REPORTS_URI}, "nat_addresses": REPORTS_NAT},
}


def run_pki(config: dict[str, str] | None = None) -> OfflineRun:
    return run_stack(STACKS / "pki", "prod", config=config)


def run_server(pki: OfflineRun, config: dict[str, str] | None = None) -> OfflineRun:
    return run_server_stack(pki, config=config)


def run_client(
    pki: OfflineRun,
    server: OfflineRun,
    config: dict[str, str] | None = None,
    mocks: OfflineMocks | None = None,
) -> OfflineRun:
    return run_stack(
        STACKS / "client",
        "prod",
        config=config,
        mocks=mocks
        or OfflineMocks(
            now=NOW,
            seed="meshlink-client/prod",
            stack_references={PKI_STACK: pki.outputs, SERVER_STACK: server.outputs},
            secret_stack_outputs={PKI_STACK: pki.secret_outputs, SERVER_STACK: frozenset()},
        ),
    )


def client_config(name: str, **edits: Any) -> dict[str, str]:
    config = edit_config(
        loaded_config(STACKS / "client", "prod"), "meshlink-client:client_name", None, name
    )
    for key, value in edits.items():
        config = edit_config(config, f"meshlink-client:{key}", None, value)
    return config


@pytest.fixture(scope="module")
def one() -> tuple[OfflineRun, OfflineRun]:
    """The example stacks as they are: one client, given with the one-client keys."""
    pki = run_pki()
    return pki, run_server(pki)


@pytest.fixture(scope="module")
def two() -> tuple[OfflineRun, OfflineRun]:
    """The same stacks after ``reports`` joined: the first client moved into ``clients``
    under the one-client name."""
    pki = run_pki(pki_config({"client": CLIENT_URI, "reports": REPORTS_URI}))
    return pki, run_server(pki, server_config(TWO_CLIENTS))


def rendered_files(run: OfflineRun, out: Path) -> dict[str, bytes]:
    write_render(run, out, include_private_keys=False, title="client / prod", now=NOW)
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- adding a client


def test_the_first_client_s_render_is_byte_identical_after_a_client_joins(
    one: tuple[OfflineRun, OfflineRun], two: tuple[OfflineRun, OfflineRun], tmp_path: Path
) -> None:
    before = rendered_files(run_client(*one), tmp_path / "before")
    after = rendered_files(run_client(*two), tmp_path / "after")
    assert any(name.endswith(".yaml") for name in before)
    assert before == after


def test_the_pki_stack_issues_the_new_client_its_own_certificate(
    one: tuple[OfflineRun, OfflineRun], two: tuple[OfflineRun, OfflineRun]
) -> None:
    (pki_one, _), (pki_two, _) = one, two
    assert pki_two.outputs["client_sans"] == {"client": CLIENT_URI, "reports": REPORTS_URI}
    # The first client's certificate is the same resource, with the same certificate.
    assert pki_two.outputs["client_full_chain_pem"] == pki_one.outputs["client_full_chain_pem"]
    trust = pki_two.outputs["trust_bundle_pem"]
    verified = verify_client(pki_two.outputs["reports_full_chain_pem"], trust, at=NOW)
    assert [str(u.value) for u in verified.subjects or []] == [REPORTS_URI]
    assert {"client_private_key_pem", "reports_private_key_pem"} <= pki_two.secret_outputs
    assert "PRIVATE KEY-----" in pki_two.outputs["reports_private_key_pem"]


def test_the_server_changes_only_in_its_gateway_and_load_balancer(
    one: tuple[OfflineRun, OfflineRun], two: tuple[OfflineRun, OfflineRun]
) -> None:
    (_, before), (_, after) = one, two
    inputs_before = {r.urn: r.inputs for r in before.registrations}
    inputs_after = {r.urn: r.inputs for r in after.registrations}
    assert set(inputs_before) == set(inputs_after)
    changed = {
        urn.rsplit("::", 1)[1] for urn in inputs_after if inputs_before[urn] != inputs_after[urn]
    }
    assert changed == {"link-mysql-ingress-gateway", "link-ingress-service"}
    (gateway,) = of_kind(after, "Gateway")
    assert gateway["spec"]["servers"][0]["tls"]["subjectAltNames"] == [CLIENT_URI, REPORTS_URI]
    (balancer,) = [s for s in of_kind(after, "Service") if s["spec"].get("type") == "LoadBalancer"]
    expected = [f"{ip}/32" for ip in [*ORDERS_NAT, *REPORTS_NAT]]
    assert balancer["spec"]["loadBalancerSourceRanges"] == expected
    assert after.outputs["client_services"] == {"client": ["mysql"], "reports": ["mysql"]}


def test_the_new_client_stack_uses_its_own_certificate(two: tuple[OfflineRun, OfflineRun]) -> None:
    pki, server = two
    reports = run_client(pki, server, client_config("reports"))
    data = kubernetes_by_name(reports, SECRET_TYPE, "link-client-tls").inputs["stringData"]
    assert data["tls.crt"] == pki.outputs["reports_full_chain_pem"]
    assert data["tls.key"] == pki.outputs["reports_private_key_pem"]


# --------------------------------------------------------------------------- per service


@pytest.fixture(scope="module")
def shared() -> tuple[OfflineRun, OfflineRun]:
    """Two services; ``reports`` may use ``pg`` only."""
    pki = run_pki(
        pki_config({"client": CLIENT_URI, "reports": REPORTS_URI}, extra_fqdns=(PG_FQDN,))
    )
    clients = {**TWO_CLIENTS, "reports": {**TWO_CLIENTS["reports"], "services": ["pg"]}}
    return pki, run_server(pki, server_config(clients, extra_services=(PG,)))


def test_each_gateway_admits_the_clients_that_may_use_its_service(
    shared: tuple[OfflineRun, OfflineRun],
) -> None:
    _, server = shared
    admitted = {
        g["metadata"]["name"]: g["spec"]["servers"][0]["tls"]["subjectAltNames"]
        for g in of_kind(server, "Gateway")
    }
    assert admitted == {
        "link-mysql-ingress": [CLIENT_URI],
        "link-pg-ingress": [CLIENT_URI, REPORTS_URI],
    }
    assert server.outputs["client_services"] == {"client": ["mysql", "pg"], "reports": ["pg"]}


def test_a_client_stack_using_a_service_it_is_not_admitted_to_fails(
    shared: tuple[OfflineRun, OfflineRun],
) -> None:
    pki, server = shared
    with pytest.raises(LinkContractError) as caught:
        run_client(pki, server, client_config("reports"))
    assert caught.value.problems == (
        "meshlink-client:services[0].name: 'mysql' here, but the server stack "
        f"{SERVER_STACK!r} admits client 'reports' to ['pg'] only (output client_services)",
    )


def test_a_client_name_the_pki_stack_did_not_issue_is_named(
    two: tuple[OfflineRun, OfflineRun],
) -> None:
    pki, server = two
    mocks = RecordingMocks(
        now=NOW,
        stack_references={PKI_STACK: pki.outputs, SERVER_STACK: server.outputs},
        secret_stack_outputs={PKI_STACK: pki.secret_outputs, SERVER_STACK: frozenset()},
    )
    with pytest.raises(Exception) as caught:
        run_client(pki, server, client_config("billing"), mocks=mocks)
    assert (
        "meshlink-client:client_name: 'billing' here, but the pki stack "
        f"{PKI_STACK!r} issued no client certificate of that name (output client_sans: "
        "['client', 'reports'])"
    ) in str(caught.value)


# --------------------------------------------------------------------------- bad config


def refused(directory: str, config: dict[str, str]) -> str:
    mocks = RecordingMocks(now=NOW)
    with pytest.raises(Exception) as caught:
        run_stack(STACKS / directory, "prod", config=config, mocks=mocks)
    assert mocks.requested == []
    return str(caught.value)


@pytest.mark.parametrize(
    ("clients", "problem"),
    [
        (
            {**TWO_CLIENTS, "reports": {**TWO_CLIENTS["reports"], "services": ["mysql", "pg"]}},
            "meshlink-server:clients.reports.services[1]: 'pg' is not a linked service "
            "(services: mysql)",
        ),
        (
            {**TWO_CLIENTS, "reports": {**TWO_CLIENTS["reports"], "identity": {"uri": CLIENT_URI}}},
            f"meshlink-server:clients.reports.identity: {CLIENT_URI!r} is also the identity of "
            "client 'client'; give each client its own certificate SAN",
        ),
        (
            {**TWO_CLIENTS, "reports": {**TWO_CLIENTS["reports"], "nat_addresses": ORDERS_NAT[1:]}},
            "meshlink-server:clients.reports.nat_addresses[0]: '203.0.113.11' is also an address "
            "of client 'client'",
        ),
        (
            {"server": TWO_CLIENTS["reports"]},
            "meshlink-server:clients.server: 'server' names the server certificate's outputs",
        ),
    ],
)
def test_the_server_stack_refuses_bad_clients(clients: dict[str, Any], problem: str) -> None:
    message = refused("server", server_config(clients))
    assert problem in message
    assert message.count("\n  - ") == 1, message


def test_the_server_stack_refuses_a_service_no_client_may_use() -> None:
    clients = {"reports": {**TWO_CLIENTS["reports"], "services": ["mysql"]}}
    message = refused("server", server_config(clients, extra_services=(PG,)))
    assert (
        "meshlink-server:services[1]: no client may use 'pg'; add it to a client's services "
        "in meshlink-server:clients, or remove it"
    ) in message


def test_the_one_client_keys_are_refused_beside_clients() -> None:
    config = pki_config({"reports": REPORTS_URI})
    config = edit_config(config, "meshlink-pki:client_identity", None, {"uri": CLIENT_URI})
    message = refused("pki", config)
    assert (
        "meshlink-pki:client_identity: cannot be set with meshlink-pki:clients; list every "
        "client there (name the client of this key 'client' to keep its certificate and stack)"
    ) in message
    assert message.count("\n  - ") == 1, message


def test_the_pki_stack_refuses_one_identity_for_two_clients() -> None:
    message = refused("pki", pki_config({"client": CLIENT_URI, "reports": CLIENT_URI}))
    assert (
        f"meshlink-pki:clients.reports.identity: {CLIENT_URI!r} is also the identity of client "
        "'client'"
    ) in message


def test_the_pki_stack_names_clients_when_no_client_is_given() -> None:
    config = edit_config(
        loaded_config(STACKS / "pki", "prod"), "meshlink-pki:client_identity", None, DELETE
    )
    assert "meshlink-pki:clients: is required" in refused("pki", config)


def test_a_client_stack_refuses_a_client_name_that_is_not_a_name() -> None:
    message = refused("client", client_config("Reports"))
    assert "meshlink-client:client_name: 'Reports' is not a valid RFC 1123 label" in message

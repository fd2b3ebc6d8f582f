"""The link contract of the split stacks: each cluster stack compares the FQDNs, link ports
and client identity it declares with the outputs of the stacks it reads, and a mismatch
fails the run with one line naming both sides.

The comparison itself is tested as a pure function; then the stacks run offline, as in
tests/test_stacks.py, with the other stacks' real outputs edited into a mismatch; then the
CLI, which must print the message unchanged with exit code 2 and no traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from meshlink.cli import main
from meshlink.config.contract import (
    LinkContractError,
    LinkTerms,
    ReadStack,
    ServiceTerms,
    compare_link,
    require_agreement,
    terms_from_outputs,
)
from meshlink.offline.engine import OfflineMocks, OfflineRun
from meshlink.stack_outputs import placeholder, placeholders_for
from tests.test_stacks import (
    NOW,
    PKI_STACK,
    SERVER_STACK,
    STACKS,
    edit_config,
    loaded_config,
    run_server_stack,
    run_stack,
)

FQDN = "mysql.link.internal.example.com"
CLIENT_URI = "spiffe://link.example.com/cluster/orders-client"
HERE = "meshlink-client"
PKI = f"the pki stack {PKI_STACK!r}"
SERVER = f"the server stack {SERVER_STACK!r}"

MYSQL = ServiceTerms(name="mysql", fqdn=FQDN, link_port=13306)
POSTGRES = ServiceTerms(name="pg", fqdn="pg.link.internal.example.com", link_port=15432)


# --------------------------------------------------------------------------- the comparison


def test_terms_that_agree_give_no_problem() -> None:
    here = LinkTerms(services=(MYSQL,), client_name="orders")
    pki = LinkTerms(server_fqdns=(FQDN, POSTGRES.fqdn), client_sans={"orders": CLIENT_URI})
    # A client may use a subset of what the server serves, listed in any order.
    server = LinkTerms(
        services=(POSTGRES, MYSQL), client_services={"orders": ("mysql",), "billing": ("pg",)}
    )
    assert compare_link(here, pki, here_name=HERE, there_name=PKI) == []
    assert compare_link(here, server, here_name=HERE, there_name=SERVER) == []
    admitted = LinkTerms(
        client_sans={"orders": CLIENT_URI}, client_settings={"orders": "clients.orders.identity"}
    )
    assert compare_link(admitted, pki, here_name="meshlink-server", there_name=PKI) == []


def test_an_fqdn_missing_from_the_server_certificate_names_both_sides() -> None:
    here = LinkTerms(services=(MYSQL, POSTGRES))
    pki = LinkTerms(server_fqdns=(FQDN,))
    assert compare_link(here, pki, here_name=HERE, there_name=PKI) == [
        "meshlink-client:services[1].fqdn: 'pg.link.internal.example.com' here, but the pki "
        "stack 'acme/meshlink-pki/prod' issued the server certificate (output server_fqdns) "
        "for ['mysql.link.internal.example.com']"
    ]


def test_a_service_the_server_does_not_serve_is_named() -> None:
    here = LinkTerms(services=(POSTGRES,))
    server = LinkTerms(services=(MYSQL,))
    assert compare_link(here, server, here_name=HERE, there_name=SERVER) == [
        "meshlink-client:services[0].name: 'pg' here, but the server stack "
        "'acme/meshlink-server/prod' serves no service of that name (output services: ['mysql'])"
    ]


def test_a_different_fqdn_and_link_port_of_the_same_service_each_give_a_line() -> None:
    here = LinkTerms(
        services=(POSTGRES, ServiceTerms(name="mysql", fqdn="db.example.com", link_port=13307))
    )
    server = LinkTerms(services=(MYSQL, POSTGRES))
    assert compare_link(here, server, here_name=HERE, there_name=SERVER) == [
        "meshlink-client:services[1].fqdn: 'db.example.com' here, but the server stack "
        "'acme/meshlink-server/prod' serves 'mysql' at 'mysql.link.internal.example.com' "
        "(output services[0].fqdn)",
        "meshlink-client:services[1].link_port: 13307 here, but the server stack "
        "'acme/meshlink-server/prod' serves 'mysql' on link port 13306 "
        "(output services[0].link_port)",
    ]


def test_an_admitted_client_identity_that_is_not_the_client_certificate_s() -> None:
    other = "spiffe://link.example.com/cluster/other"
    here = LinkTerms(
        services=(MYSQL,),
        client_sans={"orders": other, "billing": other},
        client_settings={
            "orders": "clients.orders.identity",
            "billing": "clients.billing.identity",
        },
    )
    pki = LinkTerms(server_fqdns=(FQDN,), client_sans={"orders": CLIENT_URI})
    assert compare_link(here, pki, here_name="meshlink-server", there_name=PKI) == [
        "meshlink-server:clients.orders.identity: 'spiffe://link.example.com/cluster/other' "
        "here, but the pki stack 'acme/meshlink-pki/prod' issued the client certificate of "
        "'orders' (output client_sans) for 'spiffe://link.example.com/cluster/orders-client'",
        "meshlink-server:clients.billing.identity: client 'billing' here, but the pki stack "
        "'acme/meshlink-pki/prod' issued no client certificate of that name (output "
        "client_sans: ['orders'])",
    ]


def test_a_client_stack_names_a_client_the_other_stacks_do_not_know() -> None:
    here = LinkTerms(services=(MYSQL,), client_name="reports")
    pki = LinkTerms(client_sans={"orders": CLIENT_URI})
    server = LinkTerms(services=(MYSQL,), client_services={"orders": ("mysql",)})
    assert compare_link(here, pki, here_name=HERE, there_name=PKI) == [
        "meshlink-client:client_name: 'reports' here, but the pki stack "
        "'acme/meshlink-pki/prod' issued no client certificate of that name (output "
        "client_sans: ['orders'])"
    ]
    assert compare_link(here, server, here_name=HERE, there_name=SERVER) == [
        "meshlink-client:client_name: 'reports' here, but the server stack "
        "'acme/meshlink-server/prod' admits no client of that name (output client_services: "
        "['orders'])"
    ]


def test_a_service_the_server_does_not_admit_this_client_to_is_named() -> None:
    here = LinkTerms(services=(MYSQL, POSTGRES), client_name="orders")
    server = LinkTerms(services=(MYSQL, POSTGRES), client_services={"orders": ("mysql",)})
    assert compare_link(here, server, here_name=HERE, there_name=SERVER) == [
        "meshlink-client:services[1].name: 'pg' here, but the server stack "
        "'acme/meshlink-server/prod' admits client 'orders' to ['mysql'] only (output "
        "client_services)"
    ]


def test_only_what_both_sides_state_is_compared() -> None:
    # The client states no name; the server stack states no certificate names.
    client = LinkTerms(services=(POSTGRES,))
    pki = LinkTerms(client_sans={"orders": CLIENT_URI})
    assert compare_link(client, pki, here_name=HERE, there_name=PKI) == []
    assert (
        compare_link(
            LinkTerms(client_sans={"orders": CLIENT_URI}),
            LinkTerms(services=(MYSQL,)),
            here_name=HERE,
            there_name=SERVER,
        )
        == []
    )


def test_outputs_become_terms_and_placeholders_stay_unknown() -> None:
    outputs = {
        # The engine may hand numbers over as floats.
        "services": [{"name": "mysql", "fqdn": FQDN, "link_port": 13306.0, "extra": 1}],
        "server_fqdns": placeholder(PKI_STACK, "server_fqdns"),
        "ingress_address": "203.0.113.5",
    }
    terms, problems = terms_from_outputs(ReadStack("pki", PKI_STACK, outputs))
    assert terms == LinkTerms(services=(MYSQL,))
    assert problems == []


def test_every_problem_of_every_read_stack_comes_in_one_error() -> None:
    """Outputs of the wrong shape name the stack and output; they and the mismatches with
    the other stack are listed together."""
    here = LinkTerms(services=(MYSQL,))
    read = [
        ReadStack("pki", PKI_STACK, {"server_fqdns": FQDN}),
        ReadStack("server", SERVER_STACK, {"services": [{"name": "mysql", "fqdn": FQDN}]}),
        ReadStack("server", "acme/meshlink-server/test", {"services": [POSTGRES.model_dump()]}),
    ]
    with pytest.raises(LinkContractError) as caught:
        require_agreement(here, read, here_name=HERE)
    assert caught.value.problems == (
        f"{PKI}, output server_fqdns: Input should be a valid list (found: {FQDN!r})",
        f"{SERVER}, output services[0].link_port: Field required",
        "meshlink-client:services[0].name: 'mysql' here, but the server stack "
        "'acme/meshlink-server/test' serves no service of that name (output services: ['pg'])",
    )
    # Agreeing outputs raise nothing.
    require_agreement(
        here,
        [ReadStack("server", SERVER_STACK, {"services": [MYSQL.model_dump()]})],
        here_name=HERE,
    )


def test_the_error_is_a_run_error_so_the_language_host_prints_it_alone() -> None:
    assert issubclass(LinkContractError, pulumi.RunError)


# --------------------------------------------------------------------------- the stacks


@pytest.fixture(scope="module")
def pki() -> OfflineRun:
    return run_stack(STACKS / "pki", "prod")


@pytest.fixture(scope="module")
def server(pki: OfflineRun) -> OfflineRun:
    return run_server(pki.outputs, pki=pki)


def run_server(
    pki_outputs: dict[str, Any], *, pki: OfflineRun, config: dict[str, str] | None = None
) -> OfflineRun:
    return run_server_stack(pki, config=config, pki_outputs=pki_outputs)


def run_client(
    pki: OfflineRun, server_outputs: dict[str, Any], *, config: dict[str, str] | None = None
) -> OfflineRun:
    return run_stack(
        STACKS / "client",
        "prod",
        config=config,
        mocks=OfflineMocks(
            now=NOW,
            seed="meshlink-client/prod",
            stack_references={PKI_STACK: pki.outputs, SERVER_STACK: server_outputs},
            secret_stack_outputs={PKI_STACK: pki.secret_outputs, SERVER_STACK: frozenset()},
        ),
    )


def test_server_stack_exports_the_services_the_client_compares(server: OfflineRun) -> None:
    assert server.outputs["services"] == [{"name": "mysql", "fqdn": FQDN, "link_port": 13306}]
    assert "services" not in server.secret_outputs


def test_client_stack_that_matches_both_stacks_runs(pki: OfflineRun, server: OfflineRun) -> None:
    client = run_client(pki, server.outputs)
    assert client.outputs["fqdns"] == [FQDN]


def test_server_stack_fails_on_an_fqdn_the_certificate_does_not_name(pki: OfflineRun) -> None:
    outputs = {**pki.outputs, "server_fqdns": ["db.link.internal.example.com"]}
    with pytest.raises(LinkContractError) as caught:
        run_server(outputs, pki=pki)
    assert caught.value.problems == (
        f"meshlink-server:services[0].fqdn: {FQDN!r} here, but {PKI} issued the server "
        "certificate (output server_fqdns) for ['db.link.internal.example.com']",
    )


def test_server_stack_fails_on_a_client_identity_the_pki_did_not_issue(pki: OfflineRun) -> None:
    other = "spiffe://link.example.com/cluster/billing-client"
    config = edit_config(
        loaded_config(STACKS / "server", "prod"), "meshlink-server:client_identity", "uri", other
    )
    with pytest.raises(LinkContractError) as caught:
        run_server(pki.outputs, pki=pki, config=config)
    assert caught.value.problems == (
        f"meshlink-server:client_identity: {other!r} here, but {PKI} issued the client "
        f"certificate of 'client' (output client_sans) for {CLIENT_URI!r}",
    )


def test_client_stack_fails_on_a_link_port_the_server_does_not_serve(
    pki: OfflineRun, server: OfflineRun
) -> None:
    served = [{**server.outputs["services"][0], "link_port": 13307}]
    with pytest.raises(LinkContractError) as caught:
        run_client(pki, {**server.outputs, "services": served})
    assert caught.value.problems == (
        f"meshlink-client:services[0].link_port: 13306 here, but {SERVER} serves 'mysql' on "
        "link port 13307 (output services[0].link_port)",
    )


def test_client_stack_fails_on_an_fqdn_both_other_stacks_disagree_with(
    pki: OfflineRun, server: OfflineRun
) -> None:
    typo = "mysql.link.internal.example.org"
    config = edit_config(
        loaded_config(STACKS / "client", "prod"), "meshlink-client:services", "[0].fqdn", typo
    )
    config = edit_config(config, "meshlink-client:dns", "zone", "link.internal.example.org")
    with pytest.raises(LinkContractError) as caught:
        run_client(pki, server.outputs, config=config)
    assert set(caught.value.problems) == {
        f"meshlink-client:services[0].fqdn: {typo!r} here, but {PKI} issued the server "
        f"certificate (output server_fqdns) for [{FQDN!r}]",
        f"meshlink-client:services[0].fqdn: {typo!r} here, but {SERVER} serves 'mysql' at "
        f"{FQDN!r} (output services[0].fqdn)",
    }


def test_client_stack_renders_on_its_own_with_placeholders() -> None:
    """Placeholders stand for outputs not known offline: nothing to compare them with."""
    run = run_stack(
        STACKS / "client",
        "prod",
        mocks=OfflineMocks(now=NOW, stack_reference_placeholders=placeholders_for),
    )
    assert run.outputs["fqdns"] == [FQDN]


def test_cli_prints_the_mismatch_alone_with_exit_code_2(
    pki: OfflineRun, server: OfflineRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = [{**server.outputs["services"][0], "link_port": 13307}]
    outputs_file = tmp_path / "outputs.yaml"
    outputs_file.write_text(
        yaml.safe_dump(
            {
                PKI_STACK: {"outputs": pki.outputs, "secret": sorted(pki.secret_outputs)},
                SERVER_STACK: {"outputs": {**server.outputs, "services": served}},
            }
        )
    )
    status = main(
        [
            "render",
            str(STACKS / "client"),
            "--stack",
            "prod",
            "--out",
            str(tmp_path / "out"),
            "--stack-outputs",
            str(outputs_file),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert (
        "meshlink render: configuration: invalid settings:\n"
        f"  - meshlink-client:services[0].link_port: 13306 here, but {SERVER} serves 'mysql' "
        "on link port 13307 (output services[0].link_port)\n"
    ) in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()

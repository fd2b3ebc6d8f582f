"""``meshlink rehearse --target``: the external-target example with ``database_tls`` set,
its TLS origination to the database played by an HAProxy stand-in that holds a server
certificate the database's CA signed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from meshlink.offline.rehearse import haproxy as hp
from meshlink.offline.rehearse import main as rehearse_main
from meshlink.offline.rehearse import runner
from meshlink.offline.rehearse.partner_plan import StandIn
from meshlink.offline.rehearse.render import load_render
from meshlink.offline.rehearse.target_cases import IMPOSTOR_CASE
from meshlink.offline.rehearse.target_plan import plan_target_stand_ins
from meshlink.offline.rehearse.wiring import WiringError, plan_links
from meshlink.offline.render import render_program
from tests.support import partner
from tests.support.pki import MadeCa, make_ca
from tests.test_examples import example

PROJECT = "meshlink-external-target"
ADDRESS = "10.20.0.5"
DATABASE_NAME = "db.orders.internal.example.com"


def database_ca(common_name: str = "Orders database CA") -> MadeCa:
    now = dt.datetime.now(dt.UTC)
    return make_ca(
        common_name, not_before=now - dt.timedelta(days=30), not_after=now + dt.timedelta(days=365)
    )


@pytest.fixture(scope="module")
def ca() -> MadeCa:
    return database_ca()


@pytest.fixture(scope="module")
def rendered(ca: MadeCa, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with ``database_tls`` set, rendered with private keys at the real clock
    (the rehearsal refuses certificates that have expired)."""
    program = example("external-target")
    tls = {"ca_bundle_pem": ca.cert_pem, "subject_alt_names": [DATABASE_NAME]}
    tls["sni"] = DATABASE_NAME
    config = {**program.config, f"{PROJECT}:database_tls": json.dumps(tls)}
    out = tmp_path_factory.mktemp("tls-target") / "render"
    render_program(dataclasses.replace(program, config=config), out, include_private_keys=True)
    return out


def stand_in(
    directory: Path, signer: MadeCa, *, name: str = DATABASE_NAME, address: str = ADDRESS
) -> StandIn:
    """A server certificate ``signer`` issued for the database, and its key."""
    return partner.write_stand_in(
        directory, signer, name=name, address=address, flag="--target", stem="database"
    )


def problems_with(rendered: Path, *stand_ins: StandIn) -> list[str]:
    render = load_render(rendered)
    with pytest.raises(WiringError) as error:
        plan_target_stand_ins(render, plan_links(render), {s.host: s for s in stand_ins})
    return list(error.value.problems)


# --- the checks before anything starts ---------------------------------------------------


def test_a_stand_in_from_another_ca_is_refused_naming_the_flag(
    rendered: Path, tmp_path: Path
) -> None:
    (problem,) = problems_with(rendered, stand_in(tmp_path, database_ca("Some other CA")))
    assert problem.startswith(f"--target {ADDRESS}: {tmp_path / 'database.pem'} is not signed")
    assert "by the target CA the render trusts (Secret orders-sql-ingress/" in problem


def test_a_stand_in_without_the_rules_names_is_refused(
    rendered: Path, ca: MadeCa, tmp_path: Path
) -> None:
    (problem,) = problems_with(rendered, stand_in(tmp_path, ca, name="other.example.com"))
    assert problem.startswith(f"--target {ADDRESS}: ")
    assert f"carries ['other.example.com'], none of the names ['{DATABASE_NAME}']" in problem


def test_a_stand_in_for_an_address_no_tls_target_has_is_refused(
    rendered: Path, ca: MadeCa, tmp_path: Path
) -> None:
    (problem,) = problems_with(rendered, stand_in(tmp_path, ca, address="10.9.9.9"))
    assert problem == (
        "--target 10.9.9.9: no external target of the render that speaks TLS has that "
        f"address (those that do: ['{ADDRESS}'])"
    )


def test_the_command_exits_2_naming_the_flag(
    rendered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = stand_in(tmp_path, database_ca("Some other CA"))
    key = tmp_path / "database.key"
    argv = [str(rendered), "--target", f"{ADDRESS}={other.source},{key}"]
    assert rehearse_main(argv) == 2
    assert f"--target {ADDRESS}: " in capsys.readouterr().err


def test_without_a_stand_in_the_note_names_the_flag(rendered: Path) -> None:
    render = load_render(rendered)
    (plan,) = plan_links(render)
    assert plan_target_stand_ins(render, [plan], {}) == [None]
    (note,) = [n for n in plan.notes if "originates SIMPLE TLS" in n]
    assert "NOT rehearsed" in note
    assert f"--target {ADDRESS}=CERT.pem,KEY.pem" in note


def test_the_ingress_backend_originates_tls_as_the_rule_says() -> None:
    frontend = hp.IngressFrontend(
        name="link0_ingress",
        port=1000,
        crt_list=Path("/w/server.crtlist"),
        ca_file=Path("/w/server-ca.pem"),
        min_version="TLSV1_2",
        max_version="TLSV1_3",
        backend_port=2000,
        hosts=("mysql.example.com",),
        target_tls=hp.TargetTLS(
            ca_file=Path("/w/target-ca.pem"), sni=DATABASE_NAME, verify_host=DATABASE_NAME
        ),
    )
    text = hp.HaproxyConfig(ingress=[frontend]).text()
    assert (
        "    server target 127.0.0.1:2000 ssl verify required ca-file /w/target-ca.pem "
        f"sni str({DATABASE_NAME}) verifyhost {DATABASE_NAME}\n"
    ) in text


# --- end to end --------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_tls_target_carries_the_rows_and_refuses_an_impostor(
    rendered: Path, ca: MadeCa, tmp_path: Path
) -> None:
    report = runner.rehearse(rendered, with_timing=False, targets=[stand_in(tmp_path, ca)])

    (link,) = report.links
    assert link.positive is not None and link.positive.passed, link.positive
    assert link.positive.written_sha256 == link.positive.read_back_sha256
    (impostor,) = [c for c in link.cases if c.case == IMPOSTOR_CASE]
    assert (impostor.result, impostor.passed) == ("refused", True), impostor
    assert "certificate verify failed" in impostor.evidence
    assert any("a TLS stand-in" in n and "plays the target" in n for n in link.notes)
    assert [c for c in link.cases if not c.passed] == []
    assert report.ok


@pytest.mark.e2e
def test_without_target_the_link_is_rehearsed_in_plain_tcp_and_says_so(rendered: Path) -> None:
    report = runner.rehearse(rendered, with_timing=False)

    (link,) = report.links
    assert link.positive is not None and link.positive.passed
    assert [c.case for c in link.cases if c.case == IMPOSTOR_CASE] == []
    assert any(f"--target {ADDRESS}=CERT.pem,KEY.pem" in n for n in link.notes)
    assert report.ok

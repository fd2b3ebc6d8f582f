"""``meshlink rehearse --partner``: the partner-endpoint example's link, with an HAProxy
stand-in for the partner that requires a client certificate under the partner's CA."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshlink.offline.rehearse import main as rehearse_main
from meshlink.offline.rehearse import runner
from meshlink.offline.rehearse.partner_plan import StandIn
from meshlink.offline.rehearse.wiring import WiringError
from tests.support import partner
from tests.support.pki import MadeCa, make_ca

HOST = "api.clearing.example.net"
SERVER_NAME = "mtls.clearing.example.net"


@pytest.fixture(scope="module")
def ca() -> MadeCa:
    return partner.partner_ca()


@pytest.fixture(scope="module")
def rendered(ca: MadeCa, tmp_path_factory: pytest.TempPathFactory) -> Path:
    scratch = tmp_path_factory.mktemp("partner-rehearsal")
    out = scratch / "second-run"
    partner.render(partner.signed_program(ca, scratch), out, include_private_keys=True)
    return out


def stand_in(directory: Path, signer: MadeCa, *, name: str = SERVER_NAME) -> StandIn:
    """A server certificate ``signer`` issued for the partner's endpoint, and its key."""
    return partner.write_stand_in(
        directory, signer, name=name, address=HOST, flag="--partner", stem="partner"
    )


@pytest.mark.e2e
def test_the_partner_link_carries_mysql_and_refuses_what_its_ca_did_not_sign(
    rendered: Path, ca: MadeCa, tmp_path: Path
) -> None:
    report = runner.rehearse(rendered, with_timing=False, partners=[stand_in(tmp_path, ca)])

    assert [(link.fqdn, link.sni) for link in report.links] == [(HOST, SERVER_NAME)]
    link = report.links[0]
    assert link.server_cluster == "partner (stand-in)"
    assert link.positive is not None and link.positive.passed, link.positive
    assert link.positive.written_sha256 == link.positive.read_back_sha256
    assert [(c.case, c.result) for c in link.cases] == [
        ("the link's own client certificate (control)", "accepted"),
        ("no client certificate", "refused"),
        ("client certificate the partner's CA did not sign", "refused"),
        ("partner impostor: server certificate from another CA", "refused"),
    ]
    assert all(c.passed for c in link.cases), link.cases
    assert report.ok


def test_without_a_stand_in_the_rehearsal_says_how_to_give_one(rendered: Path) -> None:
    with pytest.raises(WiringError) as error:
        runner.rehearse(rendered, with_timing=False)
    (problem,) = error.value.problems
    assert f"no Gateway in the render serves {HOST!r}" in problem
    assert f"--partner {HOST}=CERT.pem,KEY.pem" in problem


def test_a_stand_in_the_partner_ca_did_not_sign_is_refused(rendered: Path, tmp_path: Path) -> None:
    with pytest.raises(WiringError) as error:
        runner.rehearse(
            rendered, with_timing=False, partners=[stand_in(tmp_path, make_ca("Not the Partner"))]
        )
    (problem,) = error.value.problems
    assert f"--partner {HOST}:" in problem
    assert "is not signed by the partner CA the render trusts" in problem


def test_a_stand_in_for_other_names_is_refused(rendered: Path, ca: MadeCa, tmp_path: Path) -> None:
    with pytest.raises(WiringError) as error:
        runner.rehearse(
            rendered, with_timing=False, partners=[stand_in(tmp_path, ca, name="other.example")]
        )
    (problem,) = error.value.problems
    assert f"none of the names ['{SERVER_NAME}']" in problem


def test_a_malformed_partner_option_is_a_usage_error(
    rendered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_status:
        rehearse_main([str(rendered), "--partner", f"{HOST}=only-a-cert.pem"])
    assert exit_status.value.code == 2
    assert "expected HOST=CERT.pem,KEY.pem" in capsys.readouterr().err

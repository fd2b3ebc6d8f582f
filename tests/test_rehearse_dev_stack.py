"""The rehearsal on the dev stack itself, as ``make rehearse`` runs it: the root program
rendered with private keys at the real clock, then real MySQL traffic and every refusal
case through HAProxy stand-ins for the two gateways."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshlink.offline.program import load_program
from meshlink.offline.rehearse import runner
from meshlink.offline.render import render_program

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.e2e
def test_the_dev_stack_carries_mysql_and_refuses_bad_clients(tmp_path: Path) -> None:
    out = tmp_path / "dev"
    # The real clock: a render at the golden clock holds certificates that have expired.
    render_program(load_program(ROOT, "dev"), out, include_private_keys=True)

    report = runner.rehearse(out, with_timing=False)

    assert [link.fqdn for link in report.links] == ["mysql.link.internal.example.com"]
    link = report.links[0]
    failures = [case for case in link.cases if not case.passed]
    assert failures == []
    assert link.positive is not None and link.positive.passed
    assert link.positive.rows >= 1000
    assert link.positive.written_sha256 == link.positive.read_back_sha256
    refused = {case.case for case in link.cases if case.result == "refused"}
    assert len(refused) >= 9
    assert report.ok

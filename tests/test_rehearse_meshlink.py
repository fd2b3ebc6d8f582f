"""The rehearsal on what meshlink itself renders: a program declaring a two-service
``MeshLink`` (the one the mesh tests use), rendered offline with private keys.

The wiring test needs no server; the e2e one runs the whole rehearsal on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshlink.offline.program import Program
from meshlink.offline.rehearse import runner
from meshlink.offline.rehearse.render import load_render
from meshlink.offline.rehearse.wiring import WiringError, plan_links
from meshlink.offline.render import render_program

PROGRAM = """\
from tests.support.mesh import link_program

link_program(service_count=2)()
"""


def _render(tmp_path: Path, *, include_private_keys: bool) -> Path:
    directory = tmp_path / "program"
    directory.mkdir()
    main = directory / "__main__.py"
    main.write_text(PROGRAM)
    program = Program(directory, "rehearse-link", "test", main, {}, [])
    out = tmp_path / "render"
    # The real clock: certificates rendered for a fixed past date may have expired, and
    # the rehearsal (like any TLS stack) would rightly refuse them.
    render_program(program, out, include_private_keys=include_private_keys)
    return out


def test_meshlink_render_is_wired_for_every_service(tmp_path: Path) -> None:
    plans = plan_links(load_render(_render(tmp_path, include_private_keys=True)))
    assert len(plans) == 2
    for plan in plans:
        assert plan.sni == plan.fqdn and plan.server_names == [plan.fqdn]
        assert plan.client_cluster != plan.server_cluster
        assert plan.allowed_client_sans
        assert plan.min_version in {"TLSV1_2", "TLSV1_3"}
    assert len({p.link_port for p in plans}) == 2


def test_meshlink_render_without_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WiringError, match="render with --include-private-keys"):
        plan_links(load_render(_render(tmp_path, include_private_keys=False)))


@pytest.mark.e2e
def test_meshlink_render_carries_traffic_and_refuses_bad_clients(tmp_path: Path) -> None:
    report = runner.rehearse(_render(tmp_path, include_private_keys=True), with_timing=False)
    failures = [(link.fqdn, c) for link in report.links for c in link.cases if not c.passed]
    assert report.ok, failures
    assert len(report.links) == 2
    assert all(len(link.cases) >= 12 for link in report.links)

"""The whole rehearsal with real MariaDB and HAProxy processes on loopback.

Needs the Debian packages mariadb-server, mariadb-client and haproxy
(scripts/ensure-rehearsal-tools.sh). Without them the tests skip, except in CI
(``CI`` set), where a missing package is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshlink.offline import rehearse
from meshlink.offline.rehearse import runner
from tests.support.rehearsal_fixture import FixtureLink, write_render

pytestmark = pytest.mark.e2e

INGRESS_REFUSALS = {
    "no client certificate",
    "client certificate from another CA",
    "expired client certificate (real issuer)",
    "EKU serverAuth only (real issuer)",
    "plaintext TCP",
    "TLS 1.1 (minimum TLS 1.2)",
    "TLS 1.2 with CBC or non-ECDHE suites only",
    "client SAN not allowed (real issuer)",
    "SNI not among the Gateway's hosts",
}
EGRESS_REFUSALS = {
    "server certificate for another name (real issuer)",
    "server certificate from another CA",
}


def _work_dirs(temp_root: Path) -> set[str]:
    return {p.name for p in temp_root.glob("meshlink-*")}


def _children() -> set[int]:
    """Live processes whose parent is this test process."""
    me = str(os.getpid())
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Yields the temp root the test's rehearsals (and their child processes) use."""
    # A temp root of this test's own: another test run on the machine creates its own
    # work directories in the shared one. Short, because socket paths live under it.
    temp_root = Path(tempfile.mkdtemp(prefix="mlt-"))
    monkeypatch.setenv("TMPDIR", str(temp_root))
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    children = _children()
    try:
        yield temp_root
        assert _work_dirs(temp_root) == set(), "the work directory was not removed"
        assert _children() <= children, "a started process is still running"
    finally:
        shutil.rmtree(temp_root, ignore_errors=True)


def test_rehearsal_of_a_valid_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], leaves_nothing_behind: None
) -> None:
    fixture = write_render(tmp_path / "render", client_san="spiffe")
    status = rehearse.main([str(fixture.root), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 0, json.dumps(data, indent=2)
    assert data["ok"] is True
    [link] = data["links"]

    positive = link["positive"]
    assert positive["passed"] and positive["rows"] == runner.ROWS
    assert positive["written_sha256"] == positive["read_back_sha256"] == positive["direct_sha256"]
    assert positive["sessions_through_ingress"] >= 2
    assert positive["client_identity"] == fixture.client_san

    cases = {(c["side"], c["case"]): c for c in link["cases"]}
    for side, names in (("ingress", INGRESS_REFUSALS), ("egress", EGRESS_REFUSALS)):
        for name in names:
            case = cases[(side, name)]
            assert (case["result"], case["passed"]) == ("refused", True), case
    controls = [c for c in link["cases"] if c["expected"] == "accepted"]
    assert len(controls) == 2 and all(c["result"] == "accepted" for c in controls)
    assert len(cases) == len(INGRESS_REFUSALS) + len(EGRESS_REFUSALS) + 2

    # Refused for the reason the case is about, as the gateway logged it.
    assert (
        "X509 error 10"
        in cases[("ingress", "expired client certificate (real issuer)")]["evidence"]
    )
    assert "X509 error 26" in cases[("ingress", "EKU serverAuth only (real issuer)")]["evidence"]
    assert "unknown ca" in cases[("egress", "server certificate from another CA")]["evidence"]

    timing = data["timing"]
    for key in ("connection_setup", "query_latency", "handshake"):
        assert timing[key]["ratio"] > 0 and timing[key]["samples"] > 0
    assert "RSA-2048" in timing["handshake"]["subject"]
    assert "ECDSA P-256" in timing["handshake"]["baseline"]
    for port in link["listeners"].values():
        assert not _listening(port)


def test_rehearsal_of_two_links_with_dns_client_identity_and_tls_1_3(
    tmp_path: Path, leaves_nothing_behind: None
) -> None:
    fixture = write_render(
        tmp_path / "render",
        client_san="dns",
        min_protocol_version="TLSV1_3",
        links=[
            FixtureLink(),
            FixtureLink("pg", "pg.link.example.internal", 15432, "pg.db.svc.cluster.local", 5432),
        ],
    )
    report = runner.rehearse(fixture.root, with_timing=False)
    failures = [(link.fqdn, c) for link in report.links for c in link.cases if not c.passed]
    assert report.ok, failures
    assert [link.fqdn for link in report.links] == [
        "mysql.link.example.internal",
        "pg.link.example.internal",
    ]
    for link in report.links:
        assert link.positive is not None and link.positive.client_identity == fixture.client_san
        assert link.positive.tls_version == "TLSv1.3"
        versions = {c.case: c.result for c in link.cases if c.case.startswith("TLS 1.")}
        assert versions == {
            "TLS 1.1 (minimum TLS 1.3)": "refused",
            "TLS 1.2 (minimum TLS 1.3)": "refused",
        }


def test_a_permissive_gateway_fails_the_rehearsal(
    tmp_path: Path, leaves_nothing_behind: None
) -> None:
    """The refusal cases are not vacuous: a Gateway that allows any client identity and
    TLS 1.0 makes exactly those two cases fail."""
    fixture = write_render(tmp_path / "render", min_protocol_version="TLSV1_0")
    fixture.edit("server_gateway", lambda d: d["spec"]["servers"][0]["tls"].pop("subjectAltNames"))
    report = runner.rehearse(fixture.root, with_timing=False)
    assert not report.ok
    [link] = report.links
    failed = {c.case: c.result for c in link.cases if not c.passed}
    assert failed == {
        "TLS 1.1 (minimum TLS 1.0)": "permitted",
        "client SAN not allowed (real issuer)": "accepted",
    }
    assert link.positive is not None and link.positive.passed


def test_a_gateway_without_pinned_suites_fails_the_rehearsal(
    tmp_path: Path, leaves_nothing_behind: None
) -> None:
    """Without cipherSuites the proxy's defaults decide, and they accept CBC suites: the
    case that offers only those fails, and nothing else does."""
    fixture = write_render(tmp_path / "render", cipher_suites=())
    report = runner.rehearse(fixture.root, with_timing=False)
    assert not report.ok
    [link] = report.links
    failed = {c.case: c.result for c in link.cases if not c.passed}
    assert failed == {"TLS 1.2 with CBC or non-ECDHE suites only": "accepted"}
    assert link.positive is not None and link.positive.passed


def test_everything_stops_when_a_check_crashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaves_nothing_behind: None
) -> None:
    fixture = write_render(tmp_path / "render")
    seen: dict[str, int] = {}

    def crash(db: runner.MariaDB, layout: object, log: object, **_: object) -> None:
        seen["mariadb"] = db.port
        assert _listening(db.port)
        raise RuntimeError("boom")

    monkeypatch.setattr(runner, "positive_check", crash)
    with pytest.raises(RuntimeError, match="boom"):
        runner.rehearse(fixture.root, with_timing=False)
    assert not _listening(seen["mariadb"])


def test_sigterm_stops_everything(tmp_path: Path, leaves_nothing_behind: Path) -> None:
    """A rehearsal stopped from outside (CI cancelling a job) cleans up after itself."""
    fixture = write_render(tmp_path / "render")
    before = _work_dirs(leaves_nothing_behind)
    command = subprocess.Popen(
        [sys.executable, "-m", "meshlink.offline.rehearse", str(fixture.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert command.stderr is not None
        for line in command.stderr:
            if "rehearsing" in line:
                break
        started = _work_dirs(leaves_nothing_behind) - before
        assert len(started) == 1
        servers = _descendants(command.pid)
        assert servers, "the rehearsal had started its servers"
        command.send_signal(signal.SIGTERM)
        assert command.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert not (leaves_nothing_behind / started.pop()).exists()
    assert not [pid for pid in servers if _alive(pid)]


def _descendants(pid: int) -> set[int]:
    """Processes started by ``pid`` (they lead their own sessions, so by parent id)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

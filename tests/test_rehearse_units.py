"""The rehearsal's parts that need no running server: certificates minted for the
negative cases, HAProxy configuration and log reading, the report, the command's exit
statuses."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from meshlink.offline import rehearse
from meshlink.offline.rehearse import haproxy as hp
from meshlink.offline.rehearse import minting, pki, runner
from meshlink.offline.rehearse.processes import ToolsMissingError
from meshlink.offline.rehearse.render import load_render
from meshlink.offline.rehearse.report import to_json, to_text
from meshlink.offline.rehearse.wiring import LinkPlan, plan_links
from tests.support.rehearsal_fixture import SPIFFE_CLIENT, FixtureRender, write_render


@pytest.fixture
def fixture(tmp_path: Path) -> FixtureRender:
    return write_render(tmp_path / "render")


@pytest.fixture
def plan(fixture: FixtureRender) -> LinkPlan:
    return plan_links(load_render(fixture.root))[0]


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, InvalidSignature):
        return False
    return True


def _usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_negative_certificates_differ_from_the_real_ones_in_one_way(plan: LinkPlan) -> None:
    now = dt.datetime.now(dt.UTC)
    minted = runner.mint_negatives(plan, now=now)
    issuer = plan.client_issuer.certificate
    client_sans = pki.subject_alt_names(plan.client.leaf)

    expired = minted.expired_client.leaf
    assert _issued_by(expired, issuer)
    assert expired.not_valid_after_utc < now
    assert pki.subject_alt_names(expired) == client_sans
    assert _usages(expired) == [pki.CLIENT_AUTH]

    server_auth = minted.server_auth_client.leaf
    assert _issued_by(server_auth, issuer)
    assert _usages(server_auth) == [pki.SERVER_AUTH]
    assert pki.subject_alt_names(server_auth) == client_sans

    unlisted = minted.unlisted_san_client.leaf
    assert _issued_by(unlisted, issuer)
    assert pki.subject_alt_names(unlisted) == [minted.unlisted_san]
    assert minted.unlisted_san not in plan.allowed_client_sans
    assert minted.unlisted_san.startswith("spiffe://client.link.example.internal/")

    other = minted.other_ca_client.leaf
    assert not _issued_by(other, issuer)
    assert pki.subject_alt_names(other) == client_sans

    wrong_name = minted.wrong_name_server.leaf
    assert _issued_by(wrong_name, plan.server_issuer.certificate)
    assert pki.subject_alt_names(wrong_name) == [minted.wrong_name]
    assert minted.wrong_name not in plan.server_names

    other_server = minted.other_ca_server.leaf
    assert not _issued_by(other_server, plan.server_issuer.certificate)
    assert pki.subject_alt_names(other_server) == plan.server_names

    # The chains keep the real intermediates, so only the leaf is at fault.
    assert minted.expired_client.chain[1:] == plan.client.chain[1:]


def test_openssl_refuses_what_the_wiring_check_refuses(plan: LinkPlan) -> None:
    minted = runner.mint_negatives(plan)
    server = pki.server_context(plan.server, verify_client=True)
    accepted = pki.handshake_in_memory(
        server, pki.client_context(plan.client, trust=plan.client), server_name=plan.sni
    )
    assert accepted.ok
    refused = pki.handshake_in_memory(
        server, pki.client_context(minted.other_ca_client, trust=None), server_name=plan.sni
    )
    assert refused.server_error is not None
    assert "unable to get local issuer certificate" in refused.server_error


def test_dns_name_matching_is_one_label_wildcard() -> None:
    assert pki.dns_name_matches("*.example.com", "db.example.com")
    assert not pki.dns_name_matches("*.example.com", "a.db.example.com")
    assert not pki.dns_name_matches("*.example.com", "example.com")
    assert pki.dns_name_matches("DB.example.com.", "db.example.com")


def test_ip_sans_compare_by_value() -> None:
    assert pki.normalise_san("::1") == pki.normalise_san("0:0:0:0:0:0:0:1")
    assert pki.normalise_san("spiffe://a/b") == "spiffe://a/b"


def test_log_lines_are_read_back_with_quoted_values() -> None:
    line = (
        "meshlink event=error side=ingress link=link0_ingress client=127.0.0.1:4242 "
        'error="SSL handshake failure" ssl_error="error:0A0000C7:SSL routines::x y" '
        "cert_error=10 sni=-"
    )
    assert hp.parse_log_line(line) == {
        "event": "error",
        "side": "ingress",
        "link": "link0_ingress",
        "client": "127.0.0.1:4242",
        "error": "SSL handshake failure",
        "ssl_error": "error:0A0000C7:SSL routines::x y",
        "cert_error": "10",
        "sni": "",
    }
    assert hp.parse_log_line("[WARNING] something else") is None


def test_allowed_sans_reach_lua_only_hex_encoded() -> None:
    hostile = 'spiffe://x/"] = true } os.exit() --'
    lua = hp.render_client_san_lua({"link0_ingress": [hostile, "::1"]})
    assert hostile not in lua
    table = re.search(r'\["link0_ingress"\] = \{ (.*) \}', lua)
    assert table is not None
    decoded = [bytes.fromhex(h).decode() for h in re.findall(r'"([0-9a-f]+)"', table.group(1))]
    assert decoded == [hostile, "0000:0000:0000:0000:0000:0000:0000:0001"]


def test_ingress_config_maps_istio_settings(tmp_path: Path) -> None:
    frontend = hp.IngressFrontend(
        name="link0_ingress",
        port=4000,
        crt_list=tmp_path / "server.crtlist",
        ca_file=tmp_path / "ca.pem",
        min_version="TLSV1_3",
        max_version="TLSV1_3",
        backend_port=4001,
        hosts=("mysql.link.example.internal",),
        cipher_suites=("ECDHE-ECDSA-AES128-GCM-SHA256",),
    )
    text = hp.HaproxyConfig(lua=tmp_path / "san.lua", ingress=[frontend]).text()
    bind = next(line for line in text.splitlines() if "bind 127.0.0.1:4000" in line)
    assert "strict-sni" in bind
    assert "verify required" in bind
    assert "ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3" in bind
    assert "ciphers ECDHE-ECDSA-AES128-GCM-SHA256" in bind

    wildcard = hp.HaproxyConfig(
        ingress=[frontend.__class__(**{**frontend.__dict__, "hosts": ("*",)})]
    )
    assert "strict-sni" not in wildcard.text()
    assert hp.crt_list_line(tmp_path / "s.pem", ["*"]) == f"{tmp_path / 's.pem'}\n"


def test_values_that_would_need_quoting_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be written into an HAProxy configuration"):
        hp.crt_list_line(tmp_path / "s.pem", ["bad host"])


def test_unlisted_identity_stays_outside_the_allowed_list(plan: LinkPlan) -> None:
    plan.allowed_client_sans = [
        SPIFFE_CLIENT,
        "spiffe://client.link.example.internal/ns/intruder/sa/intruder",
    ]
    identity = minting._unlisted_identity(plan)
    assert identity not in plan.allowed_client_sans
    assert identity.startswith("spiffe://client.link.example.internal/ns/intruder-1/")


def _report(passed: bool) -> runner.RehearsalReport:
    link = runner.LinkResult(
        fqdn="mysql.link.example.internal",
        sni="mysql.link.example.internal",
        client_cluster="client",
        server_cluster="server",
        destination_rule="dr",
        egress_gateway="egw",
        client_secret="cs",
        gateway="gw",
        server_secret="ss",
        virtual_service="vs",
        target="mysql:3306",
        link_port=13306,
        min_version="TLSV1_2",
        allowed_client_sans=[SPIFFE_CLIENT],
        server_names=["mysql.link.example.internal"],
        listeners={"ingress": 1},
        positive=runner.PositiveResult(3, "a", "a", "a", 2, "TLSv1.3", "x", True, "ok"),
        cases=[
            runner.CaseResult("ingress", "no client certificate", "refused", "refused", "e", True),
            runner.CaseResult(
                "ingress",
                "plaintext TCP",
                "refused",
                "accepted" if not passed else "refused",
                "e2",
                passed,
            ),
        ],
    )
    return runner.RehearsalReport("dir", [link], None, ["note"], {"haproxy": "2.6"})


def test_one_failing_case_fails_the_report() -> None:
    good, bad = _report(True), _report(False)
    assert good.ok and not bad.ok
    text = to_text(bad)
    row = next(line for line in text.splitlines() if "plaintext TCP" in line)
    assert row.split()[-2:] == ["accepted", "FAIL"]
    assert text.rstrip().endswith("result: FAIL")
    data = json.loads(to_json(bad))
    assert data["ok"] is False and data["links"][0]["passed"] is False
    assert json.loads(to_json(good))["ok"] is True


def test_cli_refuses_broken_wiring_with_status_2(
    fixture: FixtureRender, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture.remove("server_secret")
    assert rehearse.main([str(fixture.root)]) == 2
    assert "mysql-link-server" in capsys.readouterr().err
    assert rehearse.main([str(fixture.root), "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["error"] == "wiring"
    assert any("mysql-link-server" in p for p in data["problems"])


def test_cli_reports_missing_programs_with_status_3(
    fixture: FixtureRender, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> None:
        raise ToolsMissingError("not installed: haproxy")

    monkeypatch.setattr(runner, "find_tools", missing)
    assert rehearse.main([str(fixture.root)]) == 3
    assert "not installed: haproxy" in capsys.readouterr().err


def test_cli_refuses_a_directory_that_is_not_a_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rehearse.main([str(tmp_path)]) == 2
    assert "no kubernetes/ folder" in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_started_processes_die_with_a_killed_rehearsal(tmp_path: Path) -> None:
    """Even SIGKILL, which runs no clean-up, leaves no started program behind."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from meshlink.offline.rehearse.processes import ManagedProcess\n"
        f"p = ManagedProcess('sleep', ['sleep', '30'], Path({str(tmp_path)!r}) / 'log', "
        f"Path({str(tmp_path)!r}))\n"
        "p.__enter__()\n"
        "print(p.process.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == -signal.SIGKILL
    child = int(result.stdout.strip())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            break
        time.sleep(0.05)
    alive = Path(f"/proc/{child}").exists() and (
        Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    )
    assert not alive, "the child outlived the killed parent"

"""User mistakes at the command line: each one exit code 2 and one message naming the
key or flag, no traceback, and nothing of a secret repeated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import meshlink
from meshlink.cli import main
from meshlink.offline import render as render_module

PROGRAM = Path(__file__).parent / "programs" / "render_contract"
NOW = "2026-01-01T00:00:00Z"
SECRET_TEXT = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"


def _render(out: Path, *extra: str, program: Path = PROGRAM, stack: str = "test") -> list[str]:
    return ["render", str(program), "--stack", stack, "--out", str(out), "--now", NOW, *extra]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _own_program(tmp_path: Path, main_py: str, stack_yaml: str) -> Path:
    program = tmp_path / "own"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: own\nruntime: python\n")
    (program / "__main__.py").write_text(main_py)
    (program / "Pulumi.t.yaml").write_text(stack_yaml)
    return program


def _one_message(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    return "\n".join(lines)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"meshlink {meshlink.__version__}"


def test_config_given_as_a_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = _own_program(tmp_path, "", "config:\n  - a\n  - b\n")
    assert main(_render(tmp_path / "out", program=program, stack="t")) == 2
    captured = capsys.readouterr()
    message = _one_message(captured.err)
    assert "Pulumi.t.yaml: config: expected a mapping" in message
    assert captured.out == ""
    assert not (tmp_path / "out").exists()


def test_a_missing_required_key_of_a_users_program(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = _own_program(
        tmp_path, "import pulumi\npulumi.Config().require('zone')\n", "config: {}\n"
    )
    assert main(_render(tmp_path / "out", program=program, stack="t")) == 2
    captured = capsys.readouterr()
    assert _one_message(captured.err).endswith(
        "meshlink render: configuration: own:zone: is required"
    )
    assert captured.out == ""


def test_an_ill_typed_secret_key_is_named_not_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = _own_program(
        tmp_path,
        "import pulumi\npulumi.Config().require_secret_int('port')\n",
        "config:\n  own:port:\n    secure: v1:AAAA:x\n",
    )
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"own:port: {SECRET_TEXT}\n")
    code = main(_render(tmp_path / "out", "--secrets", str(secrets), program=program, stack="t"))
    err = capsys.readouterr().err
    assert code == 2
    assert "own:port: expected a value of type int" in _one_message(err)
    assert SECRET_TEXT not in err


@pytest.mark.parametrize(
    "content",
    [
        f"-----BEGIN PRIVATE KEY-----\n{SECRET_TEXT}: x: y\n  broken: [\n",
        f"- {SECRET_TEXT}\n",
        f"render-contract:token: [{SECRET_TEXT}]\n",
        f"{SECRET_TEXT}\n",
    ],
    ids=["not-yaml", "a-list", "a-non-string-value", "a-bare-string"],
)
def test_a_malformed_secrets_file_is_never_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(content)
    assert main(_render(tmp_path / "out", "--secrets", str(secrets))) == 2
    captured = capsys.readouterr()
    message = _one_message(captured.err)
    assert message.startswith(f"meshlink render: secrets file {secrets}:")
    for fragment in (SECRET_TEXT, SECRET_TEXT[:12], "BEGIN", "broken"):
        assert fragment not in captured.err + captured.out
    assert not (tmp_path / "out").exists()


def test_a_bad_clock_names_the_flag_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["render", str(PROGRAM), "--stack", "test", "--out", "x", "--now", "yesterday"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("--now:") == 1
    assert "'yesterday' is not an ISO 8601 time" in err


def test_progress_on_stderr_results_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_render(tmp_path / "out")) == 0
    captured = capsys.readouterr()
    assert "meshlink render: program" in captured.err
    assert "meshlink render: program" not in captured.out
    assert "written to" in captured.out


def test_a_failing_run_prints_nothing_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_render(tmp_path / "out", stack="nope")) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Pulumi.nope.yaml" in _one_message(captured.err)


def test_rehearse_help_says_it_needs_keys(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["rehearse", "--help"])
    assert "--include-private-keys" in capsys.readouterr().out


# ---------------------------------------------------------------- atomic render


def _fail_at_the_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails after every manifest, certificate and key has been written."""

    def boom(*args: object, **kwargs: object) -> None:
        raise render_module.RenderError("summary failed")

    monkeypatch.setattr(render_module, "write_summary", boom)


def test_a_failed_render_leaves_a_new_target_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fail_at_the_summary(monkeypatch)
    assert main(_render(tmp_path / "out")) == 2
    assert "summary failed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_failed_render_leaves_an_existing_target_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert main(_render(out)) == 0
    (out / "reviewer-notes.md").write_text("kept")
    before = _tree(out)
    assert before
    _fail_at_the_summary(monkeypatch)
    assert main(_render(out, "--now", "2027-06-01T00:00:00Z")) == 2
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_second_render_replaces_the_first_in_full(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(_render(out)) == 0
    (out / "stale.yaml").write_text("from an earlier render")
    assert main(_render(out)) == 0
    assert not (out / "stale.yaml").exists()
    assert (out / "summary.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ---------------------------------------------------------------- secret config values

ROOT = Path(__file__).resolve().parent.parent


def _dev_copy(tmp_path: Path, secret: dict[str, object], **changes: object) -> list[str]:
    """The dev stack with ``secret`` keys made ``secure:`` (their values in a secrets
    file) and ``changes`` applied; the render command for it."""
    program = tmp_path / "dev"
    program.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (program / name).write_text((ROOT / name).read_text())
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"].update({f"meshlink:{k}": v for k, v in changes.items()})
    secrets = {}
    for key, value in secret.items():
        stack["config"][f"meshlink:{key}"] = {"secure": "v1:AAAA:encrypted"}
        secrets[f"meshlink:{key}"] = value if isinstance(value, str) else json.dumps(value)
    (program / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    (tmp_path / "secrets.yaml").write_text(yaml.safe_dump(secrets))
    return _render(
        tmp_path / "out", "--secrets", str(tmp_path / "secrets.yaml"), program=program, stack="dev"
    )


def test_a_bad_secret_link_name_is_not_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_dev_copy(tmp_path, {"link_name": "Sekrit_Link"})) == 2
    err = capsys.readouterr().err
    assert "meshlink:link_name:" in _one_message(err)
    assert "Sekrit" not in err


def test_a_bad_secret_fleet_project_is_not_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_dev_copy(tmp_path, {"fleet_project": "Hidden_Fleet_Project"})) == 2
    err = capsys.readouterr().err
    assert "meshlink:fleet_project:" in _one_message(err)
    assert "Hidden_Fleet" not in err


def test_cross_key_checks_do_not_quote_secret_services(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    services = stack["config"]["meshlink:services"]
    services[0]["target_host"] = "mysql.hidden-namespace-x.svc.cluster.local"
    assert main(_dev_copy(tmp_path, {"services": services})) == 2
    err = capsys.readouterr().err
    message = _one_message(err)
    assert "meshlink:services[0].target_host:" in message
    assert "hidden-namespace-x" not in err


def test_a_gateway_in_a_demo_namespace_fails_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = _dev_copy(tmp_path, {}, gateways={"ingress": {"namespace": "demo-db"}})
    assert main(command) == 2
    message = _one_message(capsys.readouterr().err)
    assert "meshlink:gateways.ingress.namespace: 'demo-db' is also meshlink:demo" in message
    assert not (tmp_path / "out").exists()


def test_a_private_zone_shadowing_google_apis_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    services = stack["config"]["meshlink:services"]
    services[0]["fqdn"] = "mysql.googleapis.com"
    dns = {**stack["config"]["meshlink:dns"], "zone": "googleapis.com"}
    command = _dev_copy(
        tmp_path,
        {},
        services=services,
        dns=dns,
        client_identity={"dns_name": "client.googleapis.com"},
    )
    assert main(command) == 2
    message = _one_message(capsys.readouterr().err)
    assert "meshlink:dns.zone: 'googleapis.com' would shadow googleapis.com" in message
    assert not (tmp_path / "out").exists()

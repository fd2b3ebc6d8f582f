"""The render layout contract, on a small program that declares one object of each kind."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from meshlink.cli import main
from meshlink.offline.program import ProgramError, load_program
from meshlink.offline.render import REDACTED, RenderError, render_program

PROGRAM = Path(__file__).parent / "programs" / "render_contract"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _load(path: Path) -> dict:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_objects_land_in_their_cluster_and_namespace(tmp_path: Path) -> None:
    program = load_program(PROGRAM, "test")
    result = render_program(program, tmp_path / "out", now=NOW)

    assert result.objects_per_cluster() == {"client": 4, "server": 4}
    for cluster in ("client", "server"):
        base = tmp_path / "out" / "kubernetes" / cluster
        namespace = _load(base / "_cluster" / "namespace-team-a.yaml")
        assert namespace["kind"] == "Namespace"
        settings = _load(base / "team-a" / "configmap-settings.yaml")
        assert settings["metadata"]["labels"] == {"app": "demo"}
        assert settings["data"]["greeting"] == "hello"  # Pulumi.yaml default
        assert settings["data"]["replicas"] == "2"
        assert settings["data"]["address"].startswith("<placeholder: output address")
        patch = _load(base / "gateways" / "service-existing-gateway.patch.yaml")
        assert patch["spec"]["ports"] == [{"name": "tls-link", "port": 13306}]


def test_secrets_are_redacted_without_the_flag(tmp_path: Path) -> None:
    program = load_program(PROGRAM, "test")
    result = render_program(program, tmp_path / "out", now=NOW)

    secret = _load(tmp_path / "out" / "kubernetes" / "client" / "team-a" / "secret-credential.yaml")
    assert set(secret["stringData"]) == {"tls.key", "token", "password"}
    assert set(secret["stringData"].values()) == {REDACTED}
    for text in _tree(tmp_path / "out").values():
        assert b"PRIVATE KEY" not in text
    assert any("render-contract:token" in w for w in result.warnings)
    assert any("org/upstream/test" in w for w in result.warnings)


def test_secrets_are_real_with_the_flag(tmp_path: Path) -> None:
    program = load_program(
        PROGRAM, "test", secrets={"render-contract:token": "from the secrets file"}
    )
    render_program(program, tmp_path / "out", now=NOW, include_private_keys=True)

    secret = _load(tmp_path / "out" / "kubernetes" / "server" / "team-a" / "secret-credential.yaml")
    assert secret["stringData"]["tls.key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert secret["stringData"]["token"] == "from the secrets file"
    assert secret["stringData"]["password"].startswith("<placeholder: output password")


def test_two_renders_are_byte_identical(tmp_path: Path) -> None:
    program = load_program(PROGRAM, "test")
    render_program(program, tmp_path / "a", now=NOW)
    render_program(program, tmp_path / "b", now=NOW)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_given_stack_outputs_replace_placeholders(tmp_path: Path) -> None:
    program = load_program(PROGRAM, "test")
    result = render_program(
        program,
        tmp_path / "out",
        now=NOW,
        stack_references={"org/upstream/test": {"address": "203.0.113.7", "password": "pw"}},
        secret_stack_outputs={"org/upstream/test": frozenset({"password"})},
    )
    settings = _load(
        tmp_path / "out" / "kubernetes" / "client" / "team-a" / "configmap-settings.yaml"
    )
    assert settings["data"]["address"] == "203.0.113.7"
    assert not any("org/upstream/test" in w for w in result.warnings)


def test_refuses_to_write_over_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(RenderError, match="not written by meshlink render"):
        render_program(load_program(PROGRAM, "test"), tmp_path / "out", now=NOW)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_unknown_stack_is_a_clear_error() -> None:
    with pytest.raises(ProgramError, match=r"Pulumi\.nope\.yaml"):
        load_program(PROGRAM, "nope")


def test_cli_render_reports_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "render",
            str(PROGRAM),
            "--stack",
            "test",
            "--out",
            str(tmp_path / "out"),
            "--now",
            "2026-01-01T00:00:00Z",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "cluster client: 4 Kubernetes objects" in captured.out
    assert "placeholder" in captured.err


def test_cli_rejects_a_bad_clock(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["render", str(PROGRAM), "--stack", "test", "--out", "x", "--now", "yesterday"])
    assert "--now" in capsys.readouterr().err


def test_only_the_programs_own_modules_are_forgotten(tmp_path: Path) -> None:
    """The project's virtualenv usually sits inside the program directory: its packages
    must stay loaded, or resources still registering after the program returns break."""
    from meshlink.offline.program import _is_program_local

    venv_module = (
        tmp_path / ".venv" / "lib" / "python3.11" / "site-packages" / "pulumi_tls" / "x.py"
    )
    assert _is_program_local("helpers", str(tmp_path / "helpers.py"), tmp_path)
    assert not _is_program_local("pulumi_tls.x", str(venv_module), tmp_path)
    assert not _is_program_local("meshlink.mesh", str(tmp_path / "meshlink" / "mesh.py"), tmp_path)
    assert not _is_program_local("elsewhere", "/usr/lib/python3/elsewhere.py", tmp_path)

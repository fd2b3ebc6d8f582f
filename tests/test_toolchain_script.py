"""``scripts/toolchain.sh``: the cache is keyed by every pinned version, and a machine without
Go gets one clear message instead of a failed build."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.toolchain import REPOSITORY

SCRIPT = REPOSITORY / "scripts" / "toolchain.sh"


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPOSITORY / "toolchain" / "versions.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            pins[key] = value.strip('"')
    return pins


def _env(cache: Path) -> dict[str, str]:
    printed = subprocess.run(
        ["bash", str(SCRIPT), "env"],
        env={**os.environ, "MESHLINK_TOOLCHAIN_CACHE": str(cache)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in printed.splitlines())


def test_every_piece_lives_in_the_cache_under_its_own_pinned_version(tmp_path: Path) -> None:
    pins = _pins()
    env = _env(tmp_path)
    assert env["MESHLINK_PULUMI_BIN"] == f"{tmp_path}/pulumi-{pins['PULUMI_VERSION']}/bin"
    assert env["MESHLINK_KUBERNETES_PROVIDER_BIN"] == (
        f"{tmp_path}/pulumi-resource-kubernetes-{pins['KUBERNETES_PROVIDER_VERSION']}/bin"
    )
    assert (
        env["MESHLINK_KUBERNETES_BIN"] == f"{tmp_path}/kubernetes-{pins['KUBERNETES_VERSION']}/bin"
    )
    assert env["MESHLINK_ETCD_BIN"] == f"{tmp_path}/etcd-{pins['ETCD_VERSION']}/bin"
    crd_versions = pins["ISTIO_API_VERSIONS"].split()
    assert env["MESHLINK_ISTIO_CRDS"] == f"{tmp_path}/istio-crds-{'_'.join(crd_versions)}"
    assert env["MESHLINK_ISTIO_CRD_SETS"].strip('"').split() == crd_versions
    # Nothing outside the cache, nothing in the work tree.
    assert all(value.startswith((str(tmp_path), '"')) for value in env.values())


def test_without_go_it_says_so_and_builds_nothing(tmp_path: Path) -> None:
    """A PATH holding only the shell tools the script uses, and no ``go``."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "dirname", "date", "tr", "nproc"):
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    result = subprocess.run(
        [str(tools / "bash"), str(SCRIPT)],
        env={
            "PATH": str(tools),
            "HOME": str(tmp_path),
            "MESHLINK_TOOLCHAIN_CACHE": str(tmp_path / "c"),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Go is not installed" in result.stderr
    assert not (tmp_path / "c").exists()

"""The install extras: the core install imports and runs without any extra, and a feature
whose extra is missing fails up front with the ``pip install`` line to run.

A missing extra is simulated in a child interpreter whose import system refuses the extra's
modules, so these tests need no second virtualenv.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from meshlink.extras import EXTRA_MODULES, MissingExtraError, require_extra

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEV_STACK_DIR = ROOT

# The distributions each extra's modules come from (module name -> distribution name).
DISTRIBUTION_OF_MODULE = {
    "pulumi_gcp": "pulumi-gcp",
    "pulumi_random": "pulumi-random",
    "kubernetes": "kubernetes",
    "bcrypt": "bcrypt",
}


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(line).name for line in requirements}


def _blocked_python(blocked: list[str], body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a child interpreter where importing any of ``blocked`` fails as it
    would when the distribution is not installed."""
    prelude = f"""
        import importlib.abc, importlib.machinery, sys
        BLOCKED = {sorted(blocked)!r}

        class NotInstalled(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, NotInstalled())
        _find_spec = importlib.util.find_spec
        def find_spec(name, package=None):
            if name.split(".")[0] in BLOCKED:
                return None
            return _find_spec(name, package)
        importlib.util.find_spec = find_spec
    """
    code = "import importlib.util\n" + textwrap.dedent(prelude) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_every_extra_installs_the_distributions_of_its_modules() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    for extra, modules in EXTRA_MODULES.items():
        declared = _names(extras[extra])
        wanted = {DISTRIBUTION_OF_MODULE[module] for module in modules}
        assert wanted <= declared, f"extra {extra!r} misses {sorted(wanted - declared)}"


def test_the_core_install_holds_no_extra() -> None:
    core = _names(PYPROJECT["project"]["dependencies"])
    in_extras = {DISTRIBUTION_OF_MODULE[m] for modules in EXTRA_MODULES.values() for m in modules}
    assert not core & in_extras, f"core dependencies hold {sorted(core & in_extras)}"


def test_the_dev_extra_holds_every_extra() -> None:
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    included = set()
    for line in dev:
        requirement = Requirement(line)
        if requirement.name == "meshlink":
            included |= requirement.extras
    assert included == set(EXTRA_MODULES)


def test_the_core_packages_import_and_build_a_link_without_any_extra() -> None:
    every_extra_module = [m for modules in EXTRA_MODULES.values() for m in modules]
    result = _blocked_python(
        every_extra_module,
        """
        import pkgutil, sys
        import meshlink.istio, meshlink.mesh, meshlink.pki
        for package in (meshlink.istio, meshlink.mesh, meshlink.pki):
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                __import__(module.name)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print("LOADED", loaded)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


@pytest.mark.parametrize(
    ("blocked", "body", "extra"),
    [
        (["pulumi_gcp"], "import meshlink.gcp", "gcp"),
        (["pulumi_random"], "import meshlink.gcp.cluster", "gcp"),
        (["bcrypt"], "import meshlink.offline.random_emulation", "offline"),
    ],
)
def test_a_missing_extra_names_the_pip_line(blocked: list[str], body: str, extra: str) -> None:
    result = _blocked_python(blocked, body)
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("meshlink.extras.MissingExtraError"), result.stderr
    assert f"pip install 'meshlink[{extra}]'" in last_line


def test_a_polling_readiness_gate_needs_the_readiness_extra_at_construction() -> None:
    result = _blocked_python(
        ["kubernetes"],
        """
        import pulumi
        from tests.support.mesh import run_link
        from meshlink.mesh.readiness import IstioCrdGate, IstioReadinessSettings

        def program():
            IstioCrdGate(
                "gate", cluster="server", kinds=["Gateway"],
                group_versions={"Gateway": "networking.istio.io/v1"},
                settings=IstioReadinessSettings(ambient=True),
            )

        try:
            run_link(program)
        except Exception as error:
            print("ERROR", type(error).__name__, error)
        """,
    )
    assert "ERROR" in result.stdout, result.stdout + result.stderr
    assert "pip install 'meshlink[readiness]'" in result.stdout
    assert "cluster 'server'" in result.stdout


def test_render_without_the_offline_extra_exits_2_with_one_line(tmp_path: Path) -> None:
    result = _blocked_python(
        ["bcrypt"],
        f"""
        import sys
        from meshlink.cli import main
        sys.exit(main(["render", {str(DEV_STACK_DIR)!r}, "--stack", "dev",
                       "--out", {str(tmp_path / "out")!r}]))
        """,
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("meshlink render:")]
    assert any("pip install 'meshlink[offline]'" in line for line in errors), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_require_extra_passes_when_installed_and_refuses_an_unknown_extra() -> None:
    require_extra("offline", "a test")  # bcrypt is installed here
    with pytest.raises(ValueError, match="unknown extra 'cloud'"):
        require_extra("cloud", "a test")
    assert issubclass(MissingExtraError, ImportError)


def test_the_dev_stack_installs_what_its_program_imports() -> None:
    lines = (ROOT / "requirements.txt").read_text().split()
    assert ".[gcp]" in lines, "the dev stack imports meshlink.gcp and the demo (pulumi-random)"

"""The packages and modules split for reading stay small enough to read, and the demo stays
a component any program can use: nothing it imports, directly or through other meshlink
modules, reaches the stack configuration. Read from the source with ``ast``, since
importing would only show what is already loaded."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
SMALL_PACKAGES = (
    "config",
    "demo",
    "istio/networking",
    "istio/values",
    "offline/rehearse/wiring",
    "offline/summary",
    "offline/tls_emulation",
)
SMALL_MODULES = tuple(
    f"offline/rehearse/{name}.py"
    for name in ("layout", "minting", "negatives", "positive", "results", "runner")
)


def _modules_of(package: str) -> list[Path]:
    return sorted((ROOT / "meshlink" / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _source_of(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_in(source: str, module: str, *, is_package: bool) -> set[str]:
    """The modules ``source`` (the text of ``module``) imports, relative imports resolved;
    ``from a import b`` counts ``a.b`` too, since ``b`` may be a module."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def meshlink_modules_loaded_by(module: str) -> set[str]:
    """Every meshlink module importing ``module`` runs, its parent packages included."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            path = _source_of(prefix)
            if prefix in seen or path is None:
                continue
            seen.add(prefix)
            imported = imports_in(path.read_text(), prefix, is_package=path.name == "__init__.py")
            pending.extend(m for m in imported if m.split(".")[0] == "meshlink")
    return seen


@pytest.mark.parametrize(
    "path",
    [
        *(path for package in SMALL_PACKAGES for path in _modules_of(package)),
        *(ROOT / "meshlink" / module for module in SMALL_MODULES),
    ],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_each_module_of_the_split_packages_and_modules_is_at_most_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


@pytest.mark.parametrize(
    ("package", "at_least"),
    [
        ("config", 8),
        ("demo", 3),
        ("istio/networking", 6),
        ("istio/values", 5),
        ("offline/rehearse/wiring", 5),
        ("offline/summary", 8),
        ("offline/tls_emulation", 5),
    ],
)
def test_each_split_package_is_a_package_of_several_modules(package: str, at_least: int) -> None:
    assert len(_modules_of(package)) >= at_least
    assert not (ROOT / "meshlink" / f"{package}.py").exists()


def test_the_demo_never_loads_the_stack_configuration() -> None:
    for path in _modules_of("demo"):
        loaded = meshlink_modules_loaded_by(_module_name(path))
        assert "meshlink.validation" in loaded  # the walk does follow the demo's imports
        reached = sorted(
            m for m in loaded if m == "meshlink.config" or m.startswith("meshlink.config.")
        )
        assert reached == [], f"{path.relative_to(ROOT)} loads {reached}"


def test_the_configuration_loads_the_demo_for_its_constants() -> None:
    """The opposite direction is the allowed one, and the walk finds it through a package
    ``__init__`` and an import of a submodule."""
    loaded = meshlink_modules_loaded_by("meshlink.config")
    assert {"meshlink.config.dev", "meshlink.demo", "meshlink.demo.settings"} <= loaded


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        ("import meshlink.config", "meshlink.demo.mysql", False, "meshlink.config"),
        ("from meshlink import config", "meshlink.demo.mysql", False, "meshlink.config"),
        ("from ..config import load_dev_config", "meshlink.demo.mysql", False, "meshlink.config"),
        ("from .. import config", "meshlink.demo.mysql", False, "meshlink.config"),
        ("from .mysql import MySqlDemo", "meshlink.demo", True, "meshlink.demo.mysql"),
    ],
)
def test_every_spelling_of_an_import_is_found(
    source: str, module: str, is_package: bool, expected: str
) -> None:
    assert expected in imports_in(source, module, is_package=is_package)

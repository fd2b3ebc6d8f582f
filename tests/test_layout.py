"""Every module and function of meshlink stays small enough to read (at most 400 lines a
module, 60 a function), the split packages stay split, and the demo stays a component any
program can use: nothing it imports, directly or through other meshlink modules, reaches
the stack configuration. Read from the source with ``ast``, since importing would only
show what is already loaded."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from meshlink.source import parse

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG_FUNCTIONS = {
    # Follows one origination through the rendered objects of both clusters, each step
    # already a function of its own; what is left is their order and the early returns.
    "offline/rehearse/wiring/__init__.py:_plan_one": "the order of the wiring checks",
}
"""``<module under meshlink/>:<qualified function name>`` still over MAX_FUNCTION_LINES,
each with why. Only ever shrinks: an entry that is short enough now fails the test."""
MODULES = sorted((ROOT / "meshlink").rglob("*.py"))


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
    for node in ast.walk(parse(source)):
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


def function_lengths(source: str) -> dict[str, int]:
    """The length in lines (``def`` to last line, decorators aside) of every function and
    method in ``source``, by qualified name (``Class.method``, ``outer.inner``)."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    assert child.end_lineno is not None
                    lengths[name] = child.end_lineno - child.lineno + 1
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(parse(source), "")
    return lengths


def _relative(path: Path) -> str:
    return path.relative_to(ROOT / "meshlink").as_posix()


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_each_module_is_at_most_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"meshlink/{_relative(path)} has {lines} lines"


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_each_function_is_at_most_60_lines_unless_listed(path: Path) -> None:
    too_long = {
        f"{_relative(path)}:{name}": lines
        for name, lines in function_lengths(path.read_text()).items()
        if lines > MAX_FUNCTION_LINES
    }
    unlisted = {name: lines for name, lines in too_long.items() if name not in LONG_FUNCTIONS}
    assert unlisted == {}, "split these functions into named steps"
    listed_here = {name for name in LONG_FUNCTIONS if name.startswith(f"{_relative(path)}:")}
    assert listed_here <= set(too_long), "short enough now: remove from LONG_FUNCTIONS"


def test_function_lengths_count_from_def_to_the_last_line_of_every_nesting() -> None:
    source = (
        "@decorator\n"
        "def top():\n"
        "    def inner():\n"
        "        pass\n"
        "    return inner\n"
        "class Owner:\n"
        "    async def method(self):\n"
        "        return 1\n"
    )
    assert function_lengths(source) == {"top": 4, "top.inner": 2, "Owner.method": 2}


def test_a_function_over_the_limit_is_found() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    assert function_lengths(f"def long():\n{body}") == {"long": MAX_FUNCTION_LINES + 1}


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

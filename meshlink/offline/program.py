"""Load a Pulumi project's program and stack configuration the way the CLI would.

The CLI reads ``Pulumi.yaml`` (project name, ``main``, declared config with defaults)
and ``Pulumi.<stack>.yaml`` (the stack's values), then hands the program every value as
a string (objects and arrays as JSON) under its fully qualified key. Values marked
``secure:`` are encrypted for the stack's secrets provider and cannot be decrypted here;
they come from a file the user names, or become clearly marked placeholders.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "<placeholder: secure config {key} is not available offline>"  # noqa: S105


class ProgramError(ValueError):
    """The program directory or its stack configuration cannot be loaded."""


@dataclass(frozen=True)
class Program:
    """A Pulumi program ready to run offline."""

    directory: Path
    project: str
    stack: str
    main: Path
    config: dict[str, str]
    secret_keys: list[str]
    warnings: list[str] = field(default_factory=list)


def _qualify(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ProgramError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise ProgramError(f"{path}: expected a mapping at the top level")
    return loaded


def _read_project(directory: Path) -> tuple[Path, dict[str, Any], str, Path]:
    """``Pulumi.yaml``: its path, its content, the project name and the entry point."""
    project_file = directory / "Pulumi.yaml"
    if not project_file.is_file():
        raise ProgramError(f"{directory}: no Pulumi.yaml; name a Pulumi program directory")
    project_doc = _read_yaml(project_file)
    project = str(project_doc.get("name") or "")
    if not project:
        raise ProgramError(f"{project_file}: the project has no name")
    main_setting = project_doc.get("main")
    main = directory / (main_setting or "")
    if main.is_dir() or not main_setting:
        main = main / "__main__.py"
    if not main.is_file():
        raise ProgramError(f"{project_file}: program entry point {main} does not exist")
    return project_file, project_doc, project, main


def _read_stack_values(directory: Path, stack: str) -> dict[str, Any]:
    """The ``config`` mapping of ``Pulumi.<stack>.yaml``, keys as written."""
    stack_file = directory / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise ProgramError(f"{directory}: no stack configuration Pulumi.{stack}.yaml")
    stack_values = _read_yaml(stack_file).get("config") or {}
    if not isinstance(stack_values, dict):
        raise ProgramError(
            f"{stack_file}: config: expected a mapping of keys to values "
            f"(found a {type(stack_values).__name__})"
        )
    return stack_values


def _declared_defaults(
    project_file: Path, project_doc: Mapping[str, Any], project: str
) -> dict[str, str]:
    """The defaults the project file declares, under their fully qualified keys."""
    declared = project_doc.get("config") or {}
    if not isinstance(declared, dict):
        raise ProgramError(
            f"{project_file}: config: expected a mapping of keys to declarations "
            f"(found a {type(declared).__name__})"
        )
    config: dict[str, str] = {}
    for key, declaration in declared.items():
        if isinstance(declaration, dict) and "default" in declaration:
            config[_qualify(key, project)] = _as_config_string(declaration["default"])
        elif not isinstance(declaration, dict):
            config[_qualify(key, project)] = _as_config_string(declaration)
    return config


def load_program(
    directory: Path, stack: str, *, secrets: Mapping[str, str] | None = None
) -> Program:
    """Read ``directory``'s project file and the stack's config file.

    ``secrets`` maps fully qualified keys to the plaintext of their ``secure:`` values.
    """
    directory = directory.resolve()
    project_file, project_doc, project, main = _read_project(directory)
    stack_values = _read_stack_values(directory, stack)
    config = _declared_defaults(project_file, project_doc, project)
    secret_keys: list[str] = []
    warnings: list[str] = []
    given_secrets = dict(secrets or {})
    for key, value in stack_values.items():
        qualified = _qualify(key, project)
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.append(qualified)
            if qualified in given_secrets:
                config[qualified] = given_secrets[qualified]
            else:
                config[qualified] = SECRET_PLACEHOLDER.format(key=qualified)
                warnings.append(
                    f"secure config {qualified} was not given (--secrets FILE); "
                    "a placeholder stands in for it"
                )
        else:
            config[qualified] = _as_config_string(value)
    return Program(directory, project, stack, main, config, secret_keys, warnings)


@contextlib.contextmanager
def _program_context(directory: Path) -> Iterator[None]:
    """Run with the program directory as working directory and first import path, as the
    CLI's language host does. Modules the program imported from its own directory are
    forgotten afterwards, so two programs with a same-named local module can run in one
    process; the meshlink package itself stays loaded."""
    previous_cwd = Path.cwd()
    previous_modules = set(sys.modules)
    sys.path.insert(0, str(directory))
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        sys.path.remove(str(directory))
        for name in set(sys.modules) - previous_modules:
            if _is_program_local(name, getattr(sys.modules[name], "__file__", None), directory):
                del sys.modules[name]


def _is_program_local(module: str, module_file: str | None, directory: Path) -> bool:
    """A module of the program's own, not meshlink and not an installed package (the
    project's virtualenv often lives inside the program directory)."""
    if not module_file or module.split(".")[0] == "meshlink":
        return False
    path = Path(module_file).resolve()
    installed = "site-packages" in path.parts or path.is_relative_to(Path(sys.prefix).resolve())
    return path.is_relative_to(directory) and not installed


def execute(program: Program) -> None:
    """Run the program's entry point; meant to be passed to ``run_program``."""
    with _program_context(program.directory):
        runpy.run_path(str(program.main), run_name="__main__")

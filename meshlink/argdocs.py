"""Argument documentation at run time: ``help(MeshLink)`` shows what each argument means.

The arguments are ``TypedDict``s whose fields carry attribute docstrings, which become the
schema descriptions for other languages but which Python keeps only in the source. This
module reads them from the source once, so the text is written in one place.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from meshlink.outputs import output_docs
from meshlink.source import class_node

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ClassT = TypeVar("ClassT", bound=type)


def _is_args(value: Any) -> bool:
    return isinstance(value, type) and hasattr(value, "__required_keys__")


def _fields(cls: type) -> Iterator[tuple[str, str, str]]:
    """``(name, annotation, docstring)`` of each field, bases' fields first."""
    node = class_node(cls)
    if node is None:
        return
    namespace = vars(sys.modules[cls.__module__])
    for base in node.bases:
        if isinstance(base, ast.Name) and _is_args(namespace.get(base.id)):
            yield from _fields(namespace[base.id])
    body = node.body
    for index, statement in enumerate(body):
        if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
            continue
        doc = ""
        following = body[index + 1] if index + 1 < len(body) else None
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            doc = inspect.cleandoc(following.value.value)
        yield statement.target.id, ast.unparse(statement.annotation), doc


def field_docs(cls: type) -> dict[str, str]:
    """Each field of the argument dict ``cls`` (its bases' too) with its docstring, "" when it
    has none."""
    return {name: doc for name, _annotation, doc in _fields(cls)}


def describe_args(cls: type, *, indent: str = "", depth: int = 1) -> str:
    """The fields of ``cls`` as text, and of the argument dicts they hold ``depth`` levels
    down."""
    namespace = vars(sys.modules[cls.__module__])
    lines: list[str] = []
    for name, annotation, doc in _fields(cls):
        lines.append(f"{indent}{name}: {annotation}")
        lines += [f"{indent}    {line}" for line in doc.splitlines()]
        if depth > 0:
            for identifier in _IDENTIFIER.findall(annotation):
                nested = namespace.get(identifier)
                # Any meshlink argument dict is expanded, wherever it is defined; not
                # Pulumi's or a provider's, whose fields are documented upstream.
                if (
                    isinstance(nested, type)
                    and _is_args(nested)
                    and nested.__module__.partition(".")[0] == "meshlink"
                ):
                    lines.append(describe_args(nested, indent=indent + "    ", depth=depth - 1))
    return "\n".join(lines)


def documents(args_cls: type) -> Callable[[ClassT], ClassT]:
    """Class decorator: the component's constructor docstring lists ``args_cls``'s fields
    (Pulumi's inherited ``ComponentResource.__init__`` docstring would show otherwise)."""

    def decorate(component: ClassT) -> ClassT:
        text = describe_args(args_cls)
        own = inspect.cleandoc(component.__doc__ or "")
        doc = f"{own}\n\n``args`` ({args_cls.__name__}):\n\n{textwrap.indent(text, '    ')}\n"
        outputs = output_docs(component)
        if outputs:
            listed = "\n".join(
                f"{name}\n" + textwrap.indent(text, "    ") if text else name
                for name, text in outputs.items()
            )
            doc += f"\nOutputs:\n\n{textwrap.indent(listed, '    ')}\n"
        component.__doc__ = doc
        # Components define their own __init__; without this, help() shows its empty
        # docstring or Pulumi's inherited one.
        component.__init__.__doc__ = doc  # type: ignore[misc]
        return component

    return decorate

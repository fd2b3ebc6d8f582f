"""A component's outputs, declared once, where they are documented.

An attribute annotated ``Registered[...]`` in a component's class body is one of its outputs:
:func:`register_declared_outputs` hands exactly those attributes to ``register_outputs``, and
``help()`` lists them with their docstrings (``argdocs.documents``). So an output cannot be
exposed to Python without being registered with the engine, or registered without being
reachable as an attribute. Attributes that are not outputs, such as private keys that must
never be recorded as outputs of the component, are annotated plainly.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Annotated, Any, TypeVar

T = TypeVar("T")


class _RegisteredOutput:
    """The marker ``Registered`` carries; nothing reads it at run time but this module."""


Registered = Annotated[T, _RegisteredOutput()]
"""``name: Registered[pulumi.Output[str]]``: ``name`` is an output of the component."""


def _class_body(cls: type) -> list[ast.stmt]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return []
    node = ast.parse(source).body[0]
    return node.body if isinstance(node, ast.ClassDef) else []


def _is_registered(annotation: ast.expr) -> bool:
    # Read from the source: with postponed annotations the names need not resolve at run time.
    return (
        isinstance(annotation, ast.Subscript)
        and isinstance(annotation.value, ast.Name)
        and annotation.value.id == "Registered"
    )


def declared_outputs(cls: type) -> dict[str, str]:
    """The outputs ``cls`` and its bases declare, in declaration order (bases first), each
    with its docstring ("" when it has none)."""
    outputs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.partition(".")[0] in {"builtins", "pulumi"}:
            continue
        body = _class_body(klass)
        for index, statement in enumerate(body):
            if not (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and _is_registered(statement.annotation)
            ):
                continue
            following = body[index + 1] if index + 1 < len(body) else None
            doc = ""
            if (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                doc = inspect.cleandoc(following.value.value)
            outputs[statement.target.id] = doc
    return outputs


def register_declared_outputs(component: Any) -> None:
    """``component.register_outputs`` with every output its class declares."""
    names = declared_outputs(type(component))
    missing = [name for name in names if not hasattr(component, name)]
    if missing:
        raise AttributeError(
            f"{type(component).__name__} declares the outputs {missing} but never set them"
        )
    component.register_outputs({name: getattr(component, name) for name in names})

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
from typing import Annotated, Any, TypeVar

from meshlink.source import class_node

T = TypeVar("T")


class _RegisteredOutput:
    """The marker ``Registered`` carries; nothing reads it at run time but this module."""


Registered = Annotated[T, _RegisteredOutput()]
"""``name: Registered[pulumi.Output[str]]``: ``name`` is an output of the component."""


def _is_registered(annotation: Any) -> bool:
    if isinstance(annotation, str):  # postponed annotations: the source text
        return annotation.startswith("Registered[")
    return any(isinstance(m, _RegisteredOutput) for m in getattr(annotation, "__metadata__", ()))


def _own_classes(cls: type) -> list[type]:
    """``cls`` and its bases, bases first, without Pulumi's and Python's own."""
    return [
        klass
        for klass in reversed(cls.__mro__)
        if klass.__module__.partition(".")[0] not in {"builtins", "pulumi"}
    ]


_DECLARED: dict[type, tuple[str, ...]] = {}


def declared_outputs(cls: type) -> tuple[str, ...]:
    """The outputs ``cls`` and its bases declare, in declaration order (bases first).

    Read from the class annotations, not the source, and once per class: it runs at every
    registration."""
    if cls not in _DECLARED:
        names: dict[str, None] = {}
        for klass in _own_classes(cls):
            for name, annotation in vars(klass).get("__annotations__", {}).items():
                if _is_registered(annotation):
                    names[name] = None
        _DECLARED[cls] = tuple(names)
    return _DECLARED[cls]


_DOCS: dict[type, dict[str, str]] = {}


def output_docs(cls: type) -> dict[str, str]:
    """Each declared output of ``cls`` with its docstring ("" when it has none), read from
    the source (for ``help()`` and the tests), once per class."""
    if cls not in _DOCS:
        _DOCS[cls] = _read_output_docs(cls)
    return dict(_DOCS[cls])


def _read_output_docs(cls: type) -> dict[str, str]:
    docs = {name: "" for name in declared_outputs(cls)}
    for klass in _own_classes(cls):
        node = class_node(klass)
        body = node.body if node is not None else []
        for statement, following in zip(body, [*body[1:], None], strict=True):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and statement.target.id in docs
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[statement.target.id] = inspect.cleandoc(following.value.value)
    return docs


def register_declared_outputs(component: Any) -> None:
    """``component.register_outputs`` with every output its class declares."""
    names = declared_outputs(type(component))
    missing = [name for name in names if not hasattr(component, name)]
    if missing:
        raise AttributeError(
            f"{type(component).__name__} declares the outputs {missing} but never set them"
        )
    component.register_outputs({name: getattr(component, name) for name in names})

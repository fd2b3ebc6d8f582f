"""Reading meshlink's own source at run time: the attribute docstrings of argument dicts
and outputs (``help()``, the multi-language schema) live only there.

CPython 3.11's ``ast`` keeps one recursion counter per interpreter, and a parse that is
interrupted by the garbage collector running a finalizer that parses too (asyncio logging
a never-retrieved exception formats its traceback, which in 3.11 parses source lines for
its carets) fails with "SystemError: AST constructor recursion depth mismatch"
(python/cpython#106905). So every parse here runs with the collector paused, and each
class is parsed once.
"""

from __future__ import annotations

import ast
import functools
import gc
import inspect
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection (and so no finalizer) inside the block."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse(source: str) -> ast.Module:
    """``ast.parse`` with the collector paused."""
    with collector_paused():
        return ast.parse(source)


@functools.cache
def class_node(cls: type) -> ast.ClassDef | None:
    """The class statement of ``cls`` from its source, or None when there is no source."""
    with collector_paused():
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):
            return None
        node = ast.parse(source).body[0]
    return node if isinstance(node, ast.ClassDef) else None

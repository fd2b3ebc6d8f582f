"""Markdown the sections of ``summary.md`` share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def code_list(values: Iterable[Any]) -> str:
    return ", ".join(f"`{v}`" for v in values) or "—"

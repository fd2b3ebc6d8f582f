"""Deterministic offline stand-ins for GCP resource outputs (being written)."""

from __future__ import annotations

from typing import Any


def stand_in(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    raise NotImplementedError(typ)


def call(token: str, args: dict[str, Any]) -> dict[str, Any]:
    raise NotImplementedError(token)

"""Offline emulation of the pulumi-tls resources (being written)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def emulate(typ: str, name: str, inputs: dict[str, Any], *, seed: str, now: dt.datetime) -> dict:
    raise NotImplementedError(typ)

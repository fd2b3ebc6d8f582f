"""What the networking kinds share: their API group, and the check that a list names
nothing twice."""

from __future__ import annotations

NETWORKING = "networking.istio.io"


def unique(values: list[object], what: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} appears more than once")
        seen.add(value)

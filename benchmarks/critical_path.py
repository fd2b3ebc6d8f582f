"""The critical path of a first ``pulumi up``: the longest chain of waits through the
resource graph, weighted by typical creation times, against the serial sum of all.

The engine creates a resource once everything it waits on exists: its recorded
dependencies (explicit ``depends_on`` and the resources whose outputs it reads), its
parent, and its provider. A component creates nothing itself; waiting on a component
means waiting on every resource declared under it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmarks.creation_times import creation_time


@dataclass(frozen=True)
class Node:
    """One registration as the critical path sees it."""

    urn: str
    seconds: float
    waits_on: tuple[str, ...]
    custom: bool = True
    parent: str = ""


@dataclass(frozen=True)
class CriticalPath:
    seconds: float
    serial_seconds: float
    chain: tuple[str, ...]
    """The URNs along the longest chain, first created first."""

    @property
    def ratio(self) -> float:
        return self.seconds / self.serial_seconds if self.serial_seconds else 0.0


def nodes_from_registrations(recorded: Sequence[Mapping[str, object]]) -> list[Node]:
    """Nodes for registrations as ``workloads.py record-dev`` writes them."""
    nodes = []
    for entry in recorded:
        custom = bool(entry["custom"])
        resource_type = str(entry["type"])
        waits = [str(urn) for urn in entry["dependencies"]]  # type: ignore[attr-defined]
        for key in ("parent", "provider_urn"):
            if entry[key]:
                waits.append(str(entry[key]))
        nodes.append(
            Node(
                urn=str(entry["urn"]),
                seconds=creation_time(resource_type, custom=custom).seconds,
                waits_on=tuple(waits),
                custom=custom,
                parent=str(entry["parent"] or ""),
            )
        )
    return nodes


def upstream(nodes: Sequence[Node], urn: str) -> set[str]:
    """Every URN that ``urn`` waits on, directly or through others."""
    by_urn = {node.urn: node for node in nodes}
    seen: set[str] = set()
    pending = list(by_urn[urn].waits_on)
    while pending:
        current = pending.pop()
        if current in seen or current not in by_urn:
            continue
        seen.add(current)
        pending.extend(by_urn[current].waits_on)
    return seen


def critical_path(nodes: Sequence[Node]) -> CriticalPath:
    """The longest weighted chain through ``nodes``. Waits on URNs outside ``nodes`` (the
    stack itself) cost nothing; a cycle is an error, as it is for the engine."""
    by_urn = {node.urn: node for node in nodes}
    children: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        if node.parent in by_urn:
            children[node.parent].append(node.urn)

    def descendants(urn: str) -> list[str]:
        found: list[str] = []
        for child in children[urn]:
            found.append(child)
            found.extend(descendants(child))
        return found

    def predecessors(node: Node) -> set[str]:
        result: set[str] = set()
        for urn in node.waits_on:
            target = by_urn.get(urn)
            if target is None:
                continue
            if target.custom or urn == node.parent:
                result.add(urn)
            else:
                # Waiting on a component is waiting on everything under it.
                result.update(d for d in descendants(urn) if d != node.urn)
        return result

    finish: dict[str, float] = {}
    previous: dict[str, str] = {}
    visiting: set[str] = set()

    def finish_of(urn: str) -> float:
        if urn in finish:
            return finish[urn]
        if urn in visiting:
            raise ValueError(f"dependency cycle through {urn}")
        visiting.add(urn)
        node = by_urn[urn]
        start = 0.0
        for predecessor in sorted(predecessors(node)):
            if finish_of(predecessor) > start:
                start = finish[predecessor]
                previous[urn] = predecessor
        visiting.discard(urn)
        finish[urn] = start + node.seconds
        return finish[urn]

    for node in nodes:
        finish_of(node.urn)
    if not nodes:
        return CriticalPath(0.0, 0.0, ())
    last = max(finish, key=lambda urn: finish[urn])
    chain = [last]
    while chain[-1] in previous:
        chain.append(previous[chain[-1]])
    return CriticalPath(
        seconds=finish[last],
        serial_seconds=sum(node.seconds for node in nodes),
        chain=tuple(reversed(chain)),
    )

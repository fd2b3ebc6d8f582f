"""The benchmark's critical path on hand-made graphs: the longest weighted chain of waits,
with a component standing for everything declared under it."""

from __future__ import annotations

import pytest

from benchmarks.critical_path import Node, critical_path, upstream


def test_the_longest_chain_wins_over_the_heaviest_single_resource() -> None:
    nodes = [
        Node("network", 30, ()),
        Node("cluster", 480, ("network",)),
        Node("pool", 240, ("cluster",)),
        Node("address", 600, ()),
        Node("gate", 300, ("pool",)),
    ]
    path = critical_path(nodes)
    assert path.chain == ("network", "cluster", "pool", "gate")
    assert path.seconds == 30 + 480 + 240 + 300
    assert path.serial_seconds == 30 + 480 + 240 + 600 + 300
    assert path.ratio == pytest.approx(1050 / 1650)


def test_waiting_on_a_component_waits_on_everything_under_it() -> None:
    nodes = [
        Node("namespace-component", 0, (), custom=False),
        Node("slow-child", 100, ("namespace-component",), parent="namespace-component"),
        Node("fast-child", 1, ("namespace-component",), parent="namespace-component"),
        Node("secret", 2, ("namespace-component",)),
    ]
    path = critical_path(nodes)
    assert path.seconds == 102
    assert path.chain == ("slow-child", "secret")


def test_a_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        critical_path([Node("a", 1, ("b",)), Node("b", 1, ("a",))])


def test_upstream_follows_waits_transitively() -> None:
    nodes = [Node("a", 1, ()), Node("b", 1, ("a",)), Node("c", 1, ("b",)), Node("d", 1, ())]
    assert upstream(nodes, "c") == {"a", "b"}

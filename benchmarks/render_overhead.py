"""What ``meshlink render`` costs beyond the Pulumi SDK's own mock engine.

Renders the dev stack (real certificates, stand-ins, files written), then has the SDK's
plain mock engine register the same number of bare resources, in one process, and prints
both times and their ratio. The first render pays for importing pulumi-gcp and friends,
so a cold and a warm render are both shown. Medians over ``--rounds``.

    .venv/bin/python benchmarks/render_overhead.py [--rounds N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import pulumi
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from meshlink.offline.program import load_program
from meshlink.offline.render import render_program

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class _Bare(mocks.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        return {}, []


def _bare_registrations(count: int) -> float:
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(_Bare(), "bare", "bench", preview=False)

    def program() -> None:
        for index in range(count):
            pulumi.CustomResource("bare:index:Thing", f"thing-{index}", {"index": index})

    start = time.perf_counter()
    _sync_await(run_pulumi_func(program))
    elapsed = time.perf_counter() - start
    settings.ROOT.set(None)
    return elapsed


def _render(out: Path) -> tuple[float, int]:
    program = load_program(ROOT, "dev")
    start = time.perf_counter()
    result = render_program(program, out, now=NOW)
    return time.perf_counter() - start, result.registration_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as scratch:
        cold, count = _render(Path(scratch) / "cold")
        warm = [_render(Path(scratch) / f"warm-{i}")[0] for i in range(rounds)]
    bare = [_bare_registrations(count) for _ in range(rounds)]
    warm_median, bare_median = statistics.median(warm), statistics.median(bare)
    print(f"registrations in the dev stack: {count}")
    print(f"render, first in process (imports included): {cold * 1000:8.1f} ms")
    print(f"render, warm (median of {rounds}):              {warm_median * 1000:8.1f} ms")
    print(f"SDK mock engine, {count} bare resources:        {bare_median * 1000:8.1f} ms")
    print(f"ratio warm render / bare registrations:       {warm_median / bare_median:8.2f}x")
    print(f"ratio first render / bare registrations:      {cold / bare_median:8.2f}x")


if __name__ == "__main__":
    main()

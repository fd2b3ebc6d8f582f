"""meshlink against its floors, measured side by side in one run: ``make bench``.

Every figure is a pair, A (meshlink) and B (its floor), each in a fresh process, run
alternately (A then B, then B then A) so that drifting machine load falls on both. Each
ratio is the median of A over the median of B, with the range of the pairwise ratios.
Times are CPU seconds (user and system, all threads): the work is CPU-bound, and on a
shared machine wall time would also measure the neighbours.

- construction: ``MeshLink`` with N generated services on two providers, against the
  sized floor: the same offline engine registering as many bare ``CustomResource``s with
  the link's own recorded inputs (``workloads.py``);
- render: the dev stack's warm render and first render in a process (imports counted),
  and the whole ``python -m meshlink render`` process, against the floor of the dev
  stack's registrations;
- peak RSS at the largest N;
- the critical path of the dev stack's first ``pulumi up`` against the serial sum
  (``critical_path.py``, durations from ``creation_times.py``).

    .venv/bin/python benchmarks/bench.py [--quick] [--repetitions N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.critical_path import (  # noqa: E402
    critical_path,
    nodes_from_registrations,
    upstream,
)

WORKLOADS = Path(__file__).resolve().parent / "workloads.py"
SERVICE_COUNTS = (1, 10, 50, 200)
QUICK_SERVICE_COUNTS = (1, 10)
CLUSTER_TYPE = "gcp:container/cluster:Cluster"
KUBERNETES_PROVIDER_TYPE = "pulumi:providers:kubernetes"


@dataclass(frozen=True)
class Sample:
    seconds: float
    maxrss_kib: int
    first: float | None = None


def _environment() -> dict[str, str]:
    """This checkout first on the import path, whatever the virtualenv's editable
    install points at."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    )
    return environment


def _workload(*arguments: str) -> Sample:
    completed = subprocess.run(
        [sys.executable, str(WORKLOADS), *arguments],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"workload {' '.join(arguments)} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return Sample(result.get("seconds", 0.0), result["maxrss_kib"], result.get("first"))


def _process(command: list[str]) -> Sample:
    """The CPU time and peak RSS of a whole process, as a user runs it."""
    with tempfile.TemporaryFile() as output:
        child = subprocess.Popen(
            command, cwd=ROOT, env=_environment(), stdout=output, stderr=output
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = usage.ru_utime + usage.ru_stime
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            output.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{output.read().decode()}")
    return Sample(seconds, usage.ru_maxrss)


def _alternate(
    repetitions: int, measured: Callable[[], Sample], floor: Callable[[], Sample]
) -> list[tuple[Sample, Sample]]:
    pairs = []
    for repetition in range(repetitions):
        if repetition % 2 == 0:
            a = measured()
            b = floor()
        else:
            b = floor()
            a = measured()
        pairs.append((a, b))
    return pairs


def _ratio_line(label: str, measured: list[float], floor: list[float], unit: str = "s") -> str:
    ratios = [a / b for a, b in zip(measured, floor, strict=True)]
    a, b = statistics.median(measured), statistics.median(floor)
    scale, suffix = (1.0, " CPU s") if unit == "s" else (1 / 1024, " MiB")
    return (
        f"{label:<34} {a * scale:9.2f}{suffix} vs {b * scale:8.2f}{suffix}   "
        f"{a / b:5.2f}x  (range {min(ratios):.2f}..{max(ratios):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repetitions, N = 1 and 10")
    parser.add_argument("--repetitions", type=int, help="pairs per figure (default 5)")
    options = parser.parse_args()
    repetitions = options.repetitions or (2 if options.quick else 5)
    counts = QUICK_SERVICE_COUNTS if options.quick else SERVICE_COUNTS
    print(f"{repetitions} alternating pairs per figure; median A vs median B, A/B (range)")

    with tempfile.TemporaryDirectory(prefix="meshlink-bench-") as scratch_name:
        scratch = Path(scratch_name)
        print("\nconstruction: MeshLink with N services vs as many bare CustomResources")
        largest: list[tuple[Sample, Sample]] = []
        warm_up = scratch / "link-1.json"
        _workload("record", "1", str(warm_up))
        for count in counts:
            recorded = scratch / f"link-{count}.json"
            _workload("record", str(count), str(recorded))
            registrations = len(json.loads(recorded.read_text()))
            pairs = _alternate(
                repetitions,
                partial(_workload, "link", str(count)),
                partial(_workload, "floor", str(recorded), str(warm_up)),
            )
            label = f"N = {count} ({registrations} registrations)"
            print(_ratio_line(label, [a.seconds for a, _ in pairs], [b.seconds for _, b in pairs]))
            largest = pairs
        print(
            _ratio_line(
                f"peak RSS at N = {counts[-1]}",
                [a.maxrss_kib for a, _ in largest],
                [b.maxrss_kib for _, b in largest],
                unit="KiB",
            )
        )

        dev = scratch / "dev.json"
        _workload("record-dev", str(dev))
        recorded_dev = json.loads(dev.read_text())
        print(f"\nrender of the dev stack ({len(recorded_dev)} registrations) vs its floor")
        renders = _alternate(
            repetitions, lambda: _workload("render"), lambda: _workload("floor-first", str(dev))
        )
        print(
            _ratio_line(
                "warm render", [a.seconds for a, _ in renders], [b.seconds for _, b in renders]
            )
        )
        print(
            _ratio_line(
                "first render (imports counted)",
                [a.first or 0.0 for a, _ in renders],
                [b.first or 0.0 for _, b in renders],
            )
        )
        render_command = [sys.executable, "-m", "meshlink", "render", ".", "--stack", "dev"]
        outs = iter(range(repetitions))
        processes = _alternate(
            repetitions,
            lambda: _process([*render_command, "--out", str(scratch / f"cli-{next(outs)}")]),
            lambda: _process([sys.executable, str(WORKLOADS), "floor-process", str(dev)]),
        )
        print(
            _ratio_line(
                "meshlink render process",
                [a.seconds for a, _ in processes],
                [b.seconds for _, b in processes],
            )
        )
        print(
            _ratio_line(
                "meshlink render process peak RSS",
                [a.maxrss_kib for a, _ in processes],
                [b.maxrss_kib for _, b in processes],
                unit="KiB",
            )
        )

    path = critical_path(nodes_from_registrations(recorded_dev))
    names = {str(entry["urn"]): str(entry["name"]) for entry in recorded_dev}
    print("\nfirst pulumi up of the dev stack (typical creation times, creation_times.py)")
    print(
        f"critical path {path.seconds / 60:.1f} min vs serial sum "
        f"{path.serial_seconds / 60:.1f} min: {path.ratio:.2f}"
    )
    print("  chain: " + " -> ".join(names[urn] for urn in path.chain))
    _print_cluster_waits(recorded_dev)


def _print_cluster_waits(recorded: list[dict[str, Any]]) -> None:
    """Which GKE clusters the objects of each Kubernetes provider wait on: a side's
    objects that wait on the other side's cluster are held back by it."""
    nodes = nodes_from_registrations(recorded)
    clusters = {e["urn"]: e["name"] for e in recorded if e["type"] == CLUSTER_TYPE}
    for provider in (e for e in recorded if e["type"] == KUBERNETES_PROVIDER_TYPE):
        waited: set[str] = set()
        for entry in recorded:
            if entry["provider_urn"] == provider["urn"]:
                waited |= upstream(nodes, entry["urn"]) & set(clusters)
        names = ", ".join(sorted(clusters[urn] for urn in waited)) or "none"
        print(f"  objects on Kubernetes provider {provider['name']!r} wait on clusters: {names}")


if __name__ == "__main__":
    main()

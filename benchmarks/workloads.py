"""The measured programs and their floors, each run in a process of its own by ``bench.py``.

    python benchmarks/workloads.py <workload> [argument]

prints one JSON object on stdout: ``seconds`` (the CPU time of the timed region, all
threads), ``registrations`` and ``maxrss_kib`` (the process's peak resident set).
Workloads:

- ``link N``: a ``MeshLink`` with N generated services on two providers, on meshlink's
  offline engine (the SDK's mock engine, ``pulumi.runtime.set_mocks``, with meshlink's
  offline stand-ins). A link with one service is declared first, untimed, so that no
  import (pulumi-kubernetes loads its API groups lazily) and no one-time set-up is timed;
- ``floor FILE WARM_UP``: the sized floor of any measurement: the same engine and
  stand-ins registering one bare ``pulumi.CustomResource`` per registration recorded in
  FILE, of the same type and with the same inputs (secret ones as secrets); the
  registrations in WARM_UP (the one-service link's) are declared first, untimed;
- ``render``: the dev stack rendered twice in one process: ``first`` counts every import
  the render needs (meshlink's and the program's providers), ``seconds`` is the second,
  warm render;
- ``floor-first FILE``: the floor's equivalent: ``first`` counts importing the SDK and the
  engine, ``seconds`` is a second, warm round of registrations;
- ``record N FILE`` and ``record-dev FILE``: write the registrations of the link with N
  services or of the dev stack to FILE, for the floors and the critical path.

The whole ``meshlink render`` process is measured by ``bench.py`` itself; its floor is
this file's ``floor-process FILE`` as a whole process.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""The render clock of the golden files, so that every certificate is valid."""


def generated_services(count: int) -> list[dict[str, Any]]:
    """``count`` distinct services: their own FQDN, app port, link port and target."""
    return [
        {
            "name": f"svc-{index}",
            "fqdn": f"svc-{index}.link.example.com",
            "app_port": 20000 + index,
            "link_port": 30000 + index,
            "target_host": f"svc-{index}.db.svc.cluster.local",
            "target_port": 3306,
            "target_labels": {"app": f"svc-{index}"},
        }
        for index in range(count)
    ]


def _link_program(service_count: int) -> Callable[[], None]:
    import pulumi_kubernetes as k8s

    from meshlink.mesh import MeshLink
    from tests.support.mesh import link_args

    def program() -> None:
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        args = link_args(client, server, services=generated_services(service_count))
        MeshLink("bench-link", args)

    return program


def _run(program: Callable[[], None], *, seed: str) -> Any:
    from meshlink.offline.engine import OfflineMocks, run_program

    return run_program(
        program, project="bench", stack="bench", mocks=OfflineMocks(now=NOW, seed=seed)
    )


def _bare_program(recorded: list[dict[str, Any]]) -> Callable[[], None]:
    """One bare CustomResource per recorded registration; the index keeps URNs unique
    where the recorded ones differed only by their parent."""
    import pulumi

    def program() -> None:
        for index, entry in enumerate(recorded):
            secret = set(entry["secret_inputs"])
            inputs = {
                key: pulumi.Output.secret(value) if key in secret else value
                for key, value in entry["inputs"].items()
            }
            pulumi.CustomResource(entry["type"], f"{entry['name']}-{index}", inputs)

    return program


def _dev_stack_render(out: Path) -> int:
    from meshlink.offline.program import load_program
    from meshlink.offline.render import render_program

    program = load_program(ROOT, "dev")
    return render_program(program, out, now=NOW).registration_count


def _record(run: Any, path: Path) -> None:
    entries = [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "custom": r.custom,
            "parent": r.parent,
            "provider_urn": r.provider_urn,
            "dependencies": list(r.dependencies),
            "inputs": r.inputs,
            "secret_inputs": sorted(r.secret_inputs),
        }
        for r in run.registrations
    ]
    path.write_text(json.dumps(entries))


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """CPU time, not wall time: the work is CPU-bound, and on a shared machine wall time
    would also measure the neighbours."""
    start = time.process_time()
    result = action()
    return time.process_time() - start, result


def _peak_rss_kib() -> int:
    """Linux reports ``ru_maxrss`` in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _import_engine() -> None:
    """The engine and every stand-in it loads lazily, so that no import is timed."""
    import meshlink.offline.cloud_standins
    import meshlink.offline.engine
    import meshlink.offline.random_emulation
    import meshlink.offline.tls_emulation  # noqa: F401


def main(argv: list[str]) -> dict[str, Any]:
    workload, *arguments = argv
    if workload == "link":
        _import_engine()
        _run(_link_program(1), seed="bench")
        program = _link_program(int(arguments[0]))
        seconds, run = _timed(lambda: _run(program, seed="bench"))
        return {"seconds": seconds, "registrations": len(run.registrations)}
    if workload == "floor":
        _import_engine()
        _run(_bare_program(json.loads(Path(arguments[1]).read_text())), seed="bench")
        program = _bare_program(json.loads(Path(arguments[0]).read_text()))
        seconds, run = _timed(lambda: _run(program, seed="bench"))
        return {"seconds": seconds, "registrations": len(run.registrations)}
    if workload == "floor-process":
        _run(_bare_program(json.loads(Path(arguments[0]).read_text())), seed="bench")
        return {}
    if workload == "render":
        with tempfile.TemporaryDirectory(prefix="meshlink-bench-") as scratch:
            first, count = _timed(lambda: _dev_stack_render(Path(scratch) / "first"))
            warm, _ = _timed(lambda: _dev_stack_render(Path(scratch) / "warm"))
        return {"first": first, "seconds": warm, "registrations": count}
    if workload == "floor-first":
        recorded = json.loads(Path(arguments[0]).read_text())
        first, run = _timed(lambda: _run(_bare_program(recorded), seed="bench"))
        warm, _ = _timed(lambda: _run(_bare_program(recorded), seed="bench"))
        return {"first": first, "seconds": warm, "registrations": len(run.registrations)}
    if workload == "record":
        _record(_run(_link_program(int(arguments[0])), seed="bench"), Path(arguments[1]))
        return {}
    if workload == "record-dev":
        from meshlink.offline.engine import OfflineMocks, run_program
        from meshlink.offline.program import execute, load_program
        from meshlink.stack_outputs import placeholders_for

        dev = load_program(ROOT, "dev")
        run = run_program(
            lambda: execute(dev),
            project=dev.project,
            stack=dev.stack,
            config=dev.config,
            secret_config_keys=dev.secret_keys,
            mocks=OfflineMocks(
                now=NOW,
                seed=f"{dev.project}/{dev.stack}",
                stack_reference_placeholders=placeholders_for,
            ),
        )
        _record(run, Path(arguments[0]))
        return {}
    raise SystemExit(f"unknown workload {workload!r}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    result = main(sys.argv[1:])
    result["maxrss_kib"] = _peak_rss_kib()
    print(json.dumps(result))

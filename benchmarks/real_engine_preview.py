"""What ``pulumi preview`` of a link costs on the real engine, against a floor of the same
size: a program that declares as many plain ConfigMaps on the same two clusters.

Both run on the real toolchain (``make toolchain``) against two local control planes with
the Istio CRDs installed, alternating A/B so drift on a shared machine hits both alike, and
print the medians, their ratio and its range. The link program is the real-engine suite's
(both halves, two services, certificates issued outside Pulumi). Needs the toolchain built.

    .venv/bin/python benchmarks/real_engine_preview.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.clusters import LocalCluster, ensure_crds, local_cluster  # noqa: E402
from tests.e2e.engine import Engine, StepRecorder  # noqa: E402
from tests.e2e.link_program import Credentials, LinkCase, link_program  # noqa: E402
from tests.e2e.toolchain import load_toolchain  # noqa: E402
from tests.support import mesh  # noqa: E402


def _floor_program(clusters: dict[str, LocalCluster], counts: dict[str, int]) -> Callable[[], None]:
    """As many ConfigMaps per cluster as the link declares objects there, on providers made
    the same way: the engine and provider work of any program of that size."""

    def program() -> None:
        for name, cluster in clusters.items():
            provider = k8s.Provider(
                f"{name}-cluster", kubeconfig=pulumi.Output.secret(cluster.kubeconfig)
            )
            for index in range(counts[name]):
                k8s.core.v1.ConfigMap(
                    f"{name}-floor-{index}",
                    metadata={"name": f"floor-{index}", "namespace": "default"},
                    data={"index": str(index)},
                    opts=pulumi.ResourceOptions(provider=provider),
                )

    return program


def _timed_preview(engine: Engine, project: str, program: Callable[[], None]) -> float:
    stack = engine.stack(project, "bench", program, {})
    start = time.perf_counter()
    stack.preview(on_event=StepRecorder())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    toolchain = load_toolchain()
    with tempfile.TemporaryDirectory() as scratch:
        parent = Path(scratch)
        with (
            local_cluster("client", toolchain, parent / "clusters") as client,
            local_cluster("server", toolchain, parent / "clusters") as server,
        ):
            clusters = {"client": client, "server": server}
            for cluster in clusters.values():
                ensure_crds(cluster, toolchain)
            fqdns = [service["fqdn"] for service in mesh.services(2)]
            case = LinkCase(
                client_kubeconfig=client.kubeconfig,
                server_kubeconfig=server.kubeconfig,
                credentials=Credentials.issue(fqdns),
            )
            rendered = list(mesh.by_cluster(mesh.run_link(link_program(case, skip_await=False))))
            counts = {
                name: sum(1 for provider, _ in rendered if provider == f"{name}-cluster")
                for name in clusters
            }
            engine = Engine(toolchain=toolchain, home=parent / "engine")
            link_times: list[float] = []
            floor_times: list[float] = []
            for _ in range(rounds):
                link_times.append(_timed_preview(engine, "bench-link", link_program(case)))
                floor_times.append(
                    _timed_preview(engine, "bench-floor", _floor_program(clusters, counts))
                )
    ratios = [a / b for a, b in zip(link_times, floor_times, strict=True)]
    objects = sum(counts.values())
    print(f"pulumi preview, real engine, {objects} Kubernetes objects on two clusters")
    print(f"  link  (both halves, 2 services): median {statistics.median(link_times):.2f} s")
    print(f"  floor ({objects} ConfigMaps):       median {statistics.median(floor_times):.2f} s")
    print(
        f"  ratio link/floor: {statistics.median(ratios):.2f}x "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}, {rounds} alternating rounds)"
    )


if __name__ == "__main__":
    main()

"""Fixtures of the real-engine suite (``make e2e``): the toolchain, two local control planes
and an engine with a state of its own.

Without the toolchain the suite cannot prove anything: it is skipped with the reason on a
developer machine and fails in CI (``CI`` set), where a skip would look like a pass.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshlink.offline.rehearse.processes import listening_ports
from tests.e2e.clusters import LocalCluster, create_namespaces, local_cluster
from tests.e2e.engine import Engine
from tests.e2e.link_program import CLIENT_NAMESPACES
from tests.e2e.toolchain import Toolchain, ToolchainMissingError, load_toolchain
from tests.support import mesh


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    try:
        return load_toolchain()
    except ToolchainMissingError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (required in CI)", pytrace=False)
        pytest.skip(str(missing))


APPLICATION_NAMESPACES = {
    "client": list(CLIENT_NAMESPACES),
    "server": sorted({s["target_host"].split(".")[1] for s in mesh.services(3)}),
}
"""What the clusters run before meshlink comes: the client applications' namespaces and the
namespaces of the linked targets. They belong to the application teams, not to meshlink."""


def toolchain_processes(toolchain: Toolchain) -> list[str]:
    """Running processes whose executable is a toolchain binary (etcd, kube-apiserver,
    pulumi, a provider plugin), as ``pid path``."""
    roots = toolchain.binary_directories
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = (proc / "exe").resolve()
        except OSError:
            continue
        if any(root in exe.parents for root in roots):
            found.append(f"{proc.name} {exe}")
    return found


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running(toolchain: Toolchain) -> Iterator[None]:
    """After the suite, no toolchain process may still run: every control plane, engine and
    plugin the tests started has ended."""
    yield
    deadline = time.monotonic() + 10
    while toolchain_processes(toolchain) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert toolchain_processes(toolchain) == []


@pytest.fixture(scope="session")
def clusters(
    toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, LocalCluster]]:
    """``client`` and ``server``, each an etcd, a kube-apiserver and a controller manager.
    After the session, every port they listened on must be closed and their files gone."""
    parent = tmp_path_factory.mktemp("clusters")
    started = time.monotonic()
    with (
        local_cluster("client", toolchain, parent) as client,
        local_cluster("server", toolchain, parent) as server,
    ):
        print(f"\ntwo control planes ready in {time.monotonic() - started:.1f} s")
        create_namespaces(client, APPLICATION_NAMESPACES["client"])
        create_namespaces(server, APPLICATION_NAMESPACES["server"])
        yield {"client": client, "server": server}
    ports = {port for cluster in (client, server) for port in cluster.ports}
    still_open = ports & listening_ports()
    assert not still_open, f"ports still listening after the clusters stopped: {still_open}"
    assert not client.directory.exists() and not server.directory.exists()


@pytest.fixture(scope="module")
def engine(toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(toolchain=toolchain, home=tmp_path_factory.mktemp("engine"))


@pytest.fixture(scope="session")
def repository() -> Path:
    return Path(__file__).resolve().parents[2]

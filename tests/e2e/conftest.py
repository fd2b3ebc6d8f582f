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
from tests.e2e.clusters import LocalCluster, local_cluster
from tests.e2e.engine import Engine
from tests.e2e.toolchain import Toolchain, ToolchainMissingError, load_toolchain


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    try:
        return load_toolchain()
    except ToolchainMissingError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (required in CI)", pytrace=False)
        pytest.skip(str(missing))


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

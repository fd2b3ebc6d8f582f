"""Shared fixtures.

``istio_crds`` locates the Istio CRD sets in the toolchain cache (``make crds`` fetches them
from the ``istio.io/api`` Go module). Without them a schema test cannot prove anything, so it
is skipped with the reason on a developer machine and fails in CI (``CI`` set), where a skip
would look like a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meshlink.offline.rehearse.processes import ToolsMissingError, find_tools
from tests.support import istio_schema


@pytest.fixture(scope="session")
def istio_crds() -> Path:
    """The directory holding the Istio CRD sets."""
    missing = istio_schema.missing_crd_files()
    if missing:
        reason = "Istio CRDs not found: " + ", ".join(str(path) for path in missing)
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required in CI)", pytrace=False)
        pytest.skip(reason)
    return istio_schema.CRD_DIR


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``e2e`` run real MariaDB and HAProxy: without them they skip with the
    reason, except in CI, where ``.ci/run`` installs them and a skip would hide a failure."""
    if item.get_closest_marker("e2e") is None:
        return
    try:
        find_tools()
    except ToolsMissingError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the rehearsal tools: {error}", pytrace=False)
        pytest.skip(str(error))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report how many manifests and CEL rules the Istio schema checks exercised."""
    if sum(istio_schema.RECORD.objects_validated.values()):
        terminalreporter.section("Istio CRD validation")
        terminalreporter.write_line(istio_schema.RECORD.summary())

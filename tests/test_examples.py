"""The runnable programs under ``examples/``: each renders offline from its example stack
(placeholders standing in for its secure config), every object it declares passes both
Istio CRD sets and the Kubernetes schema, and (end to end) its render rehearses: real
MySQL traffic passes and every refusal case is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from meshlink.offline.engine import OfflineMocks, OfflineRun, run_program
from meshlink.offline.program import Program, execute, load_program
from meshlink.offline.rehearse import runner
from meshlink.offline.rehearse.render import Render, load_render
from meshlink.offline.render import render_program
from tests.support import mesh

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_STACK = "example"
EXAMPLE_DIRS = ["external-target"]
TESTED_ELSEWHERE = ["partner-endpoint"]
"""Examples with test modules of their own: the partner endpoint declares a client side
only, once the partner has signed (tests/test_examples_partner.py), and rehearses with a
stand-in for the partner (tests/test_rehearse_partner.py)."""
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


def example(name: str) -> Program:
    return load_program(EXAMPLES / name, EXAMPLE_STACK)


def test_every_example_directory_is_listed() -> None:
    found = sorted(p.name for p in EXAMPLES.iterdir() if (p / "Pulumi.yaml").is_file())
    assert found == sorted(EXAMPLE_DIRS + TESTED_ELSEWHERE)


@pytest.fixture(scope="module", params=EXAMPLE_DIRS)
def example_run(request: pytest.FixtureRequest) -> OfflineRun:
    program = example(request.param)
    return run_program(
        lambda: execute(program),
        project=program.project,
        stack=program.stack,
        config=program.config,
        secret_config_keys=program.secret_keys,
        mocks=OfflineMocks(now=NOW, seed=f"{program.project}/{program.stack}"),
    )


def test_every_object_passes_both_istio_crd_sets_and_kubernetes(
    example_run: OfflineRun, istio_crds: Path
) -> None:
    assert mesh.kubernetes_objects(example_run), "the example declared no Kubernetes object"
    mesh.assert_every_object_valid(example_run)


@pytest.mark.parametrize("name", EXAMPLE_DIRS)
def test_the_example_renders_with_placeholders_for_its_secrets_only(
    name: str, tmp_path: Path
) -> None:
    result = render_program(example(name), tmp_path / name, now=NOW)
    assert set(result.objects_per_cluster()) == {"client", "server"}
    assert result.warnings
    assert all(w.startswith("secure config ") for w in result.warnings), result.warnings


# --- examples/external-target ------------------------------------------------------------


@pytest.fixture(scope="module")
def external_target(tmp_path_factory: pytest.TempPathFactory) -> Render:
    out = tmp_path_factory.mktemp("external-target") / "render"
    render_program(example("external-target"), out, now=NOW)
    return load_render(out)


def test_the_server_routes_to_the_database_through_a_static_service_entry(
    external_target: Render,
) -> None:
    (entry,) = external_target.of_kind("ServiceEntry", cluster="server")
    assert entry.spec["resolution"] == "STATIC"
    assert entry.spec["location"] == "MESH_EXTERNAL"
    assert entry.spec["endpoints"] == [{"address": "10.20.0.5"}]
    assert [p["number"] for p in entry.spec["ports"]] == [3306]
    (route,) = external_target.of_kind("VirtualService", cluster="server")
    (destination,) = route.spec["tcp"][0]["route"]
    assert destination["destination"]["host"] == entry.spec["hosts"][0]
    # A plain-TCP target: no origination rule on the server side.
    assert list(external_target.of_kind("DestinationRule", cluster="server")) == []


def test_the_external_target_gets_no_target_policies(external_target: Render) -> None:
    for kind in ("AuthorizationPolicy", "PeerAuthentication"):
        assert list(external_target.of_kind(kind, cluster="server")) == [], kind


@pytest.mark.e2e
def test_the_external_target_example_rehearses(tmp_path: Path) -> None:
    out = tmp_path / "external-target"
    # The real clock: the rehearsal refuses certificates that have expired.
    render_program(example("external-target"), out, include_private_keys=True)

    report = runner.rehearse(out, with_timing=False)

    (link,) = report.links
    assert link.fqdn == "mysql.link.internal.example.com"
    assert link.target.startswith("10.20.0.5:3306 (ServiceEntry orders-sql-ingress/")
    assert link.positive is not None and link.positive.passed
    assert link.positive.written_sha256 == link.positive.read_back_sha256
    assert [case.case for case in link.cases if not case.passed] == []
    refused = {case.case for case in link.cases if case.result == "refused"}
    assert len(refused) >= 9
    assert report.ok

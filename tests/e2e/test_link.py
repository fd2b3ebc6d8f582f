"""Both halves of a link, applied for real: the Pulumi engine, the Kubernetes provider plugin
and the readiness gate as a Python dynamic provider in its own process, against two real
kube-apiservers holding the real Istio CRDs (which validate every object themselves:
structural schema, CEL rules and unknown fields).

The tests share one stack and run in order: a gate that times out on a cluster without
CRDs, then ``up`` with the CRDs installed while it runs, the live objects against the offline
render, every Istio object before the other Istio release's API server, a no-change
preview, a PR preview of one more service, a credential rotation, secrets at rest, and a
destroy that leaves nothing behind.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e import live
from tests.e2e.clusters import LocalCluster, ensure_crds, remove_istio_crds
from tests.e2e.engine import Engine, StepRecorder, state_at_rest
from tests.e2e.link_program import Credentials, LinkCase, link_program
from tests.e2e.toolchain import Toolchain
from tests.support import mesh

PROJECT = "meshlink-e2e"
CRD_DELAY_SECONDS = 5.0


@pytest.fixture(scope="module")
def case(clusters: dict[str, LocalCluster]) -> LinkCase:
    fqdns = [service["fqdn"] for service in mesh.services(3)]
    return LinkCase(
        client_kubeconfig=clusters["client"].kubeconfig,
        server_kubeconfig=clusters["server"].kubeconfig,
        credentials=Credentials.issue(fqdns),
    )


@pytest.fixture(scope="module")
def stack(engine: Engine, case: LinkCase) -> Iterator[auto.Stack]:
    stack = engine.stack(PROJECT, "link", link_program(case), {})
    yield stack
    # Whatever a failed test left behind goes, so the clusters stop clean.
    stack.destroy(on_output=print)


def test_the_gate_fails_clearly_when_the_crds_never_come(
    engine: Engine, case: LinkCase, clusters: dict[str, LocalCluster]
) -> None:
    """Neither cluster has the Istio CRDs: with a short timeout, ``up`` fails with the gate's
    error naming the cluster and the missing CRDs."""
    for cluster in clusters.values():
        remove_istio_crds(cluster)
    short = engine.stack(
        PROJECT,
        "no-crds",
        link_program(case.with_changes(readiness_timeout_seconds=4)),
        {},
    )
    try:
        with pytest.raises(auto.CommandError) as failed:
            short.up(on_output=print)
        text = str(failed.value)
        assert "the Istio CRDs were not established after 4s" in text, text
        assert "gateways.networking.istio.io" in text
        assert "cluster 'client'" in text or "cluster 'server'" in text
    finally:
        short.destroy(on_output=print)
        short.workspace.remove_stack("no-crds")


def test_up_waits_for_crds_installed_after_it_starts(
    stack: auto.Stack, toolchain: Toolchain, clusters: dict[str, LocalCluster]
) -> None:
    """The oldest pinned CRD set goes to the client cluster and the newest to the server,
    both a few seconds after ``up`` starts, as managed Cloud Service Mesh installs them
    asynchronously. The gate waits; everything is created."""
    for cluster in clusters.values():
        remove_istio_crds(cluster)
    installed: list[str] = []
    errors: list[BaseException] = []

    def install_late() -> None:
        time.sleep(CRD_DELAY_SECONDS)
        try:
            for cluster in clusters.values():
                ensure_crds(cluster, toolchain)
                installed.append(cluster.name)
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    installer = threading.Thread(target=install_late)
    started = time.monotonic()
    installer.start()
    result = stack.up(on_output=print)
    installer.join()
    assert not errors, errors
    print(f"up took {time.monotonic() - started:.1f} s: {result.summary.resource_changes}")
    assert result.summary.result == "succeeded"
    assert sorted(installed) == ["client", "server"]
    assert (result.summary.resource_changes or {}).get(auto.OpType.CREATE, 0) > 20


def _render(case: LinkCase) -> list[tuple[str, dict[str, Any]]]:
    """The offline render of the same program, without the test-only skip-await transform."""
    run = mesh.run_link(link_program(case, skip_await=False))
    return list(mesh.by_cluster(run))


def test_every_rendered_object_is_live_with_the_same_content(
    stack: auto.Stack, case: LinkCase, clusters: dict[str, LocalCluster]
) -> None:
    rendered = _render(case)
    assert len(rendered) > 20
    problems: list[str] = []
    for provider, manifest in rendered:
        cluster = clusters["client" if provider == "client-cluster" else "server"]
        name = f"{provider}: {manifest['kind']} {manifest['metadata'].get('namespace', '')}/"
        name += manifest["metadata"]["name"]
        found = live.read(cluster, manifest)
        if found is None:
            problems.append(f"{name}: not on the cluster")
            continue
        problems += [f"{name}: {d}" for d in live.differences(live.declared_view(manifest), found)]
    assert problems == []


def test_every_istio_object_is_accepted_by_the_other_release_too(
    stack: auto.Stack, case: LinkCase, clusters: dict[str, LocalCluster]
) -> None:
    """Each side's Istio objects were applied to a cluster of one release; a server-side dry
    run puts them before the API server of the other release as well."""
    other = {"client-cluster": clusters["server"], "server-cluster": clusters["client"]}
    problems: list[str] = []
    for provider, cluster in other.items():
        istio = [m for p, m in _render(case) if p == provider and ".istio.io/" in m["apiVersion"]]
        assert istio
        problems += [f"{cluster.name}: {p}" for p in live.rejections_by_dry_run(cluster, istio)]
    assert problems == []


def test_a_second_preview_changes_nothing(stack: auto.Stack) -> None:
    stack.preview(expect_no_changes=True, diff=True, on_output=print)


def test_a_pr_preview_of_one_more_service_shows_only_its_objects(
    stack: auto.Stack, case: LinkCase, engine: Engine
) -> None:
    three = case.with_changes(service_count=3)
    stack.workspace.program = link_program(three)
    recorder = StepRecorder()
    try:
        preview = stack.preview(diff=True, on_event=recorder, on_output=print)
    finally:
        stack.workspace.program = link_program(case)
    before = {(m["kind"], m["metadata"]["name"]) for _, m in _render(case)}
    after = {(m["kind"], m["metadata"]["name"]) for _, m in _render(three)}
    added = after - before
    assert added and before <= after
    assert all("redis" in name for _, name in added), added
    created = recorder.of("create")
    # Kubernetes objects created are exactly the render's new ones; the rest are the
    # meshlink components that group them.
    assert {
        (s.type.rsplit(":", 1)[-1], s.name) for s in created if s.type.startswith("kubernetes:")
    }
    created_objects = {s.name for s in created if s.type.startswith("kubernetes:")}
    assert len(created_objects) == len(added)
    assert all("redis" in s.name for s in created), created
    assert all(s.type.startswith(("kubernetes:", "meshlink:index:")) for s in created), created
    # Objects that list every service update in place; nothing is replaced or deleted.
    assert not recorder.of("delete") and not recorder.of("replace"), recorder.changed()
    assert not [s for s in recorder.steps if s.op.startswith(("create-replacement", "delete-"))]
    assert "redis" in preview.stdout
    (engine.home / "pr-preview.txt").write_text(preview.stdout)


def test_rotating_the_credentials_updates_the_secrets_in_place(
    stack: auto.Stack, case: LinkCase, clusters: dict[str, LocalCluster]
) -> None:
    fqdns = [service["fqdn"] for service in mesh.services(3)]
    rotated = case.with_changes(credentials=Credentials.issue(fqdns, serial=100))
    stack.workspace.program = link_program(rotated)
    preview = stack.preview(on_output=print)
    changes = preview.change_summary
    secrets = [m for _, m in _render(case) if m["kind"] == "Secret"]
    assert changes.get(auto.OpType.UPDATE) == len(secrets), changes
    assert not changes.get(auto.OpType.CREATE) and not changes.get(auto.OpType.DELETE), changes
    assert not changes.get(auto.OpType.REPLACE), changes
    stack.up(on_output=print)
    for provider, manifest in _render(rotated):
        if manifest["kind"] != "Secret":
            continue
        cluster = clusters["client" if provider == "client-cluster" else "server"]
        found = live.read(cluster, manifest)
        assert found is not None
        assert list(live.differences(live.declared_view(manifest), found)) == []


def test_private_keys_are_only_ciphertext_in_the_state(engine: Engine, stack: auto.Stack) -> None:
    at_rest = state_at_rest(engine, PROJECT, stack.name)
    assert "kubernetes:core/v1:Secret" in at_rest
    assert "PRIVATE KEY" not in at_rest
    # Secret data is stored base64-encoded by the API server and so in the provider's outputs.
    assert base64.b64encode(b"-----BEGIN PRIVATE KEY").decode()[:24] not in at_rest
    assert '"ciphertext"' in at_rest
    assert "4dabf18193072939515e22adb298388d" in at_rest  # Pulumi's secret signature


def test_destroy_leaves_nothing_meshlink_created(
    stack: auto.Stack, case: LinkCase, clusters: dict[str, LocalCluster]
) -> None:
    """Checked two ways: no object of any served kind carries meshlink's label, and no object
    of the render (labelled or not) is left on its cluster."""
    assert live.managed_objects(clusters["client"])
    assert live.managed_objects(clusters["server"])
    stack.destroy(on_output=print)
    rendered = [
        (clusters["client" if provider == "client-cluster" else "server"], manifest)
        for provider, manifest in _render(case)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = {name: live.managed_objects(c) for name, c in clusters.items()}
        still_there = [
            f"{cluster.name}: {m['kind']} {m['metadata']['name']}"
            for cluster, m in rendered
            if live.read(cluster, m) is not None
        ]
        if not any(left.values()) and not still_there:
            break
        time.sleep(1)
    assert left == {"client": [], "server": []}
    assert still_there == []

"""What the offline engine changes in the SDK while a program runs, and that it changes
nothing else: these fail when the SDK changes under the offline engine's shortcuts."""

from __future__ import annotations

import gc
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_runtime_resource
from pulumi.runtime import settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from meshlink.offline import engine
from meshlink.offline.engine import OfflineMocks, run_program


def _config_map() -> None:
    """A typed resource, declared the way meshlink declares its objects: the SDK captures
    a stack trace only for a concrete resource class over CustomResource."""
    k8s.core.v1.ConfigMap("settings", data={"mode": "strict"})


class _CapturingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self) -> None:
        super().__init__(OfflineMocks())
        self.frame_counts: list[int] = []

    def RegisterResource(self, request: Any) -> Any:  # gRPC method name
        self.frame_counts.append(len(request.stackTrace.frames))
        return super().RegisterResource(request)


def test_the_sdk_captures_a_stack_trace_per_registration_through_its_module_global() -> None:
    """The offline engine replaces ``_get_stack_trace`` in the SDK's resource module: the
    SDK must still look it up there at every registration, and still fill the request's
    ``stackTrace`` with it when nothing replaces it."""
    for function in (
        pulumi_runtime_resource.register_resource,
        pulumi_runtime_resource.read_resource,
    ):
        assert "_get_stack_trace" in function.__code__.co_names, function.__name__
    monitor = _CapturingMonitor()
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(monitor.mocks, "capture", "test", preview=False, monitor=monitor)
    try:
        _sync_await(run_pulumi_func(_config_map))
    finally:
        settings.ROOT.set(None)
    assert monitor.frame_counts and all(count > 0 for count in monitor.frame_counts)


def test_an_offline_run_sends_no_stack_trace_and_restores_the_capture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame_counts: list[int] = []
    register = engine.RecordingMonitor.RegisterResource

    def counting(self: engine.RecordingMonitor, request: Any) -> Any:
        frame_counts.append(len(request.stackTrace.frames))
        return register(self, request)

    monkeypatch.setattr(engine.RecordingMonitor, "RegisterResource", counting)
    capture = pulumi_runtime_resource._get_stack_trace
    run = run_program(_config_map, project="capture", stack="test")
    assert run.of_type("kubernetes:core/v1:ConfigMap")
    assert frame_counts and set(frame_counts) == {0}
    assert pulumi_runtime_resource._get_stack_trace is capture


def test_an_offline_run_freezes_what_outlives_a_full_collection_and_unfreezes_it_after() -> None:
    assert gc.get_freeze_count() == 0
    callbacks = list(gc.callbacks)
    frozen: list[int] = []
    survivor = {"kept": "alive"}

    def program() -> None:
        frozen.append(gc.get_freeze_count())
        before = gc.get_freeze_count()
        new_objects = [[index] for index in range(1000)]
        gc.collect()
        frozen.append(gc.get_freeze_count() - before)
        assert survivor and new_objects
        _config_map()

    run_program(program, project="freeze", stack="test")
    started_frozen, frozen_by_the_collection = frozen
    assert started_frozen > 0
    assert frozen_by_the_collection >= 1000
    assert gc.get_freeze_count() == 0
    assert gc.callbacks == callbacks

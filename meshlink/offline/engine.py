"""Run a Pulumi program in-process on the SDK's mock engine and record what it declares.

This is how meshlink is tested and rendered without a Pulumi CLI, provider plugins or a
cloud. The Python SDK's mock monitor is extended to record each registration as the
engine would receive it: type, logical name, parent, provider, dependencies, inputs,
which inputs are secret, and the replacement trigger. Outputs come from the offline
stand-ins: real certificates from the pulumi-tls emulation, documentation-range
addresses for GCP, and echoes of the inputs for Kubernetes objects.

Secrets are tracked the way the engine tracks them: an output is secret when the
resource lists it in ``additionalSecretOutputs`` or when the input of the same name was
secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_runtime_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"

StackReferencePlaceholders = Callable[[str], tuple[Mapping[str, Any], frozenset[str]]]
"""Given a referenced stack's name, placeholder outputs and the names of the secret ones."""


def unwrap_secrets(value: Any) -> Any:
    """The plain value of a deserialized property, with every secret marker removed.

    The wire format carries every number as a double; whole numbers come back as ints,
    as the provider schemas (ports, replicas) declare them.
    """
    if rpc.is_rpc_secret(value):
        return unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _secret_keys(props: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(k for k, v in props.items() if rpc.is_rpc_secret(v))


@dataclass(frozen=True)
class Registration:
    """One resource as the engine received it, with the outputs the stand-ins gave it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    """Provider reference ``<provider urn>::<provider id>``, empty for the default provider."""
    dependencies: tuple[str, ...]
    inputs: dict[str, Any]
    secret_inputs: frozenset[str]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str]
    replacement_trigger: Any = None
    additional_secret_outputs: tuple[str, ...] = ()

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass
class OfflineRun:
    """Everything one program run declared, in registration order."""

    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: frozenset[str] = frozenset()
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each component passed to ``register_outputs``, by URN, secret markers kept."""

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def named(self, type_: str, name: str) -> Registration:
        matches = [r for r in self.registrations if r.type == type_ and r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} registrations of {type_} named {name!r}")
        return matches[0]

    def by_urn(self, urn: str) -> Registration:
        for registration in self.registrations:
            if registration.urn == urn:
                return registration
        raise KeyError(urn)

    def ancestors(self, urn: str) -> Iterator[str]:
        """The parent chain of ``urn``, nearest first."""
        known = {r.urn: r for r in self.registrations}
        current = known.get(urn)
        while current is not None and current.parent:
            yield current.parent
            current = known.get(current.parent)

    def depends_on(self, urn: str, other: str) -> bool:
        """Whether ``urn`` waits on ``other`` through any chain of explicit or data dependencies,
        parents or providers: what would make the engine serialise the two."""
        known = {r.urn: r for r in self.registrations}
        seen: set[str] = set()
        stack = [urn]
        while stack:
            current = known.get(stack.pop())
            if current is None or current.urn in seen:
                continue
            seen.add(current.urn)
            edges = list(current.dependencies)
            if current.parent:
                edges.append(current.parent)
            if current.provider_urn:
                edges.append(current.provider_urn)
            if other in edges:
                return True
            stack.extend(edges)
        return False


class OfflineMocks(pulumi_mocks.Mocks):
    """Outputs for every resource type meshlink declares, computed offline.

    ``now`` fixes the clock for certificate validity; ``seed`` makes the emulated keys
    deterministic; ``stack_references`` maps a stack name to its outputs and the names of
    its secret outputs.
    """

    def __init__(
        self,
        *,
        now: dt.datetime | None = None,
        seed: str = "meshlink-offline",
        stack_references: Mapping[str, Mapping[str, Any]] | None = None,
        secret_stack_outputs: Mapping[str, frozenset[str]] | None = None,
        stack_reference_placeholders: StackReferencePlaceholders | None = None,
    ) -> None:
        self.now = now or dt.datetime.now(dt.UTC)
        self.seed = seed
        self.stack_references = dict(stack_references or {})
        self.secret_stack_outputs = dict(secret_stack_outputs or {})
        self.stack_reference_placeholders = stack_reference_placeholders
        self.warnings: list[str] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        if args.typ.startswith("tls:"):
            from meshlink.offline import tls_emulation

            outputs = tls_emulation.emulate(
                args.typ, args.name, inputs, seed=self.seed, now=self.now
            )
            return f"{args.name}-id", outputs
        if args.typ.startswith("gcp:"):
            from meshlink.offline import cloud_standins

            resource_id, outputs = cloud_standins.stand_in(args.typ, args.name, inputs)
            return resource_id, outputs
        if args.typ.startswith("random:"):
            from meshlink.offline import random_emulation

            return random_emulation.emulate(args.typ, args.name, inputs, seed=self.seed)
        if args.typ == STACK_REFERENCE_TYPE:
            return self._stack_reference(inputs.get("name", args.name))
        return f"{args.name}-id", inputs

    def _stack_reference(self, stack_name: str) -> tuple[str, dict]:
        outputs = self.stack_references.get(stack_name)
        secret = self.secret_stack_outputs.get(stack_name, frozenset())
        if outputs is None and self.stack_reference_placeholders is not None:
            outputs, secret = self.stack_reference_placeholders(stack_name)
            self.warnings.append(
                f"stack reference {stack_name}: no outputs given (--stack-outputs FILE); "
                "placeholders stand in for them"
            )
        if outputs is None:
            raise KeyError(f"no offline outputs were given for stack reference {stack_name!r}")
        return stack_name, {
            "name": stack_name,
            "outputs": dict(outputs),
            "secretOutputNames": sorted(secret),
        }

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        if args.token.startswith("gcp:"):
            from meshlink.offline import cloud_standins

            return cloud_standins.call(args.token, dict(args.args)), []
        raise NotImplementedError(f"no offline stand-in for the function {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also recording each request in full."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.component_outputs: dict[str, dict[str, Any]] = {}

    def _register(self, request: Any, *, read: bool) -> tuple[str, str, dict]:
        urn = self.make_urn(request.parent, request.type, request.name)
        _ensure_event_loop()
        raw_inputs = rpc.deserialize_properties(request.properties if read else request.object)
        inputs = unwrap_secrets(raw_inputs)
        secret_inputs = _secret_keys(raw_inputs)
        resource_args = pulumi_mocks.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.id if read else request.importId,
            custom=True if read else bool(request.custom),
        )
        resource_id, state = self.mocks.new_resource(resource_args)
        resource_id = resource_id or ""
        additional = () if read else tuple(request.additionalSecretOutputs)
        secret_outputs = frozenset(k for k in state if k in additional or k in secret_inputs)
        if request.type == STACK_REFERENCE_TYPE:
            secret_outputs = frozenset()
        replacement_trigger = None
        if not read and request.HasField("replacement_trigger"):
            holder = struct_pb2.Struct()
            holder.fields["trigger"].CopyFrom(request.replacement_trigger)
            replacement_trigger = unwrap_secrets(rpc.deserialize_properties(holder)["trigger"])
        self.registrations.append(
            Registration(
                urn=urn,
                type=request.type,
                name=request.name,
                custom=bool(resource_args.custom),
                parent=request.parent,
                provider=request.provider,
                dependencies=tuple(request.dependencies) if not read else (),
                inputs=inputs,
                secret_inputs=secret_inputs,
                outputs=dict(state),
                secret_outputs=secret_outputs,
                replacement_trigger=replacement_trigger,
                additional_secret_outputs=additional,
            )
        )
        wrapped = {
            k: rpc.wrap_rpc_secret(v) if k in secret_outputs else v for k, v in state.items()
        }
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(
            urn, resource_id, wrapped
        )
        return urn, resource_id, wrapped

    def RegisterResource(self, request: Any) -> Any:  # gRPC method name
        if request.type == "pulumi:pulumi:Stack":
            urn = self.make_urn(request.parent, request.type, request.name)
            return resource_pb2.RegisterResourceResponse(urn=urn)
        urn, resource_id, state = self._register(request, read=False)
        obj = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=obj)

    def RegisterResourceOutputs(self, request: Any) -> Any:  # gRPC method name
        self.component_outputs[request.urn] = dict(rpc.deserialize_properties(request.outputs))
        return super().RegisterResourceOutputs(request)

    def ReadResource(self, request: Any) -> Any:  # gRPC method name
        urn, _, state = self._register(request, read=True)
        obj = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.ReadResourceResponse(urn=urn, properties=obj)


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


@contextlib.contextmanager
def _offline_runtime() -> Iterator[None]:
    """What the SDK does per registration only for the engine's diagnostics, skipped while
    a program runs offline, and the SDK restored as it was afterwards.

    - The SDK walks the Python stack at every registration (``_get_stack_trace`` in
      ``pulumi/runtime/resource.py``) so that the engine can point at the declaring
      line; nothing offline reads it.
    - What was alive when the program started (the SDK, the providers imported so far,
      the caller's state) and what survives a full collection during the run (above all
      the modules the program imports) outlives the run: frozen, the cyclic collector
      stops walking it again at every full collection. It is unfrozen afterwards, so a
      process that runs many programs (the tests) still collects what one run left
      behind. A caller that froze objects itself keeps managing its own freeze.

    ``tests/test_engine_offline_runtime.py`` fails when the SDK changes under either.
    """
    capture = pulumi_runtime_resource._get_stack_trace
    pulumi_runtime_resource._get_stack_trace = _no_stack_trace
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
        gc.callbacks.append(_freeze_survivors)
    try:
        yield
    finally:
        if freeze:
            gc.callbacks.remove(_freeze_survivors)
            gc.unfreeze()
        pulumi_runtime_resource._get_stack_trace = capture


async def _resolve(value: Any) -> tuple[Any, bool]:
    output = pulumi.Output.from_input(value)
    resolved = await output.future()
    is_secret = await output.is_secret()
    return unwrap_secrets(resolved), bool(is_secret)


def _settle_previous_run() -> None:
    """A program that failed inside an apply leaves tasks on the event loop and its error
    in the SDK's RPC manager, where the next run on the same loop would pick them up and
    fail with the old error. Cancel the leftovers so every run starts clean."""
    loop = _ensure_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    settings._get_rpc_manager().clear()
    settings.SETTINGS.outputs.clear()


def run_program(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str] | None = None,
    secret_config_keys: list[str] | None = None,
    mocks: pulumi_mocks.Mocks | None = None,
) -> OfflineRun:
    """Run ``program`` (a callable that declares resources) and return what it declared.

    ``config`` holds fully qualified keys (``meshlink:services``) with string values, as
    the CLI passes them; objects are JSON strings. Exceptions raised by the program, such
    as a configuration error, propagate unchanged.
    """
    _settle_previous_run()
    settings.ROOT.set(None)
    set_all_config(dict(config or {}), list(secret_config_keys or []))
    monitor = RecordingMonitor(mocks or OfflineMocks())
    run = OfflineRun(registrations=monitor.registrations)

    async def program_then_outputs() -> None:
        result = program()
        if asyncio.iscoroutine(result):
            await result
        exported = dict(getattr(root, "outputs", {}) or {})
        secret: set[str] = set()
        for key in sorted(exported):
            run.outputs[key], is_secret = await _resolve(exported[key])
            if is_secret:
                secret.add(key)
        run.secret_outputs = frozenset(secret)

    try:
        with _offline_runtime():
            pulumi.runtime.set_mocks(monitor.mocks, project, stack, preview=False, monitor=monitor)
            root = settings.get_root_resource()
            _sync_await(run_pulumi_func(program_then_outputs))
    finally:
        settings.ROOT.set(None)
    run.component_outputs = monitor.component_outputs
    return run

"""The readiness gate: polling logic, the real Kubernetes client against a local API
stand-in, the provider's diff, and the gate's shape in the resource graph."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pulumi
import pytest
import yaml

from meshlink.mesh.readiness import (
    ISTIO_CRDS,
    CrdWaitTimeout,
    IstioCrdGate,
    IstioCrdGateProvider,
    IstioReadinessSettings,
    crd_state,
    crds_for_kinds,
    wait_for_crds,
)
from meshlink.offline.engine import run_program

GATEWAYS = ISTIO_CRDS["Gateway"]
PEER_AUTHN = ISTIO_CRDS["PeerAuthentication"]
V1 = {"networking.istio.io": "networking.istio.io/v1", "security.istio.io": "security.istio.io/v1"}
TOKEN = "token-that-must-stay-secret"


def crd(
    name: str, *, established: bool = True, versions: tuple[str, ...] = ("v1", "v1beta1")
) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"versions": [{"name": v, "served": True} for v in versions]},
        "status": {
            "conditions": [
                {"type": "NamesAccepted", "status": "True"},
                {"type": "Established", "status": "True" if established else "False"},
            ]
        },
    }


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_crd_state_distinguishes_missing_pending_old_and_ready() -> None:
    assert crd_state(GATEWAYS, None, "networking.istio.io/v1").reason == "not installed"
    pending = crd_state(GATEWAYS, crd(GATEWAYS, established=False), "networking.istio.io/v1")
    assert not pending.ready and "not yet established" in pending.reason
    old = crd_state(GATEWAYS, crd(GATEWAYS, versions=("v1beta1",)), "networking.istio.io/v1")
    assert not old.ready and "does not serve v1" in old.reason and "v1beta1" in old.reason
    assert crd_state(GATEWAYS, crd(GATEWAYS), "networking.istio.io/v1").ready
    assert crd_state(
        GATEWAYS, crd(GATEWAYS, versions=("v1beta1",)), "networking.istio.io/v1beta1"
    ).ready


def test_waits_until_every_crd_is_established() -> None:
    clock = FakeClock()
    reads: list[str] = []

    def read(name: str) -> Mapping[str, Any] | None:
        reads.append(name)
        if clock.now < 10:
            return None
        if clock.now < 20:
            if name == GATEWAYS:
                raise ConnectionRefusedError("api server not up")
            return crd(name, established=False)
        return crd(name)

    result = wait_for_crds(
        read,
        [GATEWAYS, PEER_AUTHN],
        group_versions=V1,
        cluster="client",
        timeout_seconds=60,
        poll_seconds=5,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result == [GATEWAYS, PEER_AUTHN]
    assert clock.sleeps == [5, 5, 5, 5]
    assert reads.count(GATEWAYS) == 5


def test_timeout_names_cluster_crds_and_reasons_without_response_details() -> None:
    clock = FakeClock()

    class Forbidden(Exception):
        status = 403
        reason = "Forbidden"
        body = TOKEN

    def read(name: str) -> Mapping[str, Any] | None:
        if name == GATEWAYS:
            raise Forbidden(TOKEN)
        return crd(name, versions=("v1beta1",))

    with pytest.raises(CrdWaitTimeout) as caught:
        wait_for_crds(
            read,
            [GATEWAYS, PEER_AUTHN],
            group_versions=V1,
            cluster="server-cluster",
            timeout_seconds=30,
            poll_seconds=10,
            clock=clock,
            sleep=clock.sleep,
        )
    message = str(caught.value)
    assert "'server-cluster'" in message
    assert f"{GATEWAYS} could not be read: HTTP 403 Forbidden" in message
    assert f"{PEER_AUTHN} does not serve v1" in message
    assert "after 30s" in message
    assert TOKEN not in message
    assert clock.sleeps == [10, 10, 10]


class _ApiStandIn(BaseHTTPRequestHandler):
    """Serves CRDs the way the API server does; a CRD becomes established on its
    second read."""

    reads: dict[str, int]
    authorizations: list[str]
    known: set[str]

    def do_GET(self) -> None:
        prefix = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
        type(self).authorizations.append(self.headers.get("Authorization", ""))
        name = self.path.removeprefix(prefix)
        if not self.path.startswith(prefix) or name not in type(self).known:
            self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
            return
        count = type(self).reads[name] = type(self).reads.get(name, 0) + 1
        self._send(200, crd(name, established=count >= 2))

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[tuple[str, type[_ApiStandIn]]]:
    handler = type("Handler", (_ApiStandIn,), {"reads": {}, "authorizations": [], "known": set()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig_for(url: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": url}}],
            "users": [{"name": "u", "user": {"token": TOKEN}}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "ctx",
        }
    )


def provider_props(kubeconfig: str | None, crds: list[str], timeout: float = 20) -> dict:
    return {
        "cluster": "client",
        "crds": crds,
        "groupVersions": V1,
        "wait": kubeconfig is not None,
        "timeoutSeconds": timeout,
        "pollSeconds": 0.01,
        "kubeconfig": kubeconfig,
        "context": None,
    }


def test_provider_polls_the_cluster_named_by_the_kubeconfig(
    api_server: tuple[str, type[_ApiStandIn]],
) -> None:
    url, handler = api_server
    handler.known = {GATEWAYS, PEER_AUTHN}
    result = IstioCrdGateProvider().create(
        provider_props(kubeconfig_for(url), [GATEWAYS, PEER_AUTHN])
    )
    assert result.outs is not None
    assert result.outs["established"] == [GATEWAYS, PEER_AUTHN]
    assert "kubeconfig" not in result.outs
    assert handler.reads == {GATEWAYS: 2, PEER_AUTHN: 2}
    assert set(handler.authorizations) == {f"Bearer {TOKEN}"}


def test_provider_times_out_with_the_missing_crd_and_no_credential(
    api_server: tuple[str, type[_ApiStandIn]],
) -> None:
    url, handler = api_server
    handler.known = {GATEWAYS}
    with pytest.raises(CrdWaitTimeout) as caught:
        IstioCrdGateProvider().create(
            provider_props(kubeconfig_for(url), [GATEWAYS, PEER_AUTHN], timeout=0.2)
        )
    message = str(caught.value)
    assert f"{PEER_AUTHN} not installed" in message
    assert f"{GATEWAYS} " not in message
    assert TOKEN not in message


def test_provider_rejects_a_broken_kubeconfig_without_echoing_it() -> None:
    with pytest.raises(CrdWaitTimeout) as caught:
        IstioCrdGateProvider().create(provider_props(f"not: [valid {TOKEN}", [GATEWAYS]))
    assert "kubeconfig" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_provider_without_kubeconfig_does_not_poll() -> None:
    result = IstioCrdGateProvider().create(provider_props(None, [GATEWAYS]))
    assert result.outs is not None
    assert result.outs["established"] == []


def test_diff_ignores_a_changed_kubeconfig_but_not_a_changed_crd_list() -> None:
    provider = IstioCrdGateProvider()
    olds = provider_props("a", [GATEWAYS]) | {"established": [GATEWAYS]}
    olds.pop("kubeconfig")
    assert not provider.diff("id", olds, provider_props("b", [GATEWAYS])).changes
    assert provider.diff("id", olds, provider_props("b", [GATEWAYS, PEER_AUTHN])).changes


def test_gate_registration_keeps_the_kubeconfig_secret() -> None:
    def program() -> None:
        IstioCrdGate(
            "client-istio-ready",
            cluster="client",
            kinds=["VirtualService", "Gateway", "Gateway"],
            group_versions=V1,
            settings=IstioReadinessSettings(kubeconfig="apiVersion: v1\n"),
        )

    run = run_program(program, project="p", stack="s")
    (gate,) = [r for r in run.registrations if r.name == "client-istio-ready"]
    assert gate.type == "pulumi-python:dynamic/meshlink:IstioCrdGate"
    assert "kubeconfig" in gate.secret_inputs
    assert gate.inputs["crds"] == crds_for_kinds(["Gateway", "VirtualService"])
    assert gate.inputs["wait"] is True


def test_gate_without_kubeconfig_warns_and_does_not_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))

    def program() -> None:
        IstioCrdGate(
            "server-istio-ready",
            cluster="server",
            kinds=["Gateway"],
            group_versions=V1,
            settings=IstioReadinessSettings(),
        )

    run = run_program(program, project="p", stack="s")
    (gate,) = [r for r in run.registrations if r.name == "server-istio-ready"]
    assert gate.inputs["wait"] is False
    assert len(warnings) == 1 and "'server'" in warnings[0] and "no kubeconfig" in warnings[0]

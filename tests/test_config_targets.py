"""The stack config takes the same typed target as the library: a service of the server
stack may target a host outside the server mesh (``target_external``), checked by the same
rules, with the key path named when it is refused."""

from __future__ import annotations

from typing import Any

import pytest

from meshlink.offline.engine import OfflineRun
from meshlink.validation import MeshlinkValidationError
from tests.support.mesh import DELETE, of_kind
from tests.test_stacks import (
    STACKS,
    edit_config,
    loaded_config,
    run_server_stack,
    run_stack,
)

SERVICES = "meshlink-server:services"
PROD = loaded_config(STACKS / "server", "prod")
EXTERNAL = {"address": "10.20.0.5", "port": 3306}


@pytest.fixture(scope="module")
def pki() -> OfflineRun:
    return run_stack(STACKS / "pki", "prod")


def _server(pki: OfflineRun, config: dict[str, str]) -> OfflineRun:
    return run_server_stack(pki, config=config)


def _external(**target: Any) -> dict[str, str]:
    config = PROD
    for key in ("target_host", "target_port", "target_labels"):
        config = edit_config(config, SERVICES, f"[0].{key}", DELETE)
    return edit_config(config, SERVICES, "[0].target_external", {**EXTERNAL, **target})


def test_a_service_of_the_server_stack_can_target_a_host_outside_the_mesh(
    pki: OfflineRun,
) -> None:
    run = _server(pki, _external())
    (entry,) = [
        e for e in of_kind(run, "ServiceEntry") if e["spec"].get("location") == "MESH_EXTERNAL"
    ]
    assert entry["spec"]["resolution"] == "STATIC"
    assert entry["spec"]["endpoints"] == [{"address": "10.20.0.5"}]
    (route,) = of_kind(run, "VirtualService")
    assert route["spec"]["tcp"][0]["route"][0]["destination"]["host"] == entry["spec"]["hosts"][0]
    # No pods in the mesh to guard: no target policies.
    assert of_kind(run, "AuthorizationPolicy") == []
    assert of_kind(run, "PeerAuthentication") == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"address": "127.0.0.1"}, "meshlink-server:services[0].target_external.address"),
        ({"address": "169.254.169.254"}, "meshlink-server:services[0].target_external.address"),
        ({"port": 0}, "meshlink-server:services[0].target_external.port"),
    ],
)
def test_a_bad_external_target_is_refused_naming_the_key(
    pki: OfflineRun, target: dict[str, Any], expected: str
) -> None:
    with pytest.raises(MeshlinkValidationError) as caught:
        _server(pki, _external(**target))
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_target_policies_cannot_be_turned_on_for_an_external_target(pki: OfflineRun) -> None:
    config = edit_config(_external(), SERVICES, "[0].target_policies", True)
    with pytest.raises(MeshlinkValidationError) as caught:
        _server(pki, config)
    assert any(
        p.startswith("meshlink-server:services[0]") and "target_policies" in p
        for p in caught.value.problems
    ), caught.value.problems

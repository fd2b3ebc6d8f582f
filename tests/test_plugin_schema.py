"""The provider plugin's schema, built in-process (``make e2e`` runs the plugin itself under
the real CLI): every served component has one, and what cannot cross a language boundary is
left out and named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshlink.plugin import COMPONENTS, MeshlinkProvider


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    provider = MeshlinkProvider()
    assert provider.schema is not None
    loaded: dict[str, Any] = json.loads(provider.schema)
    return loaded


def test_every_served_component_is_in_the_schema(schema: dict[str, Any]) -> None:
    resources = schema["resources"]
    assert {f"meshlink:index:{c.__name__}" for c in COMPONENTS} == set(resources)
    for token, resource in resources.items():
        assert resource["isComponent"], token
        assert resource.get("inputProperties"), token


def test_python_objects_are_left_out_and_named(schema: dict[str, Any]) -> None:
    resources = schema["resources"]
    mesh_link = resources["meshlink:index:MeshLink"]
    # A list of resources to wait for is a Python object: declared in the description,
    # absent from the client's and server's types.
    assert "MeshLinkClientArgs.dependsOn" in mesh_link["description"]
    assert "MeshLinkServerArgs.dependsOn" in mesh_link["description"]
    client = resources["meshlink:index:LinkClient"]
    assert "issuer" not in client["inputProperties"]
    assert "`issuer`" in client["description"]
    types = schema["types"]
    for name, definition in types.items():
        assert "dependsOn" not in definition.get("properties", {}), name
    # Values of any shape (a list of dicts of Any) cross: only Python objects stay behind.
    assert "tolerations" in types["meshlink:index:EgressGatewayArgs"]["properties"]
    assert "tolerations" not in client["description"]


def test_fan_in_clients_cross_languages_as_a_map_of_client_types(schema: dict[str, Any]) -> None:
    fan_in = schema["resources"]["meshlink:index:FanInLink"]
    clients = fan_in["inputProperties"]["clients"]
    assert clients["type"] == "object"
    assert clients["additionalProperties"]["$ref"] == "#/types/meshlink:index:FanInClientArgs"
    client = schema["types"]["meshlink:index:FanInClientArgs"]["properties"]
    assert {"provider", "clientIdentity", "services", "sourceRanges"} <= set(client)

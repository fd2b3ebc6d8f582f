"""Every component's outputs are declared once (``Registered[...]`` in its class body, with a
docstring): what it registers with the engine is exactly what it exposes as attributes, and
``help()`` lists them."""

from __future__ import annotations

import inspect
from typing import Any

import pulumi
import pytest

import meshlink.gcp
import meshlink.mesh
import meshlink.pki
from meshlink.demo import MySqlDemo
from meshlink.offline.engine import OfflineRun
from meshlink.outputs import Registered, declared_outputs, output_docs, register_declared_outputs
from tests.support.mesh import link_program, run_link
from tests.test_stacks import ROOT, run_stack


def _public_components() -> dict[str, type]:
    found: dict[str, type] = {"MySqlDemo": MySqlDemo}
    for package in (meshlink.pki, meshlink.mesh, meshlink.gcp):
        for name in package.__all__:
            value = getattr(package, name)
            if isinstance(value, type) and issubclass(value, pulumi.ComponentResource):
                found[name] = value
    return found


COMPONENTS = _public_components()


def _registered_by_class(run: OfflineRun) -> dict[str, set[str]]:
    """What each component type registered, by class name (the type token's last part)."""
    registered: dict[str, set[str]] = {}
    for urn, outputs in run.component_outputs.items():
        type_token = urn.split("::")[2].split("$")[-1]
        if not type_token.startswith("meshlink:"):
            continue  # the stack's own outputs
        registered.setdefault(type_token.rsplit(":", 1)[-1], set()).update(outputs)
    return registered


def test_every_public_component_declares_documented_outputs() -> None:
    assert len(COMPONENTS) >= 18
    for name, component in COMPONENTS.items():
        outputs = output_docs(component)
        assert outputs, f"{name} declares no outputs"
        undocumented = [output for output, doc in outputs.items() if not doc]
        assert not undocumented, f"{name}: outputs without a docstring: {undocumented}"


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_help_lists_the_outputs(name: str) -> None:
    component = COMPONENTS[name]
    text = inspect.getdoc(vars(component)["__init__"]) or ""
    assert "Outputs:" in text
    for output in declared_outputs(component):
        assert f"\n    {output}\n" in text, f"{name}: help() does not list {output}"


def _assert_registered_match(run: OfflineRun) -> set[str]:
    registered = _registered_by_class(run)
    for name, keys in registered.items():
        assert name in COMPONENTS, f"unexpected component type {name}"
        assert keys == set(declared_outputs(COMPONENTS[name])), name
    return set(registered)


def test_a_link_registers_exactly_the_declared_outputs() -> None:
    seen = _assert_registered_match(run_link(link_program(service_count=2)))
    assert {"MeshLink", "LinkClient", "LinkServer", "CertificateAuthority"} <= seen


def test_the_dev_stack_registers_exactly_the_declared_outputs() -> None:
    seen = _assert_registered_match(run_stack(ROOT, "dev"))
    assert {"MeshCluster", "MeshNetwork", "ServiceMeshFeature", "MySqlDemo"} <= seen


class _Forgetful(pulumi.ComponentResource):
    answer: Registered[int]
    """An output the constructor forgets to set."""

    def __init__(self, name: str) -> None:
        super().__init__("meshlink:test:Forgetful", name)
        register_declared_outputs(self)


def test_an_output_declared_but_never_set_is_an_error() -> None:
    errors: list[Any] = []

    def program() -> None:
        try:
            _Forgetful("forgetful")
        except AttributeError as error:
            errors.append(error)

    run_link(program)
    assert len(errors) == 1
    assert "declares the outputs ['answer'] but never set them" in str(errors[0])

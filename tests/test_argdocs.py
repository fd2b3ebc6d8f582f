"""``help()`` on the public components shows their arguments and what each means."""

from __future__ import annotations

import inspect
import pydoc
import re
import sys
from typing import Any

import pulumi
import pytest

import meshlink.demo
import meshlink.gcp
import meshlink.mesh
import meshlink.pki
from meshlink.mesh import MeshLink


def test_help_on_meshlink_lists_its_arguments() -> None:
    text = pydoc.render_doc(MeshLink, renderer=pydoc.TextDoc())
    assert "``args`` (MeshLinkArgs):" in text
    assert "link_ca: Required[LinkIssuer | CertificateAuthorityArgs]" in text
    assert "The client certificate's SAN, which the server admits." in text
    # one level down: the client and server argument dicts
    assert "namespaces: Required[Sequence[str]]" in text
    assert "The server mesh's trust domain(s)" in text
    # not Pulumi's inherited constructor text
    assert "Initializes a ComponentResource" not in (MeshLink.__init__.__doc__ or "")


def _public_components() -> list[type]:
    found: list[type] = []
    for package in (meshlink.mesh, meshlink.pki, meshlink.gcp, meshlink.demo):
        names = getattr(package, "__all__", None) or [n for n in vars(package) if n[0].isupper()]
        for name in names:
            value = getattr(package, name)
            if (
                inspect.isclass(value)
                and issubclass(value, pulumi.ComponentResource)
                and value not in found
            ):
                found.append(value)
    return found


PUBLIC_COMPONENTS = _public_components()


def test_every_public_package_exports_components() -> None:
    names = {c.__name__ for c in PUBLIC_COMPONENTS}
    assert {"MeshLink", "LinkServer", "LinkClient", "CertificateAuthority", "MeshCluster"} <= names
    assert len(PUBLIC_COMPONENTS) >= 17


@pytest.mark.parametrize("component", PUBLIC_COMPONENTS, ids=lambda c: c.__name__)
def test_help_on_each_public_component_lists_every_argument(component: type) -> None:
    init: Any = vars(component)["__init__"]
    annotation = inspect.signature(init).parameters["args"].annotation
    args_name = re.match(r"[A-Za-z_]\w*", str(annotation))
    assert args_name is not None
    args_type = vars(sys.modules[component.__module__])[args_name.group(0)]
    text = pydoc.render_doc(component, renderer=pydoc.TextDoc())
    assert f"``args`` ({args_type.__name__}):" in text
    for field in sorted(args_type.__required_keys__ | args_type.__optional_keys__):
        assert re.search(rf"^\s*\|?\s*{field}: ", text, re.M), f"{component.__name__}.{field}"
    assert "Initializes a ComponentResource" not in (init.__doc__ or "")

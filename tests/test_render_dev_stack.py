"""``meshlink render`` on the dev stack: what reviewers see, checked against the Istio CRDs,
the Kubernetes schema and the certificates themselves, and against the committed golden
render."""

from __future__ import annotations

import datetime as dt
import difflib
import os
from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from meshlink.offline.engine import OfflineMocks, run_program
from meshlink.offline.program import execute, load_program
from meshlink.offline.render import RenderResult, render_program
from tests.support import istio_schema

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "dev"
GOLDEN_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""The render clock of the golden files; ``make golden`` uses the same."""


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".meshlink-render"
    }


def _objects(out: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (p.relative_to(out / "kubernetes").parts[0], yaml.safe_load(p.read_text()))
        for p in sorted((out / "kubernetes").rglob("*.yaml"))
    ]


@pytest.fixture(scope="module")
def redacted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RenderResult]:
    out = tmp_path_factory.mktemp("render") / "dev"
    return out, render_program(load_program(ROOT, "dev"), out, now=GOLDEN_NOW)


@pytest.fixture(scope="module")
def with_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render-keys") / "dev"
    render_program(load_program(ROOT, "dev"), out, now=GOLDEN_NOW, include_private_keys=True)
    return out


def test_object_counts_per_cluster_match_what_the_program_declares(
    redacted: tuple[Path, RenderResult],
) -> None:
    out, _ = redacted
    program = load_program(ROOT, "dev")
    run = run_program(
        lambda: execute(program),
        project=program.project,
        stack=program.stack,
        config=program.config,
        mocks=OfflineMocks(now=GOLDEN_NOW, seed="independent-run"),
    )
    providers = {r.urn: r.name for r in run.of_type("pulumi:providers:kubernetes")}
    declared = Counter(
        providers[r.provider_urn]
        for r in run.registrations
        if r.custom and r.type.startswith("kubernetes:")
    )
    on_disk = Counter(cluster for cluster, _ in _objects(out))
    assert set(declared) == {"client", "server"}
    assert on_disk == declared


def test_two_renders_are_identical(redacted: tuple[Path, RenderResult], tmp_path: Path) -> None:
    out, _ = redacted
    render_program(load_program(ROOT, "dev"), tmp_path / "again", now=GOLDEN_NOW)
    assert _tree(tmp_path / "again") == _tree(out)


def test_no_private_key_is_rendered_without_the_flag(redacted: tuple[Path, RenderResult]) -> None:
    out, _ = redacted
    assert not (out / "private-keys").exists()
    for relative, text in _tree(out).items():
        assert "PRIVATE KEY" not in text, relative


def test_private_keys_are_readable_by_their_owner_only(with_keys: Path) -> None:
    keys = with_keys / "private-keys"
    assert with_keys.stat().st_mode & 0o777 == 0o700  # the Secret manifests carry keys too
    assert keys.stat().st_mode & 0o777 == 0o700
    pems = sorted(keys.glob("*.pem"))
    assert pems
    for pem in pems:
        assert pem.stat().st_mode & 0o777 == 0o600, pem.name
    keyed_manifests = [
        path
        for path in sorted((with_keys / "kubernetes").rglob("*.yaml"))
        if "PRIVATE KEY" in path.read_text()
    ]
    assert keyed_manifests
    for path in keyed_manifests:
        assert path.stat().st_mode & 0o777 == 0o600, path.name
    readme = (keys / "README").read_text()
    assert readme.startswith("These are the private keys")
    assert "Never apply them" in readme
    assert "derives them deterministically from the program's" in readme


def test_a_render_without_keys_is_readable_as_the_umask_allows(
    redacted: tuple[Path, RenderResult],
) -> None:
    out, _ = redacted
    # The staging directory is created 0700; without keys it takes the usual mode.
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert not list(out.parent.glob(f".{out.name}.*"))


def test_every_credential_secret_holds_a_matching_certificate_and_key(with_keys: Path) -> None:
    objects = _objects(with_keys)
    secrets = {
        (cluster, m["metadata"]["namespace"], m["metadata"]["name"]): m
        for cluster, m in objects
        if m["kind"] == "Secret"
    }
    credential_names = set()
    for cluster, manifest in objects:
        if manifest["kind"] not in {"Gateway", "DestinationRule"}:
            continue
        for tls in _tls_settings(manifest["spec"]):
            if "credentialName" in tls:
                credential_names.add((cluster, tls["credentialName"]))
    assert credential_names, "the dev stack has no credentialName to check"
    for cluster, name in sorted(credential_names):
        matches = [s for (c, _, n), s in secrets.items() if c == cluster and n == name]
        assert len(matches) == 1, f"{cluster}: Secret {name} rendered {len(matches)} times"
        data = matches[0]["stringData"]
        leaf = x509.load_pem_x509_certificates(data["tls.crt"].encode())[0]
        key = serialization.load_pem_private_key(data["tls.key"].encode(), password=None)
        assert leaf.public_key() == key.public_key(), f"{cluster}/{name}: key does not match"
        assert x509.load_pem_x509_certificates(data["ca.crt"].encode())


def _tls_settings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    found = [server["tls"] for server in spec.get("servers", []) if "tls" in server]
    policies = [spec.get("trafficPolicy", {})]
    policies += [subset.get("trafficPolicy", {}) for subset in spec.get("subsets", [])]
    for policy in policies:
        if "tls" in policy:
            found.append(policy["tls"])
        found += [p["tls"] for p in policy.get("portLevelSettings", []) if "tls" in p]
    return found


@pytest.mark.parametrize("crd_set", istio_schema.CRD_SETS)
def test_every_rendered_istio_object_validates(
    redacted: tuple[Path, RenderResult], crd_set: str, istio_crds: Path
) -> None:
    out, _ = redacted
    istio = [m for _, m in _objects(out) if ".istio.io/" in m["apiVersion"]]
    assert {m["kind"] for m in istio} >= {
        "Gateway",
        "VirtualService",
        "DestinationRule",
        "ServiceEntry",
        "PeerAuthentication",
    }
    problems = [p for m in istio for p in istio_schema.validate_manifest(m, crd_set)]
    assert problems == []


@pytest.mark.parametrize("crd_set", istio_schema.REFERENCE_SETS)
def test_every_rendered_istio_object_validates_against_the_reference_sets(
    redacted: tuple[Path, RenderResult], crd_set: str
) -> None:
    """The design's floor, 1.22.8, is older than any release the module proxy serves; where
    the reference sets are beside the clone, the whole render is checked against them too."""
    if not istio_schema.crd_file(crd_set).is_file():
        pytest.skip(f"reference set not beside this clone: {istio_schema.crd_file(crd_set)}")
    out, _ = redacted
    istio = [m for _, m in _objects(out) if ".istio.io/" in m["apiVersion"]]
    assert istio
    problems = [p for m in istio for p in istio_schema.validate_manifest(m, crd_set)]
    assert problems == []


@pytest.mark.parametrize("kubernetes_version", ["1.29.0", "1.33.0"])
def test_every_rendered_core_object_validates(
    redacted: tuple[Path, RenderResult], kubernetes_version: str
) -> None:
    out, _ = redacted
    core = [m for _, m in _objects(out) if ".istio.io/" not in m["apiVersion"]]
    assert {"Deployment", "Service", "Secret", "NetworkPolicy"} <= {m["kind"] for m in core}
    for manifest in core:
        kubernetes_validate.validate(manifest, kubernetes_version, strict=True)


def test_the_golden_render_is_current(redacted: tuple[Path, RenderResult]) -> None:
    """The committed render under tests/golden/dev is what the dev stack renders now.
    Refresh it with ``make golden`` when a change is intended; the PR then shows the diff."""
    out, _ = redacted
    rendered, golden = _tree(out), _tree(GOLDEN)
    if rendered == golden:
        return
    diff: list[str] = []
    for name in sorted(set(rendered) | set(golden)):
        if rendered.get(name) != golden.get(name):
            diff += difflib.unified_diff(
                golden.get(name, "").splitlines(),
                rendered.get(name, "").splitlines(),
                f"golden/{name}",
                f"rendered/{name}",
                lineterm="",
            )
    pytest.fail(
        "the dev stack's render changed; run `make golden` if intended:\n" + "\n".join(diff[:200])
    )

"""``examples/partner-endpoint``: a client-only link, rendered as its two ``pulumi up`` runs
leave it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509

from meshlink.cli import main as meshlink_main
from meshlink.offline.render import RenderResult
from tests.support import istio_schema, partner
from tests.support.pki import MadeCa

EXAMPLE_CA_SUBJECT = "CN=Example Clearing House Partner CA,O=Example Clearing House"


def _manifests(out: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((out / "kubernetes").rglob("*.yaml"))]


@pytest.fixture(scope="module")
def ca() -> MadeCa:
    return partner.partner_ca()


@pytest.fixture(scope="module")
def signed(ca: MadeCa, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RenderResult]:
    scratch = tmp_path_factory.mktemp("partner")
    out = scratch / "second-run"
    program = partner.signed_program(ca, scratch)
    return out, partner.render(program, out, include_private_keys=True)


def test_the_example_config_renders_the_request_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As committed, the example is at its first run: the partner has not signed yet."""
    out = tmp_path / "first"
    code = meshlink_main(["render", str(partner.EXAMPLE), "--stack", "example", "--out", str(out)])
    assert code == 0
    assert "have the partner sign it as a client certificate" in caplog.text
    assert not (out / "kubernetes").exists()
    program = partner.example_program()
    bundle = x509.load_pem_x509_certificate(
        yaml.safe_load(program.config["meshlink-partner-endpoint:endpoint"])[
            "ca_bundle_pem"
        ].encode()
    )
    assert bundle.subject.rfc4514_string() == EXAMPLE_CA_SUBJECT


def test_the_second_run_declares_the_client_side_only(signed: tuple[Path, RenderResult]) -> None:
    out, result = signed
    assert result.objects_per_cluster() == {"client-cluster": 15}
    kinds = sorted(m["kind"] for m in _manifests(out))
    assert kinds.count("DestinationRule") == 2
    assert "PeerAuthentication" not in kinds and "Certificate" not in kinds


def test_the_origination_names_the_partner(signed: tuple[Path, RenderResult], ca: MadeCa) -> None:
    out, _ = signed
    manifests = _manifests(out)
    (rule,) = [m for m in manifests if m["metadata"]["name"] == "partner-clearing-origination"]
    assert rule["spec"]["host"] == "api.clearing.example.net"
    (port,) = rule["spec"]["trafficPolicy"]["portLevelSettings"]
    assert port["port"] == {"number": 8443}
    assert port["tls"]["sni"] == "mtls.clearing.example.net"
    assert port["tls"]["subjectAltNames"] == ["mtls.clearing.example.net"]
    (secret,) = [m for m in manifests if m["kind"] == "Secret"]
    assert secret["metadata"]["name"] == port["tls"]["credentialName"]
    assert secret["stringData"]["ca.crt"].strip() == ca.cert_pem.strip()
    client = x509.load_pem_x509_certificate(secret["stringData"]["tls.crt"].encode())
    assert client.issuer == ca.cert.subject


@pytest.mark.parametrize("crd_set", istio_schema.CRD_SETS)
def test_every_istio_object_validates(
    signed: tuple[Path, RenderResult], crd_set: str, istio_crds: Path
) -> None:
    out, _ = signed
    istio = [m for m in _manifests(out) if ".istio.io/" in m["apiVersion"]]
    assert {m["kind"] for m in istio} == {
        "AuthorizationPolicy",
        "DestinationRule",
        "Gateway",
        "ServiceEntry",
        "VirtualService",
    }
    assert [p for m in istio for p in istio_schema.validate_manifest(m, crd_set)] == []


def test_every_core_object_validates(signed: tuple[Path, RenderResult]) -> None:
    out, _ = signed
    core = [m for m in _manifests(out) if ".istio.io/" not in m["apiVersion"]]
    assert {"Deployment", "Service", "Secret"} <= {m["kind"] for m in core}
    for manifest in core:
        kubernetes_validate.validate(manifest, "1.33.0", strict=True)


def test_the_summary_shows_the_link_leaving_the_platform(
    signed: tuple[Path, RenderResult],
) -> None:
    out, _ = signed
    summary = (out / "summary.md").read_text()
    section = summary.split("## Links leaving the platform", 1)[1].split("\n## ", 1)[0]
    assert (
        "| `api.clearing.example.net:8443` | `client-cluster` :9000 | "
        "`mtls.clearing.example.net` | `mtls.clearing.example.net` |"
    ) in section
    # It has no server half, so it is no linked service of the platform.
    linked = summary.split("## Linked services", 1)[1].split("\n## ", 1)[0]
    assert "api.clearing.example.net" not in linked

"""The README's library example is a complete program, not a sketch: it is written out as
a Pulumi program of its own and rendered with the offline engine, as a user would."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from meshlink.offline.engine import OfflineMocks, OfflineRun, run_program
from meshlink.offline.program import Program, execute, load_program
from meshlink.offline.render import RenderResult, render_program

README = Path(__file__).resolve().parent.parent / "README.md"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n"


def _example() -> str:
    section = README.read_text().split("## Using meshlink in your own Pulumi program", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the README lost its library example"
    return str(blocks[0])


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Program:
    """The example as ``__main__.py`` of a project, with the stack configuration it reads:
    the kubeconfigs as secure values (``pulumi config set --secret``), the rest plain."""
    directory = tmp_path_factory.mktemp("readme-program")
    (directory / "__main__.py").write_text(_example())
    (directory / "Pulumi.yaml").write_text("name: orders-link\nruntime: python\n")
    stack = {
        "config": {
            "orders-link:client_kubeconfig": {"secure": "v1:AAAA:client"},
            "orders-link:server_kubeconfig": {"secure": "v1:AAAA:server"},
            "orders-link:ingress_ip": "203.0.113.10",
            "orders-link:client_egress_ranges": ["198.51.100.10/32"],
        }
    }
    (directory / "Pulumi.example.yaml").write_text(yaml.safe_dump(stack))
    secrets = {
        "orders-link:client_kubeconfig": KUBECONFIG,
        "orders-link:server_kubeconfig": KUBECONFIG,
    }
    return load_program(directory, "example", secrets=secrets)


@pytest.fixture(scope="module")
def run(program: Program) -> OfflineRun:
    return run_program(
        lambda: execute(program),
        project=program.project,
        stack=program.stack,
        config=program.config,
        secret_config_keys=program.secret_keys,
        mocks=OfflineMocks(now=NOW),
    )


@pytest.fixture(scope="module")
def rendered(
    program: Program, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, RenderResult]:
    out = tmp_path_factory.mktemp("readme-render") / "out"
    return out, render_program(program, out, now=NOW)


def test_the_library_example_declares_a_link(run: OfflineRun) -> None:
    providers = {r.urn: r.name for r in run.of_type("pulumi:providers:kubernetes")}
    gateways = [r for r in run.registrations if r.type.endswith("networking.istio.io/v1:Gateway")]
    clusters = {providers[g.provider_urn] for g in gateways}
    assert clusters == {"client", "server"}
    server_gateway = next(g for g in gateways if providers[g.provider_urn] == "server")
    tls = server_gateway.inputs["spec"]["servers"][0]["tls"]
    assert tls["mode"] == "MUTUAL"
    assert tls["subjectAltNames"] == ["spiffe://link.example.com/cluster/orders"]
    service = next(
        r
        for r in run.of_type("kubernetes:core/v1:Service")
        if r.inputs["spec"].get("type") == "LoadBalancer"
    )
    assert service.inputs["spec"]["loadBalancerSourceRanges"] == ["198.51.100.10/32"]
    assert service.inputs["spec"]["loadBalancerIP"] == "203.0.113.10"


def test_the_example_exports_what_it_says(run: OfflineRun) -> None:
    assert run.outputs["ingress_address"] == "203.0.113.10"
    assert run.outputs["fqdns"] == ["mysql.link.internal.example.com"]
    assert run.outputs["ca_certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")


def test_the_kubeconfigs_stay_secret(run: OfflineRun) -> None:
    for provider in run.of_type("pulumi:providers:kubernetes"):
        assert "kubeconfig" in provider.secret_inputs


def test_the_example_renders_offline(rendered: tuple[Path, RenderResult]) -> None:
    out, result = rendered
    assert result.objects_per_cluster().keys() == {"client", "server"}
    names = {str(o.path) for o in result.kubernetes}
    assert any(name.startswith("kubernetes/client/") and "/gateway-" in name for name in names)
    assert any(name.startswith("kubernetes/server/") and "/gateway-" in name for name in names)
    summary = (out / "summary.md").read_text()
    assert "`mysql.link.internal.example.com`" in summary
    assert "203.0.113.10 (`spec.loadBalancerIP`)" in summary
    assert "`198.51.100.10/32`" in summary
    assert "namespace `orders`" in summary
    assert len(list((out / "certs").glob("*.pem"))) == 4

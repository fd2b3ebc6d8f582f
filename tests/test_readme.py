"""The README's library example is a working program, not a sketch."""

from __future__ import annotations

import re
from pathlib import Path

from meshlink.offline.engine import OfflineMocks, run_program

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> str:
    section = README.read_text().split("## Using meshlink in your own Pulumi program", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the README lost its library example"
    return str(blocks[0])


def test_the_library_example_declares_a_link() -> None:
    source = _example()

    def program() -> None:
        namespace = {
            "client_kubeconfig": "apiVersion: v1\nkind: Config\n",
            "server_kubeconfig": "apiVersion: v1\nkind: Config\n",
            "ingress_ip": "203.0.113.10",
        }
        exec(compile(source, str(README), "exec"), namespace)  # noqa: S102 - our own README

    run = run_program(program, project="readme", stack="example", mocks=OfflineMocks())
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

"""``summary.md``: what it says is read from the rendered objects and certificates, and a
certificate close to its expiry at the render clock is called out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from meshlink.cli import main
from meshlink.offline.engine import OfflineRun
from meshlink.offline.rendered import RenderedObject
from meshlink.offline.summary import LinkView
from meshlink.offline.summary.ingress import ingress_section
from meshlink.offline.summary.links import traffic_diagram
from meshlink.offline.summary.namespaces import client_namespaces_section

GOLDEN = Path(__file__).parent / "golden" / "dev"

SHORT_LIVED_PROGRAM = """\
import pulumi
import pulumi_tls as tls

key = tls.PrivateKey("key", algorithm="ECDSA", ecdsa_curve="P256")
for name, hours in (("short", 24 * 10), ("long", 24 * 90)):
    tls.SelfSignedCert(
        name,
        private_key_pem=key.private_key_pem,
        subject={"common_name": name},
        validity_period_hours=hours,
        allowed_uses=["digital_signature"],
    )
"""


def _golden(relative: str) -> dict:
    return dict(yaml.safe_load((GOLDEN / relative).read_text()))


def _link(fqdn: str, client: str, server: str, link_port: int) -> LinkView:
    return LinkView(
        fqdn=fqdn,
        server_cluster=server,
        link_port=link_port,
        min_tls="TLSV1_2",
        allowed_clients=(),
        target=f"{fqdn.split('.')[0]}.db.svc.cluster.local:3306",
        client_cluster=client,
        app_port="3306",
    )


def _policy_object(namespace: str, spec: dict) -> RenderedObject:
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "link-client-egress", "namespace": namespace},
        "spec": spec,
    }
    return RenderedObject("client", Path("x.yaml"), manifest)


def _service_entry(namespace: str, export_to: list[str]) -> RenderedObject:
    manifest = {
        "kind": "ServiceEntry",
        "metadata": {"name": "link-mysql", "namespace": "link-egress"},
        "spec": {
            "hosts": ["mysql.link.example.com"],
            "exportTo": export_to,
            "ports": [{"name": "tcp", "number": 3306, "protocol": "TCP"}],
        },
    }
    return RenderedObject("client", Path("y.yaml"), manifest)


def test_one_diagram_per_cluster_pair() -> None:
    lines = traffic_diagram(
        [
            _link("a.example.com", "client", "server", 13306),
            _link("b.example.com", "client", "server", 13307),
            _link("c.example.com", "client", "other", 13306),
        ]
    )
    text = "\n".join(lines)
    assert text.count("```mermaid") == 2
    assert text.count('["cluster client"]') == 2  # once per pair, not once per service
    assert text.count('["cluster server"]') == 1
    assert text.count('["cluster other"]') == 1
    assert 'p1sigw["ingress gateway :13306, :13307"]' in text
    assert "### `client` → `other`" in text and "### `client` → `server`" in text
    for fqdn in ("a.example.com", "b.example.com", "c.example.com"):
        assert f"SNI {fqdn}," in text


def test_a_namespace_without_a_network_policy_says_so() -> None:
    text = "\n".join(client_namespaces_section([_service_entry("ns", ["orders"])]))
    assert "namespace `orders`" in text
    assert "`mysql.link.example.com:3306`" in text
    assert "No NetworkPolicy declared by this program" in text


def test_a_policy_without_egress_rules_blocks_everything() -> None:
    policy = _policy_object(
        "orders", {"podSelector": {"matchLabels": {"app": "x"}}, "policyTypes": ["Egress"]}
    )
    text = "\n".join(client_namespaces_section([policy]))
    assert "selects the pods `app=x`" in text
    assert "blocks **every outbound connection**" in text


def test_a_policy_without_policy_types_is_read_as_kubernetes_reads_it() -> None:
    # No policyTypes and no egress rules: an Ingress policy only; egress stays open.
    policy = _policy_object(
        "orders",
        {
            "podSelector": {},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
        },
    )
    text = "\n".join(client_namespaces_section([policy]))
    assert "Inbound connections are allowed only from:" in text
    assert "pods `app=web` of the same namespace on every port" in text
    assert "outbound" not in text.lower()


def test_an_ingress_open_to_any_address_and_an_existing_gateway_are_called_out() -> None:
    open_service = {
        "kind": "Service",
        "metadata": {
            "name": "gw",
            "namespace": "gw",
            "annotations": {"networking.gke.io/load-balancer-type": "Internal"},
        },
        "spec": {"type": "LoadBalancer", "ports": [{"port": 13306}]},
    }
    patch = {
        "kind": "Service",
        "metadata": {"name": "existing", "namespace": "istio-system"},
        "spec": {"ports": [{"port": 13307}]},
    }
    objects = [
        RenderedObject("server", Path("kubernetes/server/gw/service-gw.yaml"), open_service),
        RenderedObject(
            "server", Path("kubernetes/server/istio-system/service-existing.patch.yaml"), patch
        ),
    ]
    rows = [line for line in ingress_section(objects, OfflineRun()) if "`server`" in line]
    assert rows == [
        "| `server` | `gw/gw` | internal | assigned by the cloud at `pulumi up` | "
        "**any address** (no `loadBalancerSourceRanges`) | 13306 |",
        "| `server` | `istio-system/existing` | existing Service, ports added by patch | "
        "assigned by the cloud at `pulumi up` | as the existing Service sets them | 13307 |",
    ]


def test_the_golden_summary_describes_the_rendered_network_policy() -> None:
    summary = (GOLDEN / "summary.md").read_text()
    policy = _golden("kubernetes/client/demo-app/networkpolicy-link-client-egress.yaml")
    assert policy["spec"]["podSelector"] == {}
    section = summary.split("## Client namespaces and their NetworkPolicy", 1)[1]
    section = section.split("\n## ", 1)[0]
    assert "### `client`: namespace `demo-app`" in section
    assert "selects **every pod** of the namespace" in section
    allowed = re.findall(r"^    - (.*)$", section, flags=re.MULTILINE)
    assert len(allowed) == len(policy["spec"]["egress"])
    for rule, line in zip(policy["spec"]["egress"], allowed, strict=True):
        for port in rule["ports"]:
            assert f"{port['port']}/{port['protocol']}" in line
        for peer in rule["to"]:
            if "ipBlock" in peer:
                assert f"`{peer['ipBlock']['cidr']}`" in line
    assert "Every other outbound connection of the selected pods is **blocked**" in section


def test_the_golden_summary_shows_the_ingress_address_and_source_ranges() -> None:
    summary = (GOLDEN / "summary.md").read_text()
    service = _golden("kubernetes/server/link-ingress/service-link-ingress.yaml")
    record = _golden("gcp/dns/RecordSet/link-names-mysql.link.internal.example.com.yaml")
    (address,) = record["inputs"]["rrdatas"]
    row = next(line for line in summary.splitlines() if line.startswith("| `server` | `link-"))
    assert f"{address} (reserved address `link-ingress`" in row
    for source in service["spec"]["loadBalancerSourceRanges"]:
        assert f"`{source}`" in row
    assert f"`mysql.link.internal.example.com` → `{address}`" in summary


def test_the_golden_summary_names_projects_regions_clusters_and_workloads() -> None:
    summary = (GOLDEN / "summary.md").read_text()
    for side in ("client", "server"):
        cluster = _golden(f"gcp/container/Cluster/{side}-cluster.yaml")["inputs"]
        assert re.search(
            rf"^\| `{side}` \| .* \| `{cluster['name']}` in `{cluster['project']}`, "
            rf"`{cluster['location']}` \|$",
            summary,
            flags=re.MULTILINE,
        )
        assert f"| `{cluster['project']}` | `{cluster['location']}`" in summary
    for path, namespace in (
        ("kubernetes/client/demo-app/deployment-mysql-client.yaml", "demo-app"),
        ("kubernetes/server/demo-db/deployment-mysql.yaml", "demo-db"),
    ):
        deployment = _golden(path)
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert (
            f"| `{namespace}` | Deployment `{deployment['metadata']['name']}` | 1 | `{image}` | "
            "meshlink-demo |"
        ) in summary


def test_the_golden_summary_counts_days_left_at_the_render_clock() -> None:
    summary = (GOLDEN / "summary.md").read_text()
    # The golden clock is 2026-01-01; the leaves last 90 days.
    assert re.search(
        r"\| `link-client-client-cert-cert` \|.*\| 2026-04-01 00:00 UTC \| 90 \|", summary
    )


def _short_lived_program(tmp_path: Path) -> Path:
    program = tmp_path / "short-lived"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: short-lived\nruntime: python\n")
    (program / "__main__.py").write_text(SHORT_LIVED_PROGRAM)
    (program / "Pulumi.t.yaml").write_text("config: {}\n")
    return program


def test_render_warns_about_a_certificate_close_to_expiry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = _short_lived_program(tmp_path)
    out = tmp_path / "out"
    argv = ["render", str(program), "--stack", "t", "--out", str(out)]
    assert main([*argv, "--now", "2026-03-01T00:00:00Z"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "warning:" in line]
    assert warnings == [
        "  warning: certificate short expires on 2026-03-11 00:00 UTC, 10 days after the "
        "render clock (less than 30)"
    ]
    assert "warning" not in captured.out
    assert "running it on the offline engine" in captured.err  # progress on stderr
    assert "running it" not in captured.out
    summary = (out / "summary.md").read_text()
    assert re.search(
        r"\| `short` \|.*\| 2026-03-11 00:00 UTC \| \*\*10\*\* \(less than 30\) \|", summary
    )
    assert re.search(r"\| `long` \|.*\| 2026-05-30 00:00 UTC \| 90 \|", summary)

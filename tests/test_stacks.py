"""The split-ownership stacks (``stacks/pki``, ``stacks/server``, ``stacks/client``) run as
the CLI would run them, with their example configuration, one after the other: the pki
stack's real outputs feed the server stack's StackReference, the server stack's feed the
client stack's. The helpers here run any program directory; the dev stack's and the
configuration's tests use them too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from pulumi.runtime import mocks as pulumi_mocks

from meshlink.config import pki_outputs_read
from meshlink.offline.engine import OfflineMocks, OfflineRun, Registration, run_program
from meshlink.offline.program import execute, load_program
from meshlink.stack_outputs import placeholders_for
from tests.support.mesh import DELETE, by_cluster, of_kind, with_setting
from tests.support.pki import certificates, plain_text, verify_client, verify_server

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)

PKI_STACK = "acme/meshlink-pki/prod"
SERVER_STACK = "acme/meshlink-server/prod"
FQDN = "mysql.link.internal.example.com"
CLIENT_URI = "spiffe://link.example.com/cluster/orders-client"

SECRET_TYPE = "kubernetes:core/v1:Secret"
ADDRESS = "gcp:compute/address:Address"
SERVICE_TYPE = "kubernetes:core/v1:Service"
RECORD_TYPE = "gcp:dns/recordSet:RecordSet"
ZONE_TYPE = "gcp:dns/managedZone:ManagedZone"
LEAF_TYPE = "meshlink:index:LeafCertificate"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


# --------------------------------------------------------------------------- helpers


class RecordingMocks(OfflineMocks):
    """Offline mocks that also list every registration request, so a failed run can be
    shown to have registered nothing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requested: list[str] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        self.requested.append(f"{args.typ}::{args.name}")
        return super().new_resource(args)


def edit_config(
    config: Mapping[str, str], key: str, path: str | None, value: Any
) -> dict[str, str]:
    """``config`` with the value of ``key`` (fully qualified) changed at ``path`` (``a.b[0].c``,
    or None for the whole value; an unset key starts as an empty object); ``DELETE`` removes
    it."""
    out = dict(config)
    if path is None:
        if value is DELETE:
            out.pop(key, None)
        else:
            out[key] = value if isinstance(value, str) else json.dumps(value)
        return out
    current = json.loads(out.get(key, "{}"))
    edited = with_setting({"value": current}, f"value.{path}", value)["value"]
    out[key] = json.dumps(edited)
    return out


def run_stack(
    directory: Path,
    stack: str,
    *,
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    mocks: OfflineMocks | None = None,
) -> OfflineRun:
    """Run a program directory with its stack file, as ``meshlink render`` does; ``config``
    replaces the loaded configuration (see :func:`loaded_config`)."""
    program = load_program(directory, stack)
    return run_program(
        lambda: execute(program),
        project=program.project,
        stack=program.stack,
        config=program.config if config is None else config,
        secret_config_keys=program.secret_keys if secret_keys is None else secret_keys,
        mocks=mocks or OfflineMocks(now=NOW, seed=f"{program.project}/{stack}"),
    )


def loaded_config(directory: Path, stack: str) -> dict[str, str]:
    return dict(load_program(directory, stack).config)


def secret_outputs_of(run: OfflineRun) -> frozenset[str]:
    return run.secret_outputs


def plain_outputs_text(run: OfflineRun) -> str:
    return plain_text({k: v for k, v in run.outputs.items() if k not in run.secret_outputs})


def kubernetes_by_name(run: OfflineRun, kind_type: str, metadata_name: str) -> Registration:
    matches = [
        r
        for r in run.of_type(kind_type)
        if r.inputs.get("metadata", {}).get("name") == metadata_name
    ]
    assert len(matches) == 1, [r.name for r in run.of_type(kind_type)]
    return matches[0]


# --------------------------------------------------------------------------- the three stacks


@pytest.fixture(scope="module")
def pki() -> OfflineRun:
    return run_stack(STACKS / "pki", "prod")


def run_server_stack(
    pki: OfflineRun,
    *,
    config: dict[str, str] | None = None,
    pki_outputs: Mapping[str, Any] | None = None,
) -> OfflineRun:
    """The server stack reading ``pki`` (or ``pki_outputs`` in place of its outputs), with
    the producer's secret marks as the engine would report them."""
    return run_stack(
        STACKS / "server",
        "prod",
        config=config,
        mocks=OfflineMocks(
            now=NOW,
            seed="meshlink-server/prod",
            stack_references={PKI_STACK: pki.outputs if pki_outputs is None else pki_outputs},
            secret_stack_outputs={PKI_STACK: pki.secret_outputs},
        ),
    )


@pytest.fixture(scope="module")
def server(pki: OfflineRun) -> OfflineRun:
    return run_server_stack(pki)


@pytest.fixture(scope="module")
def client(pki: OfflineRun, server: OfflineRun) -> OfflineRun:
    return run_stack(
        STACKS / "client",
        "prod",
        mocks=OfflineMocks(
            now=NOW,
            seed="meshlink-client/prod",
            stack_references={PKI_STACK: pki.outputs, SERVER_STACK: server.outputs},
            secret_stack_outputs={PKI_STACK: pki.secret_outputs, SERVER_STACK: frozenset()},
        ),
    )


def test_pki_issues_a_server_and_a_client_certificate_under_one_ca(pki: OfflineRun) -> None:
    leaves = {r.name for r in pki.of_type(LEAF_TYPE)}
    assert leaves == {"server", "client"}
    out = pki.outputs
    trust = out["trust_bundle_pem"]
    path = verify_server(out["server_full_chain_pem"], trust, FQDN, at=NOW)
    # Leaf, issuing CA, root: the chain carries the issuing CA, the bundle only the root.
    assert len(path) == 3
    assert len(certificates(trust)) == 1
    assert certificates(out["ca_certificate_pem"]) == certificates(trust)
    server_leaf = certificates(out["server_full_chain_pem"])[0]
    sans = server_leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [FQDN]
    verified = verify_client(out["client_full_chain_pem"], trust, at=NOW)
    assert [str(u.value) for u in verified.subjects or []] == [CLIENT_URI]
    assert out["server_fqdns"] == [FQDN]
    # The one-client key names its client "client": its outputs keep the client_ prefix.
    assert out["client_sans"] == {"client": CLIENT_URI}
    # The example asks for a P-384 root (what a stricter policy may require).
    root_key = certificates(trust)[0].public_key()
    assert root_key.curve.name == "secp384r1"  # type: ignore[union-attr]


def test_pki_exports_the_keys_as_secrets_and_nothing_else_holds_one(pki: OfflineRun) -> None:
    keys = {pki_outputs_read(holder)[1][0] for holder in ("server", "client")}
    assert keys == {"server_private_key_pem", "client_private_key_pem"}
    assert keys <= pki.secret_outputs
    for key in keys:
        assert "PRIVATE KEY-----" in pki.outputs[key]
    assert "PRIVATE KEY" not in plain_outputs_text(pki)


def test_server_stack_reads_the_pki_stack_through_one_declared_reference(
    server: OfflineRun,
) -> None:
    (reference,) = server.of_type(STACK_REFERENCE)
    assert reference.inputs["name"] == PKI_STACK
    # No server certificate is issued here: the credential comes from the pki stack.
    assert server.of_type(LEAF_TYPE) == []
    assert server.of_type("tls:index/privateKey:PrivateKey") == []


def test_server_credential_is_the_pki_certificate_and_stays_secret(
    pki: OfflineRun, server: OfflineRun
) -> None:
    secret = kubernetes_by_name(server, SECRET_TYPE, "link-mysql-server-tls")
    assert "stringData" in secret.secret_inputs
    data = secret.inputs["stringData"]
    assert data["tls.crt"] == pki.outputs["server_full_chain_pem"]
    assert data["tls.key"] == pki.outputs["server_private_key_pem"]
    # The server's ca.crt verifies the clients.
    verify_client(pki.outputs["client_full_chain_pem"], data["ca.crt"], at=NOW)
    assert "PRIVATE KEY" not in plain_outputs_text(server)
    assert server.secret_outputs == {"kubeconfig"}


def test_a_key_the_producer_forgot_to_mark_stays_secret(pki: OfflineRun) -> None:
    """The server stack declares the key outputs secret itself, so a pki stack that exported
    them in plain text still does not make a plain Secret input here."""
    careless = run_stack(
        STACKS / "server",
        "prod",
        mocks=OfflineMocks(
            now=NOW,
            seed="meshlink-server/prod",
            stack_references={PKI_STACK: pki.outputs},
            secret_stack_outputs={PKI_STACK: frozenset()},
        ),
    )
    secret = kubernetes_by_name(careless, SECRET_TYPE, "link-mysql-server-tls")
    assert "stringData" in secret.secret_inputs


def test_server_allowlist_is_the_configured_client_nat_addresses(server: OfflineRun) -> None:
    config = yaml.safe_load((STACKS / "server" / "Pulumi.prod.yaml").read_text())["config"]
    expected = [f"{ip}/32" for ip in config["meshlink-server:client_nat_addresses"]]
    (gateway_service,) = [
        s for s in of_kind(server, "Service") if s["spec"].get("type") == "LoadBalancer"
    ]
    assert gateway_service["spec"]["loadBalancerSourceRanges"] == expected
    # The reserved address by name, in GKE's annotation (not loadBalancerIP), in its tier.
    assert "loadBalancerIP" not in gateway_service["spec"]
    annotations = gateway_service["metadata"]["annotations"]
    (reserved,) = [
        r
        for r in server.of_type(ADDRESS)
        if r.inputs.get("name") == annotations["networking.gke.io/load-balancer-ip-addresses"]
    ]
    assert reserved.outputs["address"] == server.outputs["ingress_address"]
    assert annotations["cloud.google.com/network-tier"].upper() == reserved.inputs["networkTier"]
    assert server.outputs["source_ranges"] == expected
    assert {port["port"] for port in gateway_service["spec"]["ports"]} >= {13306}


def test_server_gateway_admits_the_client_identity_at_tls_1_3(server: OfflineRun) -> None:
    (gateway,) = [g for g in of_kind(server, "Gateway")]
    tls = gateway["spec"]["servers"][0]["tls"]
    assert tls["mode"] == "MUTUAL"
    assert tls["credentialName"] == "link-mysql-server-tls"
    assert tls["subjectAltNames"] == [CLIENT_URI]
    assert tls["minProtocolVersion"] == "TLSV1_3"


def test_every_kubernetes_object_goes_to_the_stack_s_own_cluster(
    server: OfflineRun, client: OfflineRun
) -> None:
    assert {cluster for cluster, _ in by_cluster(server)} == {"server"}
    assert {cluster for cluster, _ in by_cluster(client)} == {"client"}


def test_client_credential_is_the_pki_client_certificate(
    pki: OfflineRun, client: OfflineRun
) -> None:
    secret = kubernetes_by_name(client, SECRET_TYPE, "link-client-tls")
    assert "stringData" in secret.secret_inputs
    data = secret.inputs["stringData"]
    assert data["tls.crt"] == pki.outputs["client_full_chain_pem"]
    assert data["tls.key"] == pki.outputs["client_private_key_pem"]
    # The client's ca.crt verifies the server for the FQDN.
    verify_server(pki.outputs["server_full_chain_pem"], data["ca.crt"], FQDN, at=NOW)
    assert "PRIVATE KEY" not in plain_outputs_text(client)
    assert client.secret_outputs == {"kubeconfig"}


def test_client_names_point_at_the_server_stack_ingress_address(
    server: OfflineRun, client: OfflineRun
) -> None:
    records = {r.inputs["name"]: r for r in client.of_type(RECORD_TYPE)}
    assert records[f"{FQDN}."].inputs["rrdatas"] == [server.outputs["ingress_address"]]
    references = {r.inputs["name"] for r in client.of_type(STACK_REFERENCE)}
    assert references == {PKI_STACK, SERVER_STACK}
    zones = {r.inputs["dnsName"]: r for r in client.of_type(ZONE_TYPE)}
    network = client.named("gcp:compute/network:Network", "client-network")
    for zone in zones.values():
        bound = [n["networkUrl"] for n in zone.inputs["privateVisibilityConfig"]["networks"]]
        assert bound == [f"projects/{network.inputs['project']}/global/networks/orders-app"]
    assert set(zones) == {"link.internal.example.com.", "googleapis.com."}


def test_client_stack_first_run_without_the_server_stack(pki: OfflineRun) -> None:
    """The client stack runs before the server stack exists, to give its NAT addresses;
    everything but the DNS names is declared then."""
    config = edit_config(
        loaded_config(STACKS / "client", "prod"), "meshlink-client:server_stack", None, ""
    )
    first = run_stack(
        STACKS / "client",
        "prod",
        config=config,
        mocks=OfflineMocks(
            now=NOW,
            stack_references={PKI_STACK: pki.outputs},
            secret_stack_outputs={PKI_STACK: pki.secret_outputs},
        ),
    )
    assert {r.inputs["name"] for r in first.of_type(STACK_REFERENCE)} == {PKI_STACK}
    assert [r.inputs["dnsName"] for r in first.of_type(ZONE_TYPE)] == ["googleapis.com."]
    assert len(first.outputs["nat_addresses"]) == 2
    assert of_kind(first, "ServiceEntry")


def test_stacks_render_on_their_own_with_placeholders() -> None:
    """Without the other stacks' outputs (``meshlink render`` with no outputs file), the
    declared outputs stand in as marked placeholders and the key placeholders stay
    secret."""
    run = run_stack(
        STACKS / "server",
        "prod",
        mocks=OfflineMocks(now=NOW, stack_reference_placeholders=placeholders_for),
    )
    secret = kubernetes_by_name(run, SECRET_TYPE, "link-mysql-server-tls")
    assert secret.inputs["stringData"]["tls.key"].startswith("<placeholder: output")
    assert "stringData" in secret.secret_inputs


def test_server_stack_refuses_an_allowlist_that_opens_the_gateway() -> None:
    config = edit_config(
        loaded_config(STACKS / "server", "prod"),
        "meshlink-server:client_nat_addresses",
        None,
        ["203.0.113.10", "0.0.0.0", "10.0.0.0/8"],  # noqa: S104 (refused input)
    )
    mocks = RecordingMocks(now=NOW)
    with pytest.raises(Exception) as caught:
        run_stack(STACKS / "server", "prod", config=config, mocks=mocks)
    message = str(caught.value)
    assert "meshlink-server:client_nat_addresses[1]: '0.0.0.0' would allow every source" in message
    assert "meshlink-server:client_nat_addresses[2]: '10.0.0.0/8' is not a single IPv4" in message
    assert mocks.requested == []


@pytest.mark.parametrize(
    ("directory", "key"),
    [
        ("pki", "meshlink-pki:server_fqdns"),
        ("pki", "meshlink-pki:ca"),
        ("server", "meshlink-server:pki_stack"),
        ("server", "meshlink-server:client_nat_addresses"),
        ("server", "meshlink-server:server"),
        ("client", "meshlink-client:pki_stack"),
        ("client", "meshlink-client:dns"),
        ("client", "meshlink-client:client"),
    ],
)
def test_split_stacks_name_a_missing_required_key(directory: str, key: str) -> None:
    config = edit_config(loaded_config(STACKS / directory, "prod"), key, None, DELETE)
    mocks = RecordingMocks(now=NOW)
    with pytest.raises(Exception) as caught:
        run_stack(STACKS / directory, "prod", config=config, mocks=mocks)
    assert f"{key}: is required" in str(caught.value)
    assert mocks.requested == []


def test_every_split_stack_declares_each_key_it_reads() -> None:
    """The CLI refuses a stack key the project does not declare, so each stack file sets
    only declared keys. (The other direction is covered by the runs above: every declared
    default is loaded, and the loader refuses a key its program does not read.)"""
    for name in ("pki", "server", "client"):
        project = yaml.safe_load((STACKS / name / "Pulumi.yaml").read_text())
        declared = set(project["config"])
        stack_keys = yaml.safe_load((STACKS / name / "Pulumi.prod.yaml").read_text())["config"]
        prefix = f"{project['name']}:"
        assert all(k.startswith(prefix) for k in stack_keys), name
        assert {k.removeprefix(prefix) for k in stack_keys} <= declared, name
        requirements = (STACKS / name / "requirements.txt").read_text().split()
        # The programs read their config through meshlink.config, which needs meshlink.gcp.
        assert "../..[gcp]" in requirements and "../../constraints.txt" in requirements
        assert project["runtime"]["options"] == {"toolchain": "pip", "virtualenv": ".venv"}

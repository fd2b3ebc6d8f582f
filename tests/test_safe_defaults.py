"""Defaults that cannot surprise a team importing a link into clusters it already runs: no
NetworkPolicy unless asked for (and then scoped as asked), and leaf lifetimes that are
settable, bounded and never longer than the CA that signs them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from meshlink.config import CA_CERT_KEY, CA_KEY_KEY
from meshlink.mesh import LinkClient, MeshLink
from meshlink.offline.engine import OfflineRun
from meshlink.pki import CertificateAuthority, ExistingCertificateAuthority, LeafCertificate
from meshlink.validation import MeshlinkValidationError
from tests.support import mesh
from tests.support.pki import cert_of, make_ca, run_pki
from tests.test_config import DEV, rejected, with_value
from tests.test_mesh_validation import run_bad
from tests.test_stacks import ROOT, edit_config, run_stack

LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"


def _policies(run: OfflineRun) -> list[dict[str, Any]]:
    return mesh.of_kind(run, "NetworkPolicy")


def _link(**settings: Any) -> OfflineRun:
    """The example link with each dotted ``path=value`` of ``settings`` applied."""

    def program() -> None:
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        args: Any = mesh.link_args(client, server)
        for path, value in settings.items():
            args = mesh.with_setting(args, path, value)
        MeshLink("mysql-link", args)

    return mesh.run_link(program)


# --------------------------------------------------------------------- NetworkPolicy


def test_a_link_without_network_policy_settings_declares_no_policy() -> None:
    run = _link(**{"client.network_policy": mesh.DELETE})
    assert _policies(run) == []
    # the rest of the client side is there: only the policy is left out
    assert mesh.of_kind(run, "ServiceEntry")


def test_enabled_without_a_selector_locks_down_every_pod_of_each_client_namespace() -> None:
    policies = _policies(_link(**{"client.network_policy": {"enabled": True}}))
    assert sorted(p["metadata"]["namespace"] for p in policies) == sorted(mesh.CLIENT_NAMESPACES)
    assert all(p["spec"]["podSelector"] == {} for p in policies)


def test_a_pod_selector_confines_only_the_selected_pods() -> None:
    selector = {"app.kubernetes.io/name": "orders-api"}
    policies = _policies(
        _link(**{"client.network_policy": {"enabled": True, "pod_selector": selector}})
    )
    assert len(policies) == len(mesh.CLIENT_NAMESPACES)
    for policy in policies:
        assert policy["spec"]["podSelector"] == {"matchLabels": selector}
        assert policy["spec"]["policyTypes"] == ["Egress"]


def test_the_dev_stack_turns_the_full_lock_down_on() -> None:
    run = run_stack(ROOT, "dev")
    policies = _policies(run)
    assert {p["metadata"]["namespace"] for p in policies} == {"demo-app"}
    assert all(p["spec"]["podSelector"] == {} for p in policies)


def test_the_dev_stack_without_its_network_policy_key_declares_none() -> None:
    config = edit_config(DEV, "meshlink:client", "network_policy", mesh.DELETE)
    assert _policies(run_stack(ROOT, "dev", config=config)) == []


# ------------------------------------------------------------------------ lifetimes


def _leaf_inputs(run: OfflineRun) -> list[tuple[int, int]]:
    return [
        (r.inputs["validityPeriodHours"], r.inputs["earlyRenewalHours"])
        for r in run.of_type(LOCALLY_SIGNED_CERT)
        if r.name.endswith(("-server-cert-cert", "-client-cert-cert"))
    ]


def test_meshlink_leaf_lifetime_reaches_every_leaf() -> None:
    run = _link(leaf_lifetime={"validity_hours": 720, "early_renewal_hours": 168})
    leaves = _leaf_inputs(run)
    assert len(leaves) == 2  # one server leaf (one service) and the client leaf
    assert set(leaves) == {(720, 168)}


def test_the_default_leaf_lifetime_is_90_days_due_30_days_before() -> None:
    assert set(_leaf_inputs(_link())) == {(2160, 720)}


def test_a_long_leaf_is_accepted_with_the_named_override() -> None:
    run = _link(leaf_lifetime={"validity_hours": 500 * 24, "allow_long_validity": True})
    assert set(_leaf_inputs(run)) == {(500 * 24, 720)}


def test_a_short_issuing_ca_is_accepted_for_leaves_shorter_than_it() -> None:
    run = _link(
        link_ca={
            "subject": {"common_name": "Link CA"},
            "issuing_ca": {
                "subject": {"common_name": "Issuing CA"},
                "validity_hours": 720,
                "early_renewal_hours": 24,
            },
        },
        leaf_lifetime={"validity_hours": 168, "early_renewal_hours": 48},
    )
    assert set(_leaf_inputs(run)) == {(168, 48)}


def _existing_ca_expiring_in(days: int) -> Any:
    made = make_ca("Own CA", not_after=mesh.NOW + dt.timedelta(days=days))
    return lambda: ExistingCertificateAuthority(
        "own-ca",
        {"cert_pem": made.cert_pem, "private_key_pem": made.key_pem},
        clock=lambda: mesh.NOW,
    )


def test_a_link_ca_with_less_time_left_than_a_leaf_is_refused_up_front() -> None:
    make = _existing_ca_expiring_in(30)

    def program() -> None:
        ca = make()
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        MeshLink("mysql-link", mesh.link_args(client, server, link_ca=ca))

    error, registered = run_bad(program)
    # the CA the caller declared is all there is; nothing of the link
    assert registered == ["meshlink:index:ExistingCertificateAuthority"]
    message = str(error)
    assert "leaf_lifetime.validity_hours (2160) is longer than the link CA's signing" in message
    assert "(720 hours)" in message


def test_a_link_ca_with_time_enough_for_shorter_leaves_is_accepted() -> None:
    make = _existing_ca_expiring_in(30)

    def program() -> None:
        ca = make()
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        server = k8s.Provider("server-cluster", kubeconfig="{}")
        args = mesh.link_args(
            client,
            server,
            link_ca=ca,
            leaf_lifetime={"validity_hours": 336, "early_renewal_hours": 72},
        )
        MeshLink("mysql-link", args)

    assert set(_leaf_inputs(mesh.run_link(program))) == {(336, 72)}


def test_a_standalone_leaf_longer_than_its_generated_issuer_is_refused() -> None:
    def program() -> None:
        ca = CertificateAuthority(
            "ca",
            {
                "subject": {"common_name": "Root"},
                "issuing_ca": {
                    "subject": {"common_name": "Issuing"},
                    "validity_hours": 720,
                    "early_renewal_hours": 24,
                },
            },
        )
        LeafCertificate("leaf", {"issuer": ca, "role": "server", "dns_names": ["a.example.com"]})

    with pytest.raises(MeshlinkValidationError, match=r"validity_hours \(2160\) is longer"):
        run_pki(program)


def test_a_standalone_leaf_takes_its_lifetime() -> None:
    def program() -> None:
        ca = CertificateAuthority("ca", {"subject": {"common_name": "Root"}})
        leaf = LeafCertificate(
            "leaf",
            {
                "issuer": ca,
                "role": "server",
                "dns_names": ["a.example.com"],
                "validity_hours": 48,
                "early_renewal_hours": 12,
            },
        )
        pulumi.export("leaf", leaf.cert_pem)

    cert = cert_of(run_pki(program), "leaf-cert")
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(hours=48)


def test_leaf_lifetime_in_config_reaches_the_link() -> None:
    config = with_value("leaf_lifetime", None, {"validity_hours": 1440, "early_renewal_hours": 240})
    run = run_stack(ROOT, "dev", config=config)
    leaves = [
        (r.inputs["validityPeriodHours"], r.inputs["earlyRenewalHours"])
        for r in run.of_type(LOCALLY_SIGNED_CERT)
        if not r.inputs.get("isCaCertificate")
    ]
    assert leaves and set(leaves) == {(1440, 240)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"validity_hours": 400 * 24},
            "meshlink:leaf_lifetime: validity_hours (9600) exceeds 397 days",
        ),
        ({"validity_hours": "2160"}, "meshlink:leaf_lifetime.validity_hours: Input should be"),
        ({"validity_hours": 12}, "meshlink:leaf_lifetime.validity_hours: Input should be greater"),
        (
            {"validity_hours": 48, "early_renewal_hours": 48},
            "early_renewal_hours (48) must be less than validity_hours (48)",
        ),
        (
            {"validity_hours": 27000, "allow_long_validity": True},
            "meshlink:ca.issuing_ca.validity_hours (26280) is shorter than the leaves it signs "
            "(meshlink:leaf_lifetime.validity_hours: 27000 hours)",
        ),
    ],
    ids=["over-397-days", "string", "under-a-day", "renewal-not-shorter", "outlives-issuing-ca"],
)
def test_bad_leaf_lifetimes_in_config_are_named(value: dict[str, Any], expected: str) -> None:
    error = rejected(with_value("leaf_lifetime", None, value))
    assert any(expected in problem for problem in error.problems), error.problems


# --------------------------------------------------------------- type checks up front


def test_an_output_as_a_sides_issuer_says_what_to_pass() -> None:
    def program() -> None:
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        args: Any = {
            "services": mesh.services(1),
            "issuer": pulumi.Output.from_input("not a CA"),
            "client_identity": {"dns_name": mesh.CLIENT_SAN},
            "namespaces": ["orders"],
        }
        LinkClient("client", args, opts=pulumi.ResourceOptions(provider=client))

    error, registered = run_bad(program)
    assert registered == []
    assert "issuer: got an Output" in str(error)
    assert "pass the CA component itself" in str(error)


def test_an_output_as_a_leafs_issuer_is_refused() -> None:
    def program() -> None:
        LeafCertificate(
            "leaf",
            {
                "issuer": pulumi.Output.from_input("x"),  # type: ignore[typeddict-item]
                "role": "server",
                "dns_names": ["a.example.com"],
            },
        )

    error, registered = run_bad(program)
    assert registered == []
    assert "issuer: got an Output" in str(error)
    assert "pass the CA component itself" in str(error)


def test_a_leaf_lifetime_with_a_credential_is_refused() -> None:
    def program() -> None:
        client = k8s.Provider("client-cluster", kubeconfig="{}")
        args: Any = {
            "services": mesh.services(1),
            "credential": {
                "full_chain_pem": "-----BEGIN CERTIFICATE-----\n",
                "private_key_pem": "-----BEGIN PRIVATE KEY-----\n",
            },
            "server_trust_bundle_pem": "-----BEGIN CERTIFICATE-----\n",
            "namespaces": ["orders"],
            "leaf_lifetime": {"validity_hours": 1440},
        }
        LinkClient("client", args, opts=pulumi.ResourceOptions(provider=client))

    error, registered = run_bad(program)
    assert registered == []
    assert "leaf_lifetime cannot be set with credential" in str(error)


def test_a_bring_your_own_ca_expiring_before_the_leaves_is_refused_before_anything() -> None:
    now = dt.datetime.now(dt.UTC)
    made = make_ca(
        "Own CA", not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=30)
    )
    config = with_value("ca", None, {"mode": "existing"})
    config[f"meshlink:{CA_CERT_KEY}"] = made.cert_pem
    config[f"meshlink:{CA_KEY_KEY}"] = made.key_pem
    secret = [f"meshlink:{CA_CERT_KEY}", f"meshlink:{CA_KEY_KEY}"]
    error = rejected(config, secret_keys=secret)
    assert any(
        p.startswith("meshlink:leaf_lifetime.validity_hours (2160) is longer than ")
        and f"meshlink:{CA_CERT_KEY} has left to live" in p
        for p in error.problems
    ), error.problems
    # with leaves shorter than what the CA has left, the same CA is accepted
    shorter = edit_config(
        config, "meshlink:leaf_lifetime", None, {"validity_hours": 240, "early_renewal_hours": 48}
    )
    run = run_stack(ROOT, "dev", config=shorter, secret_keys=secret)
    leaves = {
        (r.inputs["validityPeriodHours"], r.inputs["earlyRenewalHours"])
        for r in run.of_type(LOCALLY_SIGNED_CERT)
    }
    assert leaves == {(240, 48)}

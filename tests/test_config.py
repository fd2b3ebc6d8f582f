"""The dev stack's configuration is checked in full before anything is declared: a bad
value, a missing key or a rule between keys is reported in one error whose lines name the
key path, and the run registers nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from meshlink.config import CA_CERT_KEY, CA_KEY_KEY
from meshlink.validation import MeshlinkValidationError, check_image
from tests.support.mesh import DELETE
from tests.support.pki import MadeCa, make_ca, make_key
from tests.test_stacks import ROOT, RecordingMocks, edit_config, loaded_config, run_stack

DEV = loaded_config(ROOT, "dev")


def rejected(
    config: dict[str, str], *, secret_keys: list[str] | None = None
) -> MeshlinkValidationError:
    """Run the dev program with ``config``; it must fail with one validation error before
    registering anything."""
    mocks = RecordingMocks(now=dt.datetime.now(dt.UTC))
    with pytest.raises(MeshlinkValidationError) as caught:
        run_stack(ROOT, "dev", config=config, secret_keys=secret_keys, mocks=mocks)
    assert mocks.requested == []
    return caught.value


def with_value(key: str, path: str | None, value: Any) -> dict[str, str]:
    return edit_config(DEV, f"meshlink:{key}", path, value)


@pytest.mark.parametrize("key", ["client", "server", "services", "client_identity", "dns", "ca"])
def test_each_required_key_missing_is_named(key: str) -> None:
    error = rejected(with_value(key, None, DELETE))
    assert f"meshlink:{key}: is required" in error.problems[0]
    assert len(error.problems) == 1


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "network.subnet_cidr",
            "10.10.0.0/33",
            "meshlink:client.network.subnet_cidr: '10.10.0.0/33' is not an IPv4 CIDR block",
        ),
        (
            "network.services_cidr",
            "10.10.16.1/20",
            "meshlink:client.network.services_cidr: '10.10.16.1/20' has host bits set",
        ),
        (
            "network.pods_cidr",
            "8.8.0.0/14",
            "meshlink:client.network.pods_cidr: '8.8.0.0/14' is not inside the private address",
        ),
    ],
)
def test_an_invalid_cidr_is_named(path: str, value: str, expected: str) -> None:
    error = rejected(with_value("client", path, value))
    assert any(p.startswith(expected) for p in error.problems), error.problems


def test_overlapping_cidrs_between_the_two_networks_are_named() -> None:
    error = rejected(with_value("server", "network.pods_cidr", "10.64.0.0/14"))
    assert list(error.problems) == [
        "meshlink:server.network.pods_cidr: 10.64.0.0/14 overlaps meshlink:client.network."
        "pods_cidr 10.64.0.0/14; the two networks of a link must not overlap, so that they "
        "can be peered or connected later"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mysql_db.link.internal.example.com", "is not a valid FQDN"),
        ("mysql", "is not fully qualified"),
        ("*.link.internal.example.com", "a wildcard is not allowed"),
    ],
)
def test_a_bad_fqdn_is_named(value: str, expected: str) -> None:
    error = rejected(with_value("services", "[0].fqdn", value))
    assert error.problems[0].startswith("meshlink:services[0].fqdn: ")
    assert expected in error.problems[0]


def test_an_fqdn_outside_the_private_zone_is_named() -> None:
    error = rejected(with_value("services", "[0].fqdn", "mysql.db.example.org"))
    assert list(error.problems) == [
        "meshlink:services[0].fqdn: 'mysql.db.example.org' is not under the private zone "
        "meshlink:dns.zone 'link.internal.example.com', so the client network could not "
        "resolve it to the ingress address"
    ]


def test_a_reserved_link_port_is_named_as_the_issue_says() -> None:
    error = rejected(with_value("services", "[0].link_port", 15021))
    assert error.problems[0].startswith(
        "meshlink:services[0].link_port: 15021 is reserved by Istio"
    )


def test_a_port_collision_between_services_is_named() -> None:
    second = {
        "name": "cache",
        "fqdn": "cache.link.internal.example.com",
        "app_port": 3306,
        "link_port": 13306,
        "target_host": "redis.cache.svc.cluster.local",
        "target_port": 6379,
    }
    first = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["meshlink:services"]
    error = rejected(with_value("services", None, [*first, second]))
    assert (
        "meshlink:services[1].app_port: 3306 is already used by meshlink:services[0] ('mysql')"
        in (error.problems)
    )
    assert (
        "meshlink:services[1].link_port: 13306 is already used by meshlink:services[0] ('mysql')"
        in (error.problems)
    )


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("key", {"ecdsa_curve": "P224"}, "meshlink:ca.key: ECDSA curve P224 is too weak"),
        (
            "key",
            {"algorithm": "RSA", "rsa_bits": 1024},
            "meshlink:ca.key: RSA keys of 1024 bits are too weak",
        ),
        (
            "issuing_ca.key",
            {"ecdsa_curve": "P224"},
            "meshlink:ca.issuing_ca.key: ECDSA curve P224 is too weak",
        ),
    ],
)
def test_a_weak_key_choice_is_named(path: str, value: Any, expected: str) -> None:
    error = rejected(with_value("ca", path, value))
    assert any(p.startswith(expected) for p in error.problems), error.problems


def _byo_config(cert_pem: str, key_pem: str) -> tuple[dict[str, str], list[str]]:
    config = with_value("ca", None, {"mode": "existing"})
    config[f"meshlink:{CA_CERT_KEY}"] = cert_pem
    config[f"meshlink:{CA_KEY_KEY}"] = key_pem
    return config, [f"meshlink:{CA_CERT_KEY}", f"meshlink:{CA_KEY_KEY}"]


def _recent_ca(common_name: str, *, is_ca: bool = True) -> MadeCa:
    """A CA (or leaf) valid now: a bring-your-own CA is checked against the real clock."""
    now = dt.datetime.now(dt.UTC)
    return make_ca(
        common_name,
        key=make_key(),
        is_ca=is_ca,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=365),
    )


def test_a_bring_your_own_ca_that_is_not_a_ca_is_named_without_its_key() -> None:
    leaf = _recent_ca("not a CA", is_ca=False)
    config, secret = _byo_config(leaf.cert_pem, leaf.key_pem)
    error = rejected(config, secret_keys=secret)
    assert any(
        p.startswith(f"meshlink:{CA_CERT_KEY}: ") and "not a CA" in p for p in error.problems
    ), error.problems
    assert "PRIVATE KEY" not in str(error)
    assert leaf.key_pem not in str(error)


def test_a_bring_your_own_key_that_does_not_match_is_named() -> None:
    ca = _recent_ca("Example link CA")
    other = _recent_ca("Other")
    config, secret = _byo_config(ca.cert_pem, other.key_pem)
    error = rejected(config, secret_keys=secret)
    assert any(p.startswith(f"meshlink:{CA_KEY_KEY}: is not the key of") for p in error.problems)
    assert "PRIVATE KEY" not in str(error)


def test_a_bring_your_own_ca_in_plain_configuration_is_refused() -> None:
    ca = _recent_ca("Example link CA")
    config, _ = _byo_config(ca.cert_pem, ca.key_pem)
    error = rejected(config, secret_keys=[f"meshlink:{CA_CERT_KEY}"])
    assert list(error.problems) == [
        f"meshlink:{CA_KEY_KEY}: must be set with --secret "
        f"(pulumi config set --secret meshlink:{CA_KEY_KEY} < file.pem)"
    ]
    assert "PRIVATE KEY" not in str(error)


def test_ca_keys_set_for_another_mode_are_refused() -> None:
    ca = _recent_ca("Example link CA")
    config = dict(DEV)
    config[f"meshlink:{CA_KEY_KEY}"] = ca.key_pem
    error = rejected(config, secret_keys=[f"meshlink:{CA_KEY_KEY}"])
    assert list(error.problems) == [
        f"meshlink:{CA_KEY_KEY}: is set, but meshlink:ca.mode is generate; it is read only "
        "with mode: existing (remove it)"
    ]


def test_every_problem_comes_in_one_error() -> None:
    config = with_value("client", "network.subnet_cidr", "nonsense")
    config = edit_config(config, "meshlink:services", "[0].app_port", 70000)
    config = edit_config(config, "meshlink:ca", "key", {"ecdsa_curve": "P224"})
    config = edit_config(config, "meshlink:demo", "server_image", "mysql:latest")
    error = rejected(config)
    prefixes = [p.split(":", 2)[0] + ":" + p.split(":", 2)[1] for p in error.problems]
    assert {
        "meshlink:client.network.subnet_cidr",
        "meshlink:services[0].app_port",
        "meshlink:ca.key",
        "meshlink:demo.server_image",
    } <= set(prefixes), error.problems
    assert str(error).startswith("configuration: invalid settings:\n  - ")


def test_values_of_secret_keys_are_never_repeated() -> None:
    """A value set as a secret may be anything the user wanted hidden; a problem with it
    names the key and the rule, not the value."""
    config = with_value("client", "project", "Secret-Project-Name!")
    error = rejected(config, secret_keys=["meshlink:client"])
    assert any(p.startswith("meshlink:client.project: ") for p in error.problems)
    assert "Secret-Project-Name" not in str(error)
    shown = rejected(config)
    assert "Secret-Project-Name" in str(shown)


def test_a_misspelt_key_is_named_rather_than_ignored() -> None:
    config = dict(DEV)
    config["meshlink:sevices"] = "[]"
    error = rejected(config)
    assert error.problems[0].startswith("meshlink:sevices: is not a setting of this program")


@pytest.mark.parametrize(
    ("key", "path", "value", "expected"),
    [
        (
            "client",
            "cluster.project",
            "other-project",
            "meshlink:client.cluster.project: cannot be set here; it is the side's project",
        ),
        (
            "client",
            "network.project",
            "other-project",
            "meshlink:client.network.project: cannot be set here",
        ),
        (
            "server",
            "cluster.node_locations",
            ["us-east1-b"],
            "meshlink:server.cluster.node_locations: ['us-east1-b'] are outside the cluster's "
            "region 'europe-west1'",
        ),
        (
            "gateways",
            "ingress",
            {"source_ranges": ["0.0.0.0/0"]},
            "meshlink:gateways.ingress.source_ranges: cannot be set here; it is the client NAT",
        ),
        (
            "gateways",
            "egress",
            {"replicas": 1},
            "meshlink:gateways.egress.replicas: Input should be greater than or equal to 2",
        ),
        (
            "demo",
            "server_namespace",
            "db",
            "meshlink:services[0].target_host: the demo MySQL server is "
            "'mysql.db.svc.cluster.local'",
        ),
        ("demo", "service", "postgres", "meshlink:demo.service: 'postgres' is not one of"),
        (
            "client",
            "network_policy",
            {"enabled": True, "control_plane": {"google_api_cidrs": ["199.36.153.4/30"]}},
            "meshlink:dns.google_apis: private resolves Google APIs to 199.36.153.8/30, which "
            "meshlink:client.network_policy.control_plane.google_api_cidrs",
        ),
        (
            "client_identity",
            None,
            {"dns_name": "client.example.com", "uri": "spiffe://example.com/client"},
            "meshlink:client_identity: give exactly one of dns_name or uri",
        ),
        (
            "link_name",
            None,
            "Link",
            "meshlink:link_name: 'Link' is not a valid RFC 1123 label",
        ),
        (
            "ca",
            "mode",
            "vault",
            "meshlink:ca.mode: expected generate, existing or external (found: 'vault')",
        ),
        (
            "rotation",
            "leaves",
            [1, 2],
            "meshlink:rotation.leaves",
        ),
        (
            "tls",
            "cipher_suites",
            ["AES128-GCM-SHA256"],
            "meshlink:tls.cipher_suites: 'AES128-GCM-SHA256' is not an ECDHE suite",
        ),
        (
            "services",
            "[0].target_labels",
            DELETE,
            "meshlink:services[0].target_labels: required to select the target's pods",
        ),
        (
            "services",
            "[0].target_labels",
            {"app": "mysql"},
            "meshlink:services[0].target_labels: the demo MySQL pods are selected by",
        ),
    ],
)
def test_rules_between_and_within_keys_name_the_key(
    key: str, path: str | None, value: Any, expected: str
) -> None:
    error = rejected(with_value(key, path, value))
    assert any(p.startswith(expected) for p in error.problems), error.problems


def test_the_demo_needs_a_client_namespace_or_the_link_has_none() -> None:
    config = with_value("demo", "enabled", False)
    error = rejected(config)
    assert list(error.problems) == [
        "meshlink:client.namespaces: name at least one namespace of client workloads (or "
        "enable meshlink:demo)"
    ]


def test_pulumi_yaml_declares_every_key_and_the_dev_stack_sets_only_declared_ones() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "meshlink"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }
    declared = project["config"]
    assert all(d.get("description") for d in declared.values())
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert {k.removeprefix("meshlink:") for k in stack} <= set(declared)
    # The keys the loader requires say so first in their description.
    required = {k for k, d in declared.items() if d["description"].startswith("Required.")}
    assert required == {"client", "server", "services", "client_identity", "dns", "ca"}
    # The CLI's project schema types only these, and checks a default against its type, so
    # an untyped (object-valued) declaration must not carry a default.
    assert {d["type"] for d in declared.values() if "type" in d} <= {
        "string",
        "integer",
        "boolean",
        "array",
    }
    assert [k for k, d in declared.items() if "type" not in d and "default" in d] == []


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("mysql:8.4.3", True),
        ("registry.example.com/db/mysql:8.4.3-oracle", True),
        ("mysql@sha256:" + "a" * 64, True),
        ("mysql", False),
        ("mysql:latest", False),
        ("mysql@sha256:abc", False),
    ],
)
def test_images_must_be_pinned(image: str, ok: bool) -> None:
    if ok:
        assert check_image(image) == image
    else:
        with pytest.raises(ValueError, match=r"pinned|not a pin"):
            check_image(image)


SHARED_VPC_DOC = (
    "https://cloud.google.com/service-mesh/docs/managed/provision-managed-anthos-service-mesh"
)


def test_one_fleet_for_both_sides_is_refused_naming_the_key() -> None:
    error = rejected(with_value("fleet_project", None, "meshlink-dev-server"))
    (problem,) = error.problems
    assert problem.startswith("meshlink:fleet_project: one fleet for both clusters")
    assert "'meshlink-dev-client' and 'meshlink-dev-server'" in problem
    assert "shared VPC" in problem and SHARED_VPC_DOC in problem
    assert "meshlink:client.fleet_project, meshlink:server.fleet_project" in problem


def test_two_sides_naming_the_same_fleet_project_are_refused() -> None:
    error = rejected(with_value("server", "fleet_project", "meshlink-dev-client"))
    (problem,) = error.problems
    assert problem.startswith(
        "meshlink:client.fleet_project, meshlink:server.fleet_project: both clusters would "
        "register to the fleet of 'meshlink-dev-client'"
    )
    assert "shared VPC" in problem and SHARED_VPC_DOC in problem


def test_two_sides_in_one_project_are_refused() -> None:
    """Two meshes need two fleets, and managed Cloud Service Mesh does not let clusters of
    one project register to different fleets."""
    for fleet in (None, "meshlink-dev-client-fleet"):
        config = with_value("client", "project", "meshlink-dev-server")
        if fleet is not None:
            config = edit_config(config, "meshlink:client", "fleet_project", fleet)
        error = rejected(config)
        problems = [p for p in error.problems if "meshlink:client.project" in p]
        assert len(problems) == 1, error.problems
        assert problems[0].startswith(
            "meshlink:client.project, meshlink:server.project: both clusters are in project "
            "'meshlink-dev-server'"
        )
        assert "supported-features-mcp" in problems[0]

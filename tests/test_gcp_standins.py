"""The offline GCP stand-ins: deterministic, obviously not real, and shaped like the real
outputs."""

from __future__ import annotations

import base64
import ipaddress
import re

import pytest
from cryptography import x509

from meshlink.offline import cloud_standins
from meshlink.offline.cloud_standins import (
    DOCUMENTATION_BLOCKS,
    FAKE_CA_MARKER,
    STAND_INS,
    call,
    documentation_address,
    project_number,
    stand_in,
)


def _in_documentation_range(address: str) -> bool:
    ip = ipaddress.IPv4Address(address)
    return any(ip in block for block in DOCUMENTATION_BLOCKS)


def test_addresses_are_documentation_addresses_and_never_network_or_broadcast() -> None:
    names = [f"resource-{i}-ip" for i in range(400)]
    for name in names:
        address = documentation_address(name)
        assert _in_documentation_range(address)
        assert not address.endswith((".0", ".255"))


def test_addresses_use_all_three_documentation_blocks() -> None:
    used = {
        next(b for b in DOCUMENTATION_BLOCKS if ipaddress.IPv4Address(a) in b)
        for a in (documentation_address(f"r{i}") for i in range(200))
    }
    assert used == set(DOCUMENTATION_BLOCKS)


def test_indexed_siblings_get_distinct_consecutive_addresses() -> None:
    siblings = [documentation_address(f"client-nat-ip-{i}") for i in range(16)]
    assert len(set(siblings)) == 16
    assert all(_in_documentation_range(a) for a in siblings)


def test_addresses_are_fixed_by_the_name() -> None:
    assert documentation_address("server-ingress-ip") == documentation_address("server-ingress-ip")
    assert documentation_address("server-ingress-ip") != documentation_address("client-ingress-ip")


def test_an_explicit_address_input_wins() -> None:
    _, outputs = stand_in(
        "gcp:compute/address:Address", "fixed", {"address": "192.0.2.9", "region": "r"}
    )
    assert outputs["address"] == "192.0.2.9"


def test_project_numbers_are_twelve_digits_and_per_project() -> None:
    numbers = {project_number(f"project-{i}") for i in range(100)}
    assert len(numbers) == 100
    assert all(re.fullmatch(r"[1-9]\d{11}", n) for n in numbers)
    assert project_number("acme-fleet") == project_number("acme-fleet")


def test_get_project_returns_the_stand_in_number() -> None:
    result = call("gcp:organizations/getProject:getProject", {"projectId": "acme-fleet"})
    assert result["number"] == project_number("acme-fleet")
    assert result["projectId"] == "acme-fleet"


def test_an_unknown_function_is_an_error_naming_it() -> None:
    with pytest.raises(NotImplementedError, match="gcp:compute/getZones:getZones"):
        call("gcp:compute/getZones:getZones", {})


ID_FORMATS = {
    "gcp:compute/network:Network": (
        {"project": "p1", "name": "net"},
        r"projects/p1/global/networks/net",
    ),
    "gcp:compute/subnetwork:Subnetwork": (
        {"project": "p1", "name": "sub", "region": "europe-west1", "ipCidrRange": "10.0.0.0/20"},
        r"projects/p1/regions/europe-west1/subnetworks/sub",
    ),
    "gcp:compute/router:Router": (
        {"project": "p1", "name": "rt", "region": "europe-west1"},
        r"projects/p1/regions/europe-west1/routers/rt",
    ),
    "gcp:compute/routerNat:RouterNat": (
        {"project": "p1", "name": "nat", "region": "europe-west1", "router": "rt"},
        r"p1/europe-west1/rt/nat",
    ),
    "gcp:compute/address:Address": (
        {"project": "p1", "name": "ip", "region": "europe-west1"},
        r"projects/p1/regions/europe-west1/addresses/ip",
    ),
    "gcp:compute/firewall:Firewall": (
        {"project": "p1", "name": "fw"},
        r"projects/p1/global/firewalls/fw",
    ),
    "gcp:container/cluster:Cluster": (
        {"project": "p1", "name": "c", "location": "europe-west1"},
        r"projects/p1/locations/europe-west1/clusters/c",
    ),
    "gcp:container/nodePool:NodePool": (
        {"project": "p1", "name": "np", "location": "europe-west1", "cluster": "c"},
        r"projects/p1/locations/europe-west1/clusters/c/nodePools/np",
    ),
    "gcp:serviceaccount/account:Account": (
        {"project": "p1", "accountId": "nodes"},
        r"projects/p1/serviceAccounts/nodes@p1\.iam\.gserviceaccount\.com",
    ),
    "gcp:projects/iAMMember:IAMMember": (
        {"project": "p1", "role": "roles/x", "member": "user:a@b.c"},
        r"p1/roles/x/user:a@b\.c",
    ),
    "gcp:projects/service:Service": (
        {"project": "p1", "service": "dns.googleapis.com"},
        r"p1/dns\.googleapis\.com",
    ),
    "gcp:projects/serviceIdentity:ServiceIdentity": (
        {"project": "p1", "service": "gkehub.googleapis.com"},
        r"projects/p1/services/gkehub\.googleapis\.com",
    ),
    "gcp:gkehub/membership:Membership": (
        {"project": "f1", "membershipId": "c", "location": "global"},
        r"projects/f1/locations/global/memberships/c",
    ),
    "gcp:gkehub/feature:Feature": (
        {"project": "f1", "name": "servicemesh", "location": "global"},
        r"projects/f1/locations/global/features/servicemesh",
    ),
    "gcp:gkehub/featureMembership:FeatureMembership": (
        {"project": "f1", "location": "global", "feature": "servicemesh", "membership": "c"},
        r"projects/f1/locations/global/features/servicemesh/membershipId/c",
    ),
    "gcp:dns/managedZone:ManagedZone": (
        {"project": "p1", "name": "z", "dnsName": "a.b."},
        r"projects/p1/managedZones/z",
    ),
    "gcp:dns/recordSet:RecordSet": (
        {"project": "p1", "managedZone": "z", "name": "x.a.b.", "type": "A"},
        r"projects/p1/managedZones/z/rrsets/x\.a\.b\./A",
    ),
}


def test_every_declared_type_has_an_id_format_check() -> None:
    assert set(ID_FORMATS) == set(STAND_INS)


@pytest.mark.parametrize("typ", sorted(ID_FORMATS))
def test_ids_follow_the_provider_formats_and_inputs_are_echoed(typ: str) -> None:
    inputs, pattern = ID_FORMATS[typ]
    resource_id, outputs = stand_in(typ, "logical", dict(inputs))
    assert re.fullmatch(pattern, resource_id), resource_id
    for key, value in inputs.items():
        assert outputs[key] == value
    assert stand_in(typ, "logical", dict(inputs)) == (resource_id, outputs)


def test_self_links_are_full_api_urls() -> None:
    _, network = stand_in("gcp:compute/network:Network", "n", {"project": "p1", "name": "n"})
    assert network["selfLink"] == (
        "https://www.googleapis.com/compute/v1/projects/p1/global/networks/n"
    )
    _, account = stand_in("gcp:serviceaccount/account:Account", "a", {"accountId": "nodes"})
    assert account["member"] == f"serviceAccount:{account['email']}"


def test_cluster_ca_is_marked_and_is_not_a_certificate() -> None:
    _, outputs = stand_in(
        "gcp:container/cluster:Cluster", "c", {"project": "p1", "location": "europe-west1"}
    )
    pem = base64.b64decode(outputs["masterAuth"]["clusterCaCertificate"])
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    body = b"".join(pem.splitlines()[1:-1])
    assert FAKE_CA_MARKER.encode() in base64.b64decode(body)
    with pytest.raises(ValueError):
        x509.load_pem_x509_certificate(pem)


def test_cluster_endpoint_is_private_only_with_a_private_endpoint() -> None:
    public_inputs = {"privateClusterConfig": {"enablePrivateNodes": True}}
    _, public = stand_in("gcp:container/cluster:Cluster", "c", public_inputs)
    assert _in_documentation_range(public["endpoint"])
    private_inputs = {
        "privateClusterConfig": {
            "enablePrivateNodes": True,
            "enablePrivateEndpoint": True,
            "masterIpv4CidrBlock": "172.16.0.32/28",
        }
    }
    _, private = stand_in("gcp:container/cluster:Cluster", "c", private_inputs)
    assert private["endpoint"] == "172.16.0.34"
    assert private["privateClusterConfig"]["publicEndpoint"] == public["endpoint"]


def test_unknown_types_are_echoed_under_a_name_derived_id() -> None:
    resource_id, outputs = stand_in("gcp:storage/bucket:Bucket", "logs", {"location": "EU"})
    assert resource_id == "logs-id"
    assert outputs == {"location": "EU"}


def test_missing_project_falls_back_to_a_marked_default() -> None:
    resource_id, _ = stand_in("gcp:compute/firewall:Firewall", "fw", {"name": "fw"})
    assert resource_id.startswith(f"projects/{cloud_standins.DEFAULT_PROJECT}/")


def test_service_agents_are_named_as_google_names_them() -> None:
    number = project_number("p1")
    for service, domain in (
        ("gkehub.googleapis.com", "gcp-sa-gkehub"),
        ("meshconfig.googleapis.com", "gcp-sa-servicemesh"),
    ):
        _, outputs = stand_in(
            "gcp:projects/serviceIdentity:ServiceIdentity",
            "agent",
            {"project": "p1", "service": service},
        )
        email = f"service-{number}@{domain}.iam.gserviceaccount.com"
        assert outputs["email"] == email
        assert outputs["member"] == f"serviceAccount:{email}"

"""Deterministic offline stand-ins for what GCP would report about meshlink's resources.

Every value is a pure function of the resource's type, logical name and inputs, so two
offline runs of the same program give the same outputs:

- external addresses come from the documentation ranges (RFC 5737: 192.0.2.0/24,
  198.51.100.0/24, 203.0.113.0/24) so they can never be mistaken for, or collide with, a
  real address. Names that differ only in a trailing ``-<n>`` get consecutive addresses,
  so a NAT's addresses are always distinct from each other;
- project numbers are 12 digits derived from the project id;
- ids and self links follow the formats the provider really uses;
- the cluster CA is an obviously marked placeholder PEM. It is never used for TLS.

The inputs are echoed back with the computed outputs added, as the engine would report them.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Callable
from typing import Any

DOCUMENTATION_BLOCKS: tuple[ipaddress.IPv4Network, ...] = (
    ipaddress.IPv4Network("192.0.2.0/24"),
    ipaddress.IPv4Network("198.51.100.0/24"),
    ipaddress.IPv4Network("203.0.113.0/24"),
)
_HOSTS_PER_BLOCK = 254  # .1 to .254
_SLOTS = _HOSTS_PER_BLOCK * len(DOCUMENTATION_BLOCKS)

DEFAULT_PROJECT = "offline-project"
"""Used only when a resource names no project (the provider default would apply)."""

COMPUTE_API = "https://www.googleapis.com/compute/v1/"
CONTAINER_API = "https://container.googleapis.com/v1/"

FAKE_CA_MARKER = "MESHLINK OFFLINE STAND-IN - NOT A CERTIFICATE"

_TRAILING_INDEX = re.compile(r"^(.*?)-(\d+)$")


def _digest(*parts: str) -> int:
    text = "\x1f".join(parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _digits(count: int, *parts: str) -> str:
    """``count`` decimal digits, the first never zero."""
    low = 10 ** (count - 1)
    return str(low + _digest(*parts) % (9 * low))


def documentation_address(key: str) -> str:
    """An address from the documentation ranges, fixed for ``key``.

    ``name-0``, ``name-1``, ... map to consecutive slots, so indexed siblings never share
    an address.
    """
    match = _TRAILING_INDEX.match(key)
    stem, index = (match.group(1), int(match.group(2))) if match else (key, 0)
    slot = (_digest("address", stem) + index) % _SLOTS
    block, host = divmod(slot, _HOSTS_PER_BLOCK)
    return str(DOCUMENTATION_BLOCKS[block].network_address + host + 1)


def project_number(project_id: str) -> str:
    """The 12-digit number standing in for ``project_id``'s project number."""
    return _digits(12, "project-number", project_id)


def fake_ca_certificate(cluster: str) -> str:
    """A PEM-shaped placeholder, base64-encoded as GKE reports ``clusterCaCertificate``."""
    body = base64.b64encode(f"{FAKE_CA_MARKER}: cluster {cluster}".encode()).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


def _last_segment(value: Any) -> str:
    """``projects/p/global/networks/n`` or a self link -> ``n``; a bare name unchanged."""
    return str(value).rstrip("/").rsplit("/", 1)[-1]


def _project(inputs: dict[str, Any]) -> str:
    return str(inputs.get("project") or DEFAULT_PROJECT)


def _name(name: str, inputs: dict[str, Any], key: str = "name") -> str:
    return str(inputs.get(key) or name)


StandIn = Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]


def _network(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, net = _project(inputs), _name(name, inputs)
    rid = f"projects/{project}/global/networks/{net}"
    return rid, {
        "name": net,
        "project": project,
        "selfLink": COMPUTE_API + rid,
        "numericId": _digits(19, "network", rid),
        "gatewayIpv4": "",
    }


def _subnetwork(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, sub = _project(inputs), _name(name, inputs)
    region = str(inputs.get("region", ""))
    rid = f"projects/{project}/regions/{region}/subnetworks/{sub}"
    cidr = inputs.get("ipCidrRange")
    gateway = str(ipaddress.IPv4Network(cidr).network_address + 1) if cidr else ""
    return rid, {
        "name": sub,
        "project": project,
        "selfLink": COMPUTE_API + rid,
        "gatewayAddress": gateway,
        "subnetworkId": int(_digits(18, "subnetwork", rid)),
    }


def _router(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, router = _project(inputs), _name(name, inputs)
    rid = f"projects/{project}/regions/{inputs.get('region', '')}/routers/{router}"
    return rid, {"name": router, "project": project, "selfLink": COMPUTE_API + rid}


def _router_nat(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, nat = _project(inputs), _name(name, inputs)
    router = _last_segment(inputs.get("router", ""))
    rid = f"{project}/{inputs.get('region', '')}/{router}/{nat}"
    return rid, {"name": nat, "project": project}


def _address(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, addr = _project(inputs), _name(name, inputs)
    region = inputs.get("region")
    scope = f"regions/{region}" if region else "global"
    rid = f"projects/{project}/{scope}/addresses/{addr}"
    address = inputs.get("address") or documentation_address(name)
    return rid, {
        "name": addr,
        "project": project,
        "address": address,
        "selfLink": COMPUTE_API + rid,
        "users": [],
    }


def _firewall(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, rule = _project(inputs), _name(name, inputs)
    rid = f"projects/{project}/global/firewalls/{rule}"
    return rid, {"name": rule, "project": project, "selfLink": COMPUTE_API + rid}


def _cluster(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, cluster = _project(inputs), _name(name, inputs)
    location = str(inputs.get("location", ""))
    rid = f"projects/{project}/locations/{location}/clusters/{cluster}"
    private = dict(inputs.get("privateClusterConfig") or {})
    public_endpoint = documentation_address(f"{name}:endpoint")
    master_block = private.get("masterIpv4CidrBlock")
    private_endpoint = (
        str(ipaddress.IPv4Network(master_block).network_address + 2)
        if master_block
        else "10.255.255.2"
    )
    if private.get("enablePrivateNodes"):
        private.update({"privateEndpoint": private_endpoint, "publicEndpoint": public_endpoint})
    endpoint = private_endpoint if private.get("enablePrivateEndpoint") else public_endpoint
    master_auth = dict(inputs.get("masterAuth") or {})
    master_auth["clusterCaCertificate"] = fake_ca_certificate(rid)
    return rid, {
        "name": cluster,
        "project": project,
        "endpoint": endpoint,
        "masterAuth": master_auth,
        "privateClusterConfig": private,
        "selfLink": CONTAINER_API + rid,
        "masterVersion": "1.33.0-gke.offline",
        "labelFingerprint": _digits(8, "labels", rid),
        "operation": "",
    }


def _node_pool(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, pool = _project(inputs), _name(name, inputs)
    cluster = _last_segment(inputs.get("cluster", ""))
    rid = (
        f"projects/{project}/locations/{inputs.get('location', '')}"
        f"/clusters/{cluster}/nodePools/{pool}"
    )
    return rid, {"name": pool, "project": project, "version": "1.33.0-gke.offline"}


def _service_account(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = _project(inputs)
    account = str(inputs.get("accountId") or name)
    email = f"{account}@{project}.iam.gserviceaccount.com"
    rid = f"projects/{project}/serviceAccounts/{email}"
    return rid, {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": rid,
        "project": project,
        "uniqueId": _digits(21, "service-account", email),
    }


def _iam_member(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = _project(inputs)
    rid = f"{project}/{inputs.get('role', '')}/{inputs.get('member', '')}"
    return rid, {"project": project, "etag": "BwY" + _digits(10, "etag", rid)}


_SERVICE_AGENT_DOMAINS = {
    "gkehub.googleapis.com": "gcp-sa-gkehub",
    "meshconfig.googleapis.com": "gcp-sa-servicemesh",
}


def _service_identity(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A service agent, named as Google names it: ``service-<project number>@<domain>``."""
    service = str(inputs.get("service", ""))
    domain = _SERVICE_AGENT_DOMAINS.get(service, f"gcp-sa-{service.split('.')[0]}")
    email = f"service-{project_number(_project(inputs))}@{domain}.iam.gserviceaccount.com"
    return f"projects/{_project(inputs)}/services/{service}", {
        **inputs,
        "email": email,
        "member": f"serviceAccount:{email}",
    }


def _service(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = _project(inputs)
    return f"{project}/{inputs.get('service', '')}", {"project": project}


def _membership(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = _project(inputs)
    membership = str(inputs.get("membershipId") or name)
    location = str(inputs.get("location") or "global")
    rid = f"projects/{project}/locations/{location}/memberships/{membership}"
    return rid, {"name": rid, "project": project, "location": location}


def _feature(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, feature = _project(inputs), _name(name, inputs)
    location = str(inputs.get("location") or "global")
    rid = f"projects/{project}/locations/{location}/features/{feature}"
    return rid, {"name": feature, "project": project, "location": location}


def _feature_membership(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = _project(inputs)
    rid = (
        f"projects/{project}/locations/{inputs.get('location', 'global')}"
        f"/features/{inputs.get('feature', '')}/membershipId/{inputs.get('membership', '')}"
    )
    return rid, {"project": project}


def _managed_zone(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project, zone = _project(inputs), _name(name, inputs)
    rid = f"projects/{project}/managedZones/{zone}"
    return rid, {
        "name": zone,
        "project": project,
        "managedZoneId": int(_digits(18, "managed-zone", rid)),
        "nameServers": [
            "ns-gcp-private.googledomains.com."
            if inputs.get("visibility") == "private"
            else "ns-cloud-a1.googledomains.com."
        ],
    }


def _record_set(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = _project(inputs)
    rid = (
        f"projects/{project}/managedZones/{inputs.get('managedZone', '')}"
        f"/rrsets/{inputs.get('name', '')}/{inputs.get('type', '')}"
    )
    return rid, {"project": project}


STAND_INS: dict[str, StandIn] = {
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _subnetwork,
    "gcp:compute/router:Router": _router,
    "gcp:compute/routerNat:RouterNat": _router_nat,
    "gcp:compute/address:Address": _address,
    "gcp:compute/firewall:Firewall": _firewall,
    "gcp:container/cluster:Cluster": _cluster,
    "gcp:container/nodePool:NodePool": _node_pool,
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:projects/iAMMember:IAMMember": _iam_member,
    "gcp:projects/service:Service": _service,
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_identity,
    "gcp:gkehub/membership:Membership": _membership,
    "gcp:gkehub/feature:Feature": _feature,
    "gcp:gkehub/featureMembership:FeatureMembership": _feature_membership,
    "gcp:dns/managedZone:ManagedZone": _managed_zone,
    "gcp:dns/recordSet:RecordSet": _record_set,
}


def stand_in(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The id and outputs GCP would report for a resource: the inputs, plus what GCP
    computes. A type without a stand-in echoes its inputs under a name-derived id."""
    handler = STAND_INS.get(typ)
    if handler is None:
        return f"{name}-id", dict(inputs)
    resource_id, computed = handler(name, inputs)
    return resource_id, {**inputs, **computed}


def _get_project(args: dict[str, Any]) -> dict[str, Any]:
    project = str(args.get("projectId") or DEFAULT_PROJECT)
    return {
        "id": f"projects/{project}",
        "projectId": project,
        "name": project,
        "number": project_number(project),
        "labels": {},
        "effectiveLabels": {},
        "pulumiLabels": {},
        "autoCreateNetwork": True,
        "billingAccount": "",
        "folderId": "",
        "orgId": "",
    }


CALLS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "gcp:organizations/getProject:getProject": _get_project,
}


def call(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """The result of a GCP function (data source) offline."""
    handler = CALLS.get(token)
    if handler is None:
        raise NotImplementedError(f"no offline stand-in for the GCP function {token}")
    return handler(args)

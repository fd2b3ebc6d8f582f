"""Typical creation times per resource type, for the critical path of a first ``pulumi up``.

The one place these figures live. Each is the time from the engine's create call to the
resource being ready for what depends on it, with its source. Where neither Google's nor
Pulumi's documentation states a duration, the figure is an estimate, and says so: it is
what makes the critical path comparable before and after a change to the dependencies,
not a promise of how long a deployment takes.
"""

from __future__ import annotations

from typing import NamedTuple


class CreationTime(NamedTuple):
    seconds: float
    source: str


ESTIMATE = "estimate"

CREATION_TIMES: dict[str, CreationTime] = {
    # Google Cloud: long-running operations.
    "gcp:container/cluster:Cluster": CreationTime(
        480, f"{ESTIMATE}: regional GKE control plane, default node pool removed"
    ),
    "gcp:container/nodePool:NodePool": CreationTime(
        240, f"{ESTIMATE}: one node per zone, nodes registered and Ready"
    ),
    "gcp:gkehub/feature:Feature": CreationTime(60, ESTIMATE),
    "gcp:gkehub/membership:Membership": CreationTime(60, ESTIMATE),
    "gcp:gkehub/featureMembership:FeatureMembership": CreationTime(
        60, f"{ESTIMATE}: the API call only; the managed mesh is installed after it"
    ),
    "gcp:projects/service:Service": CreationTime(60, f"{ESTIMATE}: enabling one API"),
    "gcp:projects/serviceIdentity:ServiceIdentity": CreationTime(15, ESTIMATE),
    "gcp:projects/iAMMember:IAMMember": CreationTime(
        15, f"{ESTIMATE}: read-modify-write of the project's IAM policy"
    ),
    "gcp:serviceaccount/account:Account": CreationTime(10, ESTIMATE),
    "gcp:compute/network:Network": CreationTime(30, ESTIMATE),
    "gcp:compute/subnetwork:Subnetwork": CreationTime(20, ESTIMATE),
    "gcp:compute/router:Router": CreationTime(20, ESTIMATE),
    "gcp:compute/routerNat:RouterNat": CreationTime(30, ESTIMATE),
    "gcp:compute/address:Address": CreationTime(10, ESTIMATE),
    "gcp:compute/firewall:Firewall": CreationTime(15, ESTIMATE),
    "gcp:dns/managedZone:ManagedZone": CreationTime(10, ESTIMATE),
    "gcp:dns/recordSet:RecordSet": CreationTime(5, ESTIMATE),
    # The readiness gate polls until the managed mesh has installed the Istio CRDs.
    "pulumi-python:dynamic/meshlink:IstioCrdGate": CreationTime(
        300, f"{ESTIMATE}: managed Cloud Service Mesh installs the CRDs after the membership"
    ),
    # Kubernetes: the provider awaits readiness of Deployments and Services.
    "kubernetes:apps/v1:Deployment": CreationTime(
        60, f"{ESTIMATE}: image pull and rollout of the gateway or demo pods"
    ),
    "kubernetes:core/v1:Service": CreationTime(
        10, f"{ESTIMATE}: a LoadBalancer with a reserved address takes longer"
    ),
    # Locally computed: the tls and random providers create nothing remotely.
    "tls:index/privateKey:PrivateKey": CreationTime(0.1, f"{ESTIMATE}: local computation"),
    "tls:index/certRequest:CertRequest": CreationTime(0.1, f"{ESTIMATE}: local computation"),
    "tls:index/selfSignedCert:SelfSignedCert": CreationTime(0.1, f"{ESTIMATE}: local computation"),
    "tls:index/locallySignedCert:LocallySignedCert": CreationTime(
        0.1, f"{ESTIMATE}: local computation"
    ),
    "random:index/randomPassword:RandomPassword": CreationTime(
        0.1, f"{ESTIMATE}: local computation"
    ),
}

KUBERNETES_OBJECT = CreationTime(2, f"{ESTIMATE}: one API server write, nothing awaited")
"""Any other Kubernetes object (Namespace, Secret, RBAC, Istio configuration)."""

PROVIDER = CreationTime(1, f"{ESTIMATE}: configuring a provider plugin")

OTHER = CreationTime(10, f"{ESTIMATE}: a resource type with no figure of its own")


def creation_time(resource_type: str, *, custom: bool) -> CreationTime:
    """The typical creation time of ``resource_type``; components take none of their own."""
    if not custom:
        return CreationTime(0, "a component: no resource of its own")
    if resource_type in CREATION_TIMES:
        return CREATION_TIMES[resource_type]
    if resource_type.startswith("pulumi:providers:"):
        return PROVIDER
    if resource_type.startswith("kubernetes:"):
        return KUBERNETES_OBJECT
    return OTHER

"""What the programs declare from a validated configuration: the link CA, a cluster team's
APIs, fleet feature, network and cluster, and the arguments the link components take from
declared resources."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import pulumi

from meshlink.config.ca import CA_CERT_KEY, CA_KEY_KEY, CaSettings
from meshlink.config.clusters import ClusterConfig
from meshlink.config.reader import WHERE
from meshlink.config.sections import ExistingCaSection, GeneratedCaSection, RotationSection
from meshlink.gcp import IngressAddress, MeshCluster, MeshNetwork, ProjectApis, ServiceMeshFeature
from meshlink.mesh.services import LinkedService
from meshlink.pki import (
    CertificateAuthority,
    ExistingCertificateAuthority,
    ExternallySignedCertificateAuthority,
    LinkIssuer,
)
from meshlink.validation import MeshlinkValidationError


def declare_link_ca(
    name: str,
    ca: CaSettings,
    rotation: RotationSection,
    opts: pulumi.ResourceOptions | None = None,
) -> LinkIssuer:
    """Declare the link CA the configuration describes.

    Declare it first: a bring-your-own or externally signed CA checks its certificates in
    its constructor, so a bad one must fail before anything else is registered. Those
    problems are reported under the configuration keys they came from.
    """
    section = ca.section
    prefix = f"{ca.namespace}:ca."
    try:
        if isinstance(section, GeneratedCaSection):
            args = section.model_dump(exclude={"mode"}, exclude_none=True)
            if rotation.ca is not None:
                args["ca_rotation"] = rotation.ca
            if section.issuing_ca is not None and rotation.issuing_ca is not None:
                args["issuing_ca"]["rotation"] = rotation.issuing_ca
            return CertificateAuthority(name, cast(Any, args), opts=opts)
        if isinstance(section, ExistingCaSection):
            assert ca.cert_pem is not None and ca.key_pem is not None
            existing = {
                "cert_pem": ca.cert_pem,
                "private_key_pem": ca.key_pem,
                **section.model_dump(exclude={"mode"}, exclude_none=True),
            }
            return ExistingCertificateAuthority(name, cast(Any, existing), opts=opts)
        external = section.model_dump(exclude={"mode"}, exclude_none=True)
        if rotation.ca is not None:
            external["rotation"] = rotation.ca
        return ExternallySignedCertificateAuthority(name, cast(Any, external), opts=opts)
    except MeshlinkValidationError as error:
        renamed = {
            "cert_pem": f"{ca.namespace}:{CA_CERT_KEY}",
            "private_key_pem": f"{ca.namespace}:{CA_KEY_KEY}",
        }
        problems = []
        for problem in error.problems:
            setting = re.split(r"[:\[.]", problem, maxsplit=1)[0]
            target = renamed.get(setting, f"{prefix}{setting}")
            problems.append(target + problem[len(setting) :])
        raise MeshlinkValidationError(WHERE, problems) from None


class DeclaredCluster(NamedTuple):
    """A cluster team's network and cluster, as :func:`declare_cluster` declares them."""

    network: MeshNetwork
    cluster: MeshCluster
    waits: pulumi.ResourceOptions
    """Makes a resource wait for the cluster project's APIs."""


def declare_cluster(
    config: ClusterConfig, *, projects: list[str], fleet_project: str
) -> DeclaredCluster:
    """What a cluster team's stack declares before its half of the link: the projects' APIs,
    the fleet's service mesh feature with this cluster's project as its one member, and the
    cluster's network and cluster."""
    apis = ProjectApis("apis", {"projects": projects})
    mesh = ServiceMeshFeature(
        "mesh",
        {"fleet_project": fleet_project, "member_projects": [config.project]},
        opts=pulumi.ResourceOptions(depends_on=apis.for_project(fleet_project)),
    )
    waits = pulumi.ResourceOptions(depends_on=apis.for_project(config.project))
    network = MeshNetwork(config.name, config.network_args(), opts=waits)
    cluster = MeshCluster(
        config.name,
        config.cluster_args(network, mesh_feature=mesh.feature_name, fleet_project=fleet_project),
        opts=waits,
    )
    return DeclaredCluster(network, cluster, waits)


def source_ranges(ingress: IngressAddress, count: int) -> list[pulumi.Output[str]]:
    """The ingress address's allowlist as a list of ``count`` Outputs, the shape the
    gateway Service's ``loadBalancerSourceRanges`` takes. ``count`` is known from the
    configuration (the client's NAT address count), the values only once GCP reports
    them; they are the same values ``IngressAddress`` checked."""

    def entry(index: int) -> pulumi.Output[str]:
        return ingress.source_ranges.apply(lambda ranges: str(ranges[index]))

    return [entry(index) for index in range(count)]


def ingress_address_args(ingress: IngressAddress) -> dict[str, Any]:
    """How the ingress gateway's Service takes the reserved address on GKE: by its name
    in GKE's static-address annotation (not the deprecated ``loadBalancerIP``), in the
    address's own network tier; the address itself for the outputs."""
    return {
        "static_ip": ingress.address,
        "static_ip_name": ingress.address_name,
        "network_tier": ingress.settings.network_tier,
    }


def managed_mesh_trust_domain(fleet_project: str) -> str:
    """The trust domain of a GKE workload's mesh identity: Google documents GKE workload
    SPIFFE IDs as ``spiffe://PROJECT_ID.svc.id.goog/ns/NAMESPACE/sa/SERVICE_ACCOUNT``
    (https://cloud.google.com/iam/docs/managed-workload-identity, "SPIFFE
    interoperability"), the fleet project's workload identity pool. The ingress gateway's
    principal in the targets' AuthorizationPolicies carries it. That managed Cloud
    Service Mesh's mesh CA issues exactly this trust domain is not confirmed without a
    fleet; ``cluster.local`` is listed beside it (see ``trust_domains``)."""
    return f"{fleet_project}.svc.id.goog"


def service_args(services: Sequence[LinkedService]) -> list[dict[str, Any]]:
    return [service.model_dump(exclude_none=True) for service in services]

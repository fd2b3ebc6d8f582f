"""The dev stack: the whole link in one program, as the architecture article describes it.

Two GKE clusters in two VPCs (``client`` and ``server``), each in a fleet and a managed
Cloud Service Mesh of its own, the server's ingress address admitting only the client's
NAT addresses, the client's private DNS names for the linked services, a link CA of its
own, the link itself, and (``meshlink:demo``) a MySQL server and a client that reaches it
across the link.

The configuration is read and checked in full before anything is declared, and the link
CA is declared first, so a bad configuration or a bad bring-your-own CA registers nothing.
Each side waits only on its own project's APIs, so the two clusters are created in
parallel; the address and the DNS names wait on no cluster.
"""

import pulumi

from meshlink.config import declare_link_ca, load_dev_config
from meshlink.demo import MySqlDemo, MySqlDemoArgs
from meshlink.gcp import (
    IngressAddress,
    IngressAddressArgs,
    LinkDnsZone,
    LinkDnsZoneArgs,
    MeshCluster,
    MeshNetwork,
    ProjectApis,
    ServiceMeshFeature,
)
from meshlink.gcp.google_apis_dns import GoogleApisPrivateDns
from meshlink.mesh import MeshLink
from meshlink.pki import ExternallySignedCertificateAuthority

config = load_dev_config()
issuer = declare_link_ca(f"{config.link_name}-ca", config.ca, config.rotation)

apis = ProjectApis("apis", {"projects": config.projects})

# Each side is a fleet and a mesh of its own (its own servicemesh feature, mesh_id and
# mesh CA): managed Cloud Service Mesh joins clusters of different projects into one mesh
# only in a shared VPC, and the sides trust each other only through the link CA.
networks: dict[str, MeshNetwork] = {}
clusters: dict[str, MeshCluster] = {}
for side in (config.client, config.server):
    fleet_project = config.fleet_project(side)
    mesh = ServiceMeshFeature(
        f"{side.name}-mesh",
        {"fleet_project": fleet_project, "member_projects": [side.project]},
        opts=pulumi.ResourceOptions(depends_on=apis.for_project(fleet_project)),
    )
    waits = pulumi.ResourceOptions(depends_on=apis.for_project(side.project))
    networks[side.name] = MeshNetwork(side.name, side.network_args(), opts=waits)
    clusters[side.name] = MeshCluster(
        side.name,
        side.cluster_args(
            networks[side.name], mesh_feature=mesh.feature_name, fleet_project=fleet_project
        ),
        opts=waits,
    )

ingress_settings = config.server_section.ingress
ingress_args: IngressAddressArgs = {
    "project": config.server.project,
    "region": config.server.region,
    "client_nat_addresses": networks["client"].nat_addresses,
    "network_tier": ingress_settings.network_tier,
}
if ingress_settings.address_name:
    ingress_args["address_name"] = ingress_settings.address_name
ingress = IngressAddress(
    config.link_name,
    ingress_args,
    opts=pulumi.ResourceOptions(depends_on=apis.for_project(config.server.project)),
)
client_apis = pulumi.ResourceOptions(depends_on=apis.for_project(config.client.project))
dns_args: LinkDnsZoneArgs = {
    "project": config.client.project,
    "network": networks["client"].network_id,
    "dns_name": config.dns.zone,
    "fqdns": config.fqdns,
    "address": ingress.address,
    "ttl": config.dns.ttl,
}
if config.dns.zone_name:
    dns_args["zone_name"] = config.dns.zone_name
LinkDnsZone(f"{config.link_name}-names", dns_args, opts=client_apis)
if config.dns.google_apis != "none":
    GoogleApisPrivateDns(
        "google-apis",
        {
            "project": config.client.project,
            "network": networks["client"].network_id,
            "endpoint": config.dns.google_apis,
        },
        opts=client_apis,
    )

client_waits_for: list[pulumi.Resource] = []
server_waits_for: list[pulumi.Resource] = []
if config.demo.enabled:
    demo_service = next(s for s in config.services if s.name == config.demo.service)
    demo_args: MySqlDemoArgs = {
        "server_provider": clusters["server"].provider,
        "client_provider": clusters["client"].provider,
        "fqdn": demo_service.fqdn,
        "app_port": demo_service.app_port,
        "server_namespace": config.demo.server_namespace,
        "client_namespace": config.demo.client_namespace,
        "server_image": config.demo.server_image,
        "client_image": config.demo.client_image,
    }
    if config.demo.revision:
        demo_args["revision"] = config.demo.revision
    demo = MySqlDemo("demo", demo_args)
    # The link's NetworkPolicy goes into the demo client namespace, and the target's
    # AuthorizationPolicy and PeerAuthentication into the demo server namespace. Each side
    # waits only for its own namespace, so neither waits for the other side's cluster.
    client_waits_for.append(demo.client_namespace)
    server_waits_for.append(demo.server_namespace)

if issuer.not_ready_reason:
    # First run of an externally signed CA: only its key and request exist so far.
    pulumi.log.warn(f"the link is not declared yet: {issuer.not_ready_reason}")
else:
    link = MeshLink(
        config.link_name,
        config.link_args(
            issuer=issuer,
            client_cluster=clusters["client"],
            server_cluster=clusters["server"],
            ingress=ingress,
            client_waits_for=client_waits_for,
            server_waits_for=server_waits_for,
        ),
    )

pulumi.export("ingress_address", ingress.address)
pulumi.export("fqdns", config.fqdns)
pulumi.export("dns_zone", config.dns.zone)
pulumi.export("client_nat_addresses", networks["client"].nat_addresses)
pulumi.export("ca_certificate_pem", issuer.root_cert_pem)
pulumi.export("trust_bundle_pem", issuer.trust_bundle_pem)
pulumi.export("client_kubeconfig", clusters["client"].kubeconfig)
pulumi.export("server_kubeconfig", clusters["server"].kubeconfig)
if isinstance(issuer, ExternallySignedCertificateAuthority):
    pulumi.export("csr_pem", issuer.csr_pem)

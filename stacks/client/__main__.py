"""The client team's stack: the client cluster, the private names of the linked services,
and the egress side of the link.

It reads its client's certificate (``client_name``; ``client`` unless set), its key and
the trust bundle from the pki stack (the key stays a secret on the way) and the ingress
address from the server stack. The server stack in turn needs this stack's NAT addresses
for its allowlist, so the first ``pulumi up`` here
runs without ``server_stack``: it creates the network, the cluster and the egress side and
exports ``nat_addresses``. Once the server stack is up, set ``server_stack`` and run
``pulumi up`` again to add the private DNS names that point at the ingress address.

The preview fails, with one line per mismatch, when a linked FQDN is not in the pki
stack's server certificate, the pki stack issued no certificate for ``client_name``, or
(once ``server_stack`` is set) a service's name, FQDN or link port is not what the server
stack serves, or the server does not admit this client to it.
"""

import pulumi

from meshlink.config import (
    SERVER_OUTPUTS_PLAIN,
    credential_from,
    declare_cluster,
    load_client_config,
    read_pki_stack,
)
from meshlink.config.contract import ReadStack
from meshlink.config.split import check_link_contract
from meshlink.gcp import LinkDnsZone, LinkDnsZoneArgs
from meshlink.gcp.google_apis_dns import GoogleApisPrivateDns
from meshlink.mesh import LinkClient
from meshlink.stack_outputs import StackOutputs

config = load_client_config()
pki_outputs = read_pki_stack(config.pki_stack, config.client_name)
server = (
    StackOutputs("server", config.server_stack, plain=SERVER_OUTPUTS_PLAIN)
    if config.server_stack
    else None
)
read = [ReadStack("pki", config.pki_stack, pki_outputs)]
if server is not None:
    read.append(
        ReadStack(
            "server",
            server.stack_name,
            {key: server.require(key) for key in ("services", "client_services")},
        )
    )
check_link_contract(config.link_terms, namespace=config.namespace, read=read)

side = config.client
network, cluster, waits = declare_cluster(
    side, projects=config.projects, fleet_project=config.fleet_project
)

if server is not None:
    dns_args: LinkDnsZoneArgs = {
        "project": side.project,
        "network": network.network_id,
        "dns_name": config.dns.zone,
        "fqdns": config.fqdns,
        "address": server.require("ingress_address"),
        "ttl": config.dns.ttl,
    }
    if config.dns.zone_name:
        dns_args["zone_name"] = config.dns.zone_name
    LinkDnsZone(f"{config.link_name}-names", dns_args, opts=waits)
else:
    pulumi.log.warn(
        "server_stack is not set: the linked FQDNs do not resolve yet. Hand nat_addresses to "
        "the server team, then set server_stack and run `pulumi up` again."
    )
if config.dns.google_apis != "none":
    GoogleApisPrivateDns(
        "google-apis",
        {
            "project": side.project,
            "network": network.network_id,
            "endpoint": config.dns.google_apis,
        },
        opts=waits,
    )

link = LinkClient(
    config.link_name,
    config.link_client_args(
        credential=credential_from(pki_outputs, config.client_name),
        server_trust_bundle_pem=pki_outputs["trust_bundle_pem"],
        cluster=cluster,
    ),
    opts=pulumi.ResourceOptions(providers=[cluster.provider]),
)

pulumi.export("nat_addresses", network.nat_addresses)
pulumi.export("fqdns", config.fqdns)
pulumi.export("kubeconfig", cluster.kubeconfig)

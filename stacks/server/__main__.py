"""The server team's stack: the server cluster, the ingress address and the ingress side of
the link.

It reads the server certificate, its key and the trust bundle from the pki stack; the key
stays a secret on the way (``StackOutputs`` declares it secret, whatever the pki stack
marked). Each service's Gateway admits the identities of the clients (``clients``) that
may use it; the allowlist of the ingress gateway is the union of the client clusters' NAT
addresses, which each client team hands over (``pulumi stack output nat_addresses`` of its
client stack): this stack cannot read them from the client stacks, because a client stack
needs this stack's ingress address first.

The preview fails, with one line per mismatch, when a linked FQDN is not in the pki
stack's server certificate or an admitted client identity is not the one the pki stack
issued that client's certificate for. The ``services`` and ``client_services`` outputs
are what each client stack compares with its own.
"""

import pulumi

from meshlink.config import (
    credential_from,
    declare_cluster,
    load_server_config,
    read_pki_stack,
)
from meshlink.config.contract import ReadStack
from meshlink.config.split import check_link_contract
from meshlink.gcp import IngressAddress, IngressAddressArgs
from meshlink.mesh import LinkServer

config = load_server_config()
pki_outputs = read_pki_stack(config.pki_stack, "server")
check_link_contract(
    config.link_terms,
    namespace=config.namespace,
    read=[ReadStack("pki", config.pki_stack, pki_outputs)],
)

side = config.server
network, cluster, waits = declare_cluster(
    side, projects=config.projects, fleet_project=config.fleet_project
)
ingress_args: IngressAddressArgs = {
    "project": side.project,
    "region": side.region,
    "client_nat_addresses": config.client_nat_addresses,
    "network_tier": config.ingress_section.network_tier,
}
if config.ingress_section.address_name:
    ingress_args["address_name"] = config.ingress_section.address_name
ingress = IngressAddress(config.link_name, ingress_args, opts=waits)

link = LinkServer(
    config.link_name,
    config.link_server_args(
        credential=credential_from(pki_outputs, "server"),
        client_trust_bundle_pem=pki_outputs["trust_bundle_pem"],
        cluster=cluster,
        ingress=ingress,
    ),
    opts=pulumi.ResourceOptions(providers=[cluster.provider]),
)

pulumi.export("ingress_address", ingress.address)
pulumi.export("source_ranges", ingress.source_ranges)
pulumi.export("fqdns", [s.fqdn for s in config.services])
pulumi.export("services", config.served_services)
pulumi.export("client_services", config.client_services)
pulumi.export("kubeconfig", cluster.kubeconfig)

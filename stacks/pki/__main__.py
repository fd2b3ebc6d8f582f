"""The security team's stack: the link CA and the gateways' certificates.

The cluster teams never see the CA's key. They read from this stack only what their
gateway needs: its certificate chain, its private key (a secret output, and a secret again
on their side) and the trust bundle that verifies the other side. One server certificate
names every linked FQDN. Each client cluster in ``clients`` gets a certificate of its own,
exported under its name (``<name>_full_chain_pem``, ``<name>_private_key_pem``); it names
that client's identity, which the server's ingress Gateway admits (``client_sans``). The
one-client key ``client_identity`` names its client ``client``.

Renewal: change ``rotation.leaves`` (a date works well) and run ``pulumi up`` here, then in
the server and client stacks, which pick up the new certificates on their next update.
"""

import pulumi

from meshlink.config import declare_link_ca, load_pki_config
from meshlink.pki import ExternallySignedCertificateAuthority, LeafCertificate

config = load_pki_config()
issuer = declare_link_ca("link-ca", config.ca, config.rotation)

pulumi.export("ca_certificate_pem", issuer.root_cert_pem)
pulumi.export("trust_bundle_pem", issuer.trust_bundle_pem)
if isinstance(issuer, ExternallySignedCertificateAuthority):
    pulumi.export("csr_pem", issuer.csr_pem)

if issuer.not_ready_reason:
    # First run of an externally signed CA: export the request, issue nothing yet.
    pulumi.log.warn(f"no certificates are issued yet: {issuer.not_ready_reason}")
else:
    server = LeafCertificate("server", config.server_leaf_args(issuer))
    pulumi.export("server_fqdns", server.dns_names)
    pulumi.export("server_full_chain_pem", server.full_chain_pem)
    pulumi.export("server_private_key_pem", server.private_key_pem)
    pulumi.export("server_not_after", server.validity_end_time)
    # Each client's certificate under its own name, so adding a client leaves the others'
    # certificates (and URNs) as they are.
    for client in config.clients:
        leaf = LeafCertificate(client.name, config.client_leaf_args(issuer, client))
        pulumi.export(f"{client.name}_full_chain_pem", leaf.full_chain_pem)
        pulumi.export(f"{client.name}_private_key_pem", leaf.private_key_pem)
        pulumi.export(f"{client.name}_not_after", leaf.validity_end_time)
    pulumi.export("client_sans", {client.name: client.identity.san for client in config.clients})

"""A client-only link to a partner's mutual-TLS endpoint.

Client workloads in ``namespaces`` connect to ``endpoint.host:app_port``; the cluster's
egress gateway carries the connection to the partner's endpoint in mutual TLS, with a
client certificate the partner's CA signed. The partner's server is verified against
``endpoint.ca_bundle_pem`` and the names it publishes.

Two ``pulumi up`` runs: the first makes the key and exports ``csr_pem`` for the partner to
sign; the second, with ``signed_by_partner.signed_cert_pem`` set, declares the link.
"""

import pulumi
import pulumi_kubernetes as k8s

from meshlink.mesh import MeshLinkClientArgs, PartnerLink, PartnerLinkArgs

config = pulumi.Config()
kubeconfig = config.get_secret("kubeconfig") if config.get("kubeconfig") else None
provider = k8s.Provider("client-cluster", kubeconfig=kubeconfig)

client: MeshLinkClientArgs = {
    "provider": provider,
    "namespaces": config.require_object("namespaces"),
}
# The readiness gate waits for the Istio CRDs in the same cluster as the provider.
client["readiness"] = {"kubeconfig": kubeconfig} if kubeconfig is not None else {"ambient": True}
args: PartnerLinkArgs = {
    "endpoint": config.require_object("endpoint"),
    "app_port": config.require_int("app_port"),
    "service_name": config.require("service_name"),
    "client": client,
    "signed_by_partner": config.require_object("signed_by_partner"),
}
link = PartnerLink("partner", args)

pulumi.export("fqdn", link.fqdn)
pulumi.export("csr_pem", link.csr_pem)
pulumi.export("not_ready_reason", link.not_ready_reason)
pulumi.export("objects", link.objects)

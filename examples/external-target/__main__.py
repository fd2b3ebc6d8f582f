"""Link a Cloud SQL for MySQL instance, reached at its private IP from the server
cluster's network, to the ``orders`` namespace of the client cluster.

The database is not a pod of the server mesh: the server's ingress gateway sends the
link's traffic to ``database_address:3306`` through a ServiceEntry meshlink declares in
the gateway's namespace. Restrict who reaches the database in its own network (Cloud SQL
authorized networks, firewall rules): mesh policies cannot guard a host outside the mesh.

A database that requires TLS takes the optional config ``database_tls``:
``{ca_bundle_pem: <the CA certificate(s) that verify it>, subject_alt_names: [<a name its
certificate carries>]}`` (an IP address needs ``subject_alt_names``). The ingress gateway
then originates TLS to it (README, "Targets outside the server mesh"). Unset, it is
reached in plain TCP inside the server network.
"""

import pulumi
import pulumi_kubernetes as k8s

from meshlink.mesh import ExternalTargetArgs, MeshLink
from meshlink.pki import CertificateAuthority

config = pulumi.Config()
client_kubeconfig = config.require_secret("client_kubeconfig")
server_kubeconfig = config.require_secret("server_kubeconfig")

client = k8s.Provider("client", kubeconfig=client_kubeconfig, enable_secret_mutable=True)
server = k8s.Provider("server", kubeconfig=server_kubeconfig, enable_secret_mutable=True)

database: ExternalTargetArgs = {"address": config.require("database_address"), "port": 3306}
database_tls = config.get_object("database_tls")
if database_tls is not None:
    database["tls"] = database_tls

ca = CertificateAuthority("link-ca", {"subject": {"common_name": "Orders link root CA"}})

link = MeshLink(
    "orders-sql",
    {
        "services": [
            {
                "name": "mysql",
                "fqdn": "mysql.link.internal.example.com",
                "app_port": 3306,
                "link_port": 13306,
                # In place of target_host/target_port.
                "target_external": database,
            }
        ],
        "client": {
            "provider": client,
            "namespaces": ["orders"],
            "readiness": {"kubeconfig": client_kubeconfig},
        },
        "server": {
            "provider": server,
            "ingress_gateway": {
                "source_ranges": config.require_object("client_egress_ranges"),
                "static_ip": config.require("ingress_ip"),
            },
            "readiness": {"kubeconfig": server_kubeconfig},
        },
        "link_ca": ca,
        "client_identity": {"uri": "spiffe://link.example.com/cluster/orders"},
        "rotation": "2026-12",
    },
)

pulumi.export("ingress_address", link.ingress_address)
pulumi.export("fqdns", link.fqdns)

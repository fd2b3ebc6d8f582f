"""Two MySQL databases of one server cluster, used by several client clusters.

Every client uses the orders database (``mysql``); the ledger (``ledger``) only the
clients that list it. Each client cluster is one entry of the ``clients`` config and its
``<name>_kubeconfig`` secret: adding a client adds its certificate, its objects in its
own cluster, its identity to the Gateways of the services it lists and its egress
addresses to the server's load balancer, and changes nothing else.
"""

from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from meshlink.mesh import FanInClientArgs, FanInLink
from meshlink.pki import CertificateAuthority

config = pulumi.Config()
server_kubeconfig = config.require_secret("server_kubeconfig")
server = k8s.Provider("server", kubeconfig=server_kubeconfig, enable_secret_mutable=True)


def client_cluster(name: str, settings: dict[str, Any]) -> FanInClientArgs:
    """One entry of ``clients`` with its cluster's provider; the provider is named after
    the client, so its objects render under ``kubernetes/<name>/``. The entry's settings
    are FanInLink's to check: it names any wrong one as ``clients.<name>.<setting>``."""
    kubeconfig = config.require_secret(f"{name}_kubeconfig")
    provider = k8s.Provider(name, kubeconfig=kubeconfig, enable_secret_mutable=True)
    given = {**settings, "provider": provider, "readiness": {"kubeconfig": kubeconfig}}
    return cast(FanInClientArgs, given)


clients: dict[str, dict[str, Any]] = config.require_object("clients")

ca = CertificateAuthority("link-ca", {"subject": {"common_name": "Shared databases link root CA"}})

link = FanInLink(
    "shared-db",
    {
        "services": [
            {
                "name": "mysql",
                "fqdn": "mysql.link.internal.example.com",
                "app_port": 3306,
                "link_port": 13306,
                "target_host": "mysql.orders-db.svc.cluster.local",
                "target_port": 3306,
                "target_labels": {"app": "mysql"},
            },
            {
                "name": "ledger",
                "fqdn": "ledger.link.internal.example.com",
                "app_port": 3307,
                "link_port": 13307,
                "target_host": "mysql.ledger.svc.cluster.local",
                "target_port": 3306,
                "target_labels": {"app": "ledger-mysql"},
            },
        ],
        "clients": {name: client_cluster(name, entry) for name, entry in clients.items()},
        "server": {
            "provider": server,
            # The load balancer admits the union of the clients' source_ranges.
            "ingress_gateway": {"static_ip": config.require("ingress_ip")},
            "readiness": {"kubeconfig": server_kubeconfig},
        },
        "link_ca": ca,
        "rotation": "2026-12",
    },
)

pulumi.export("ingress_address", link.ingress_address)
pulumi.export("fqdns", link.fqdns)
pulumi.export("admitted_identities", link.admitted_identities)

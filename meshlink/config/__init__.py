"""Typed stack configuration for the meshlink programs: the dev stack (``__main__.py``) and
the split-ownership stacks (``stacks/pki``, ``stacks/server``, ``stacks/client``).

Each program reads its whole configuration namespace once, through one loader, before it
declares anything. The loader validates every key, then the rules that span keys (the two
networks must not overlap, the FQDNs must lie under the DNS zone, ports must not collide,
the demo service must be the one the link targets, ...), and raises a single
:class:`~meshlink.validation.MeshlinkValidationError` whose lines name the key path, say
what was expected and what was found: ``meshlink:services[0].link_port: 15021 is reserved
by Istio ...``. A bad configuration therefore registers nothing.

The rules are the components' own: each section is validated with the pydantic model of
the component it configures (``MeshNetworkSettings``, ``MeshClusterSettings``,
``LinkedService``, the gateway and CA models), with the values the program derives (the
project, the network, the addresses) filled in. Configuration and components cannot
drift apart, and one rule is never written twice.

One module per concern: ``reader`` reads a namespace and gathers its problems into one
error, ``sections`` has one model per key, ``clusters``, ``ca`` and ``rules`` check keys
against each other and against the components, ``dev`` and ``split`` are the programs'
loaders, and ``declare`` declares what a validated configuration describes. This package
exports what the programs and their tests use.

Secrets: the bring-your-own CA certificate and key are read only from secret
configuration (``pulumi config set --secret``), and no message ever repeats the value of
a key that was set as a secret.

Keys (objects are YAML in ``Pulumi.<stack>.yaml``; they arrive as JSON strings):

``client`` / ``server``
    One side each: ``project``, ``region``, ``network`` (``MeshNetworkArgs`` without
    project and region), ``cluster`` (``MeshClusterArgs`` without what the program
    derives: project, network, ranges, fleet). ``client`` adds ``namespaces`` (the client
    workloads' namespaces) and ``network_policy`` (``ClientNetworkPolicyArgs``; off unless
    ``enabled: true``); ``server``
    adds ``ingress`` (``address_name``, ``network_tier``).
``client.fleet_project`` / ``server.fleet_project``
    Each side's fleet host project (default: the side's own project). Each side is a
    fleet and a mesh of its own; the dev stack refuses one fleet for both sides.
``fleet_project``
    Split stacks: the stack's fleet host project (default: its cluster's project). The
    dev stack refuses it: it would put both clusters in one fleet.
``services``
    The linked services (``LinkedServiceArgs``).
``client_identity``
    The client certificate's SAN: ``{dns_name: ...}`` or ``{uri: ...}``.
``dns``
    The client's private zone: ``zone``, ``zone_name``, ``ttl``, and ``google_apis``
    (``private`` (default), ``restricted`` or ``none``): the private ``googleapis.com`` zone
    that makes the client NetworkPolicy's Google API ranges true.
``ca``
    The link CA: ``mode: generate`` (the ``CertificateAuthorityArgs``), ``existing`` (the
    certificate and key in the secret keys ``ca_cert_pem`` and ``ca_key_pem``, plus
    ``chain_pem``, ``root_cert_pem``, ``previous_ca_certs``, ``allow_weak_keys``) or
    ``external`` (``subject``, ``key``, then ``signed_cert_pem`` and ``root_cert_pem`` once
    the request is signed).
``rotation``
    ``ca``, ``issuing_ca``, ``leaves``: change one to replace those certificates.
``leaf_lifetime``
    The gateways' leaf certificates (``LeafLifetimeArgs``): ``validity_hours`` (default
    2160, 90 days), ``early_renewal_hours`` (default 720), ``allow_long_validity``.
``gateways``
    ``egress`` and ``ingress`` gateway settings (``GatewayArgs``; the ingress address and
    allowlist are derived, never set here) and ``istio_api_version``.
``tls``
    ``min_version``: ``TLSV1_2`` (default) or ``TLSV1_3``.
``link_name``
    Name of the link: its component name and the prefix of every Kubernetes object name.
``demo``
    Demo workloads (dev stack): ``enabled``, ``service``, ``server_namespace``,
    ``client_namespace``, ``server_image``, ``client_image``, ``revision``.
``pki_stack`` / ``server_stack`` / ``client_nat_addresses`` / ``server_fqdns`` /
``clients`` / ``client_name``
    Split stacks only; see each stack's ``Pulumi.yaml``.
"""

from meshlink.config.ca import CA_CERT_KEY, CA_KEY_KEY
from meshlink.config.declare import declare_cluster, declare_link_ca
from meshlink.config.dev import load_dev_config
from meshlink.config.split import (
    SERVER_OUTPUTS_PLAIN,
    credential_from,
    load_client_config,
    load_pki_config,
    load_server_config,
    pki_outputs_read,
    read_pki_stack,
)

__all__ = [
    "CA_CERT_KEY",
    "CA_KEY_KEY",
    "SERVER_OUTPUTS_PLAIN",
    "credential_from",
    "declare_cluster",
    "declare_link_ca",
    "load_client_config",
    "load_dev_config",
    "load_pki_config",
    "load_server_config",
    "pki_outputs_read",
    "read_pki_stack",
]

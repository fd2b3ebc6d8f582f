"""meshlink: mutual-TLS links between Kubernetes clusters through Istio gateways.

Components live in one sub-package per concern: ``meshlink.istio`` (typed Istio
objects), ``meshlink.pki`` (the link CA and certificates), ``meshlink.mesh`` (gateways
and the ``MeshLink`` component), ``meshlink.gcp`` (networks and GKE clusters with
managed Cloud Service Mesh).
"""

__version__ = "0.1.0"

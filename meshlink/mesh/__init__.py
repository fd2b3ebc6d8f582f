"""The link itself: gateways, the client and server halves, and ``MeshLink``.

``MeshLink`` is what most programs need: two ``kubernetes.Provider``s, a link CA and
the services; ``FanInLink`` links one server cluster to several client clusters.
``LinkClient`` and ``LinkServer`` are their halves, for programs (or teams) that own only
one cluster; ``PartnerLink`` is a client half alone, to a partner's mutual-TLS endpoint
that meshlink does not declare; ``EgressGateway``, ``IngressGateway`` and
``ExistingIngressGateway`` are the gateways on their own. ``IstioCrdGate`` is the
readiness gate every Istio object waits for.
"""

from meshlink.mesh.client import LinkClient
from meshlink.mesh.client_settings import ClientClusterArgs, LinkClientArgs
from meshlink.mesh.fan_in import FanInClientArgs, FanInLink, FanInLinkArgs
from meshlink.mesh.gateway_settings import (
    EgressGatewayArgs,
    ExistingIngressGatewayArgs,
    ExistingIngressGatewaySettingsArgs,
    GatewayArgs,
    GatewayResourcesArgs,
    IngressGatewayArgs,
    IngressGatewaySettingsArgs,
)
from meshlink.mesh.gateways import EgressGateway, ExistingIngressGateway, IngressGateway
from meshlink.mesh.half import LinkCredentialArgs, LinkOptionsArgs
from meshlink.mesh.hardening import ClientNetworkPolicyArgs, ControlPlaneArgs, EgressPeerArgs
from meshlink.mesh.identity import ClientIdentityArgs
from meshlink.mesh.link import MeshLink, MeshLinkArgs
from meshlink.mesh.link_parts import MeshLinkClientArgs, MeshLinkServerArgs
from meshlink.mesh.partner import PartnerLink
from meshlink.mesh.partner_settings import PartnerEndpointArgs, PartnerLinkArgs, SignedByPartnerArgs
from meshlink.mesh.readiness import CrdWaitTimeout, IstioCrdGate, IstioReadinessArgs
from meshlink.mesh.server import LinkServer
from meshlink.mesh.server_settings import LinkServerArgs, ServerClusterArgs, ServerTlsArgs
from meshlink.mesh.services import LinkedServiceArgs
from meshlink.mesh.targets import ExternalTargetArgs, ExternalTargetTlsArgs

__all__ = [
    "ClientClusterArgs",
    "ClientIdentityArgs",
    "ClientNetworkPolicyArgs",
    "ControlPlaneArgs",
    "CrdWaitTimeout",
    "EgressGateway",
    "EgressGatewayArgs",
    "EgressPeerArgs",
    "ExistingIngressGateway",
    "ExistingIngressGatewayArgs",
    "ExistingIngressGatewaySettingsArgs",
    "ExternalTargetArgs",
    "ExternalTargetTlsArgs",
    "FanInClientArgs",
    "FanInLink",
    "FanInLinkArgs",
    "GatewayArgs",
    "GatewayResourcesArgs",
    "IngressGateway",
    "IngressGatewayArgs",
    "IngressGatewaySettingsArgs",
    "IstioCrdGate",
    "IstioReadinessArgs",
    "LinkClient",
    "LinkClientArgs",
    "LinkCredentialArgs",
    "LinkOptionsArgs",
    "LinkServer",
    "LinkServerArgs",
    "LinkedServiceArgs",
    "MeshLink",
    "MeshLinkArgs",
    "MeshLinkClientArgs",
    "MeshLinkServerArgs",
    "PartnerEndpointArgs",
    "PartnerLink",
    "PartnerLinkArgs",
    "ServerClusterArgs",
    "ServerTlsArgs",
    "SignedByPartnerArgs",
]

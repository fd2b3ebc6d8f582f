"""The pydantic models of the configuration's sections, one per key. Each checks its key
alone; the rules between keys are in ``rules``, ``clusters``, ``ca`` and ``dev``."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from meshlink.demo import DEMO_MYSQL_SERVICE
from meshlink.gcp._validation import GcpName, ProjectId, Region, check_link_zone
from meshlink.mesh.ciphers import DEFAULT_CIPHER_SUITES, CipherSuites
from meshlink.pki import Rotation
from meshlink.pki.authority import CertificateAuthorityModel
from meshlink.pki.existing import ExistingCaTrust
from meshlink.pki.external import ExternalCaSource
from meshlink.validation import Fqdn, ImageRef, KubernetesLabel, WorkloadNamespace


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClusterSection(_Section):
    """The ``client`` or ``server`` key: a cluster's project, region, network and cluster."""

    project: ProjectId
    region: Region
    network: dict[str, Any]
    """``MeshNetworkArgs`` without ``project`` and ``region``."""
    cluster: dict[str, Any] = Field(default_factory=dict)
    """``MeshClusterArgs`` without what the program derives. ``location`` defaults to the
    region (a regional cluster)."""
    fleet_project: ProjectId | None = None
    """This side's fleet host project (default: the side's own project). Each side is a
    fleet and a mesh of its own."""


class ClientSection(ClusterSection):
    namespaces: list[WorkloadNamespace] = Field(default_factory=list)
    """Namespaces of the client workloads (they need sidecar injection). The demo's
    client namespace is added when the demo is on."""
    network_policy: dict[str, Any] = Field(default_factory=dict)
    """``ClientNetworkPolicyArgs``."""


class IngressSection(_Section):
    address_name: GcpName | None = None
    """Name of the reserved ingress address in GCP (default ``<link name>-ingress``)."""
    network_tier: Literal["PREMIUM", "STANDARD"] = "PREMIUM"


class ServerSection(ClusterSection):
    ingress: IngressSection = Field(default_factory=IngressSection)


class DnsSection(_Section):
    zone: Annotated[Fqdn, AfterValidator(check_link_zone)]
    """The private zone's domain, e.g. ``link.internal.example.com``."""
    zone_name: GcpName | None = None
    """Name of the zone in GCP (default ``<link name>-names``)."""
    ttl: int = Field(default=300, ge=30, le=86400)
    google_apis: Literal["private", "restricted", "none"] = "private"
    """Resolve ``*.googleapis.com`` to this Private Google Access endpoint in the client
    VPC; ``none`` when the VPC already does (then say where in ``network_policy``)."""


class RotationSection(_Section):
    ca: Rotation | None = None
    """Replaces every CA key and certificate (and so every leaf)."""
    issuing_ca: Rotation | None = None
    """Replaces the issuing CA and the leaves it signed; trust bundles stay."""
    leaves: Rotation | None = None
    """Replaces the gateways' leaf certificates."""


class TlsSection(_Section):
    min_version: Literal["TLSV1_2", "TLSV1_3"] = "TLSV1_2"
    cipher_suites: CipherSuites = Field(default_factory=lambda: list(DEFAULT_CIPHER_SUITES))
    """TLS 1.2 suites the ingress Gateway accepts (``meshlink.mesh.ciphers``)."""


class GatewaysSection(_Section):
    egress: dict[str, Any] = Field(default_factory=dict)
    """``EgressGatewayArgs``."""
    ingress: dict[str, Any] = Field(default_factory=dict)
    """``IngressGatewaySettingsArgs`` without the address and allowlist, which come from
    the reserved ingress address and the client NAT."""
    istio_api_version: Literal["v1", "v1beta1"] = "v1"


class DemoSection(_Section):
    enabled: bool = False
    service: KubernetesLabel = "mysql"
    """Which linked service (by name) the demo client connects to."""
    server_namespace: WorkloadNamespace = "demo-db"
    client_namespace: WorkloadNamespace = "demo-app"
    server_image: ImageRef = "mysql:8.4.3"
    client_image: ImageRef = "mysql:8.4.3"
    revision: KubernetesLabel | None = None
    """Istio revision for the demo namespaces' injection label; the default revision
    (``istio-injection: enabled``) when unset."""

    @property
    def target_host(self) -> str:
        return f"{DEMO_MYSQL_SERVICE}.{self.server_namespace}.svc.cluster.local"


class GeneratedCaSection(CertificateAuthorityModel):
    """``mode: generate``: ``CertificateAuthorityArgs``; rotation lives in
    ``rotation``."""

    mode: Literal["generate"] = "generate"

    @model_validator(mode="after")
    def _rotation_elsewhere(self) -> GeneratedCaSection:
        if self.ca_rotation is not None or (
            self.issuing_ca is not None and self.issuing_ca.rotation is not None
        ):
            raise ValueError(
                "rotation values belong in the rotation key (rotation.ca, rotation.issuing_ca)"
            )
        return self


class ExistingCaSection(ExistingCaTrust):
    """``mode: existing``: the certificate and key come from the secret keys
    ``ca_cert_pem`` and ``ca_key_pem``."""

    mode: Literal["existing"]


class ExternalCaSection(ExternalCaSource):
    """``mode: external``: an issuing CA whose request a root outside Pulumi signs."""

    mode: Literal["external"]


CaSection = GeneratedCaSection | ExistingCaSection | ExternalCaSection


_STACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")


def check_stack_name(value: str) -> str:
    if not _STACK_NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a stack name such as 'acme/meshlink-pki/prod' "
            "(organization/project/stack)"
        )
    return value

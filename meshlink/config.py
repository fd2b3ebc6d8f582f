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
``pki_stack`` / ``server_stack`` / ``client_nat_addresses`` / ``server_fqdns``
    Split stacks only; see each stack's ``Pulumi.yaml``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NamedTuple, TypeVar, cast

import pulumi
import pulumi.runtime.config as runtime_config
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from meshlink.gcp import (
    IngressAddress,
    MeshCluster,
    MeshClusterArgs,
    MeshNetwork,
    MeshNetworkArgs,
    ProjectApis,
    ServiceMeshFeature,
    check_networks_disjoint,
)
from meshlink.gcp._validation import (
    GcpName,
    ProjectId,
    Region,
    check_host_address,
    check_link_zone,
    check_project_id,
)
from meshlink.gcp.cluster import MeshClusterSettings
from meshlink.gcp.google_apis_dns import ENDPOINTS as GOOGLE_API_ENDPOINTS
from meshlink.gcp.network import MeshNetworkSettings
from meshlink.mesh import LinkClientArgs, LinkCredentialArgs, LinkServerArgs, MeshLinkArgs
from meshlink.mesh.ciphers import DEFAULT_CIPHER_SUITES, CipherSuites
from meshlink.mesh.gateways import EgressGatewaySettings, IngressGatewaySettings
from meshlink.mesh.hardening import ClientNetworkPolicy
from meshlink.mesh.identity import ClientIdentity
from meshlink.mesh.naming import LinkNames, check_names
from meshlink.mesh.services import LinkedService, check_services, check_target_policies
from meshlink.pki import (
    CertificateAuthority,
    ExistingCertificateAuthority,
    ExternallySignedCertificateAuthority,
    LeafCertificateArgs,
    LinkIssuer,
    Rotation,
    read_secret_config,
)
from meshlink.pki.authority import CertificateAuthorityModel
from meshlink.pki.leaf import LeafLifetime
from meshlink.pki.models import CaSubjectModel, KeyModel
from meshlink.pki.x509_checks import CertificateProblem, hours_left, load_certificate, utc_now
from meshlink.stack_outputs import StackOutputs
from meshlink.validation import (
    Fqdn,
    KubernetesLabel,
    MeshlinkValidationError,
    WorkloadNamespace,
    check_dns1123_label,
    check_fqdn,
    describe_validation_error,
)

NAMESPACE = "meshlink"
"""The dev stack's configuration namespace (its project name)."""

CA_CERT_KEY = "ca_cert_pem"
CA_KEY_KEY = "ca_key_pem"
"""Secret keys holding a bring-your-own CA's certificate and private key."""

DEFAULT_LINK_NAME = "link"

_PLACEHOLDER_ADDRESS = "192.0.2.1"
"""Stands in for derived addresses while a section is checked against its component model."""

_WHERE = "configuration"


# --------------------------------------------------------------------------- sections


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SideSection(_Section):
    """One side's project, region, network and cluster."""

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


class ClientSection(SideSection):
    namespaces: list[WorkloadNamespace] = Field(default_factory=list)
    """Namespaces of the client workloads (they need sidecar injection). The demo's
    client namespace is added when the demo is on."""
    network_policy: dict[str, Any] = Field(default_factory=dict)
    """``ClientNetworkPolicyArgs``."""


class IngressSection(_Section):
    address_name: GcpName | None = None
    """Name of the reserved ingress address in GCP (default ``<link name>-ingress``)."""
    network_tier: Literal["PREMIUM", "STANDARD"] = "PREMIUM"


class ServerSection(SideSection):
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


_IMAGE_RE = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")


def check_image(value: str) -> str:
    """An image pinned by tag or digest: ``latest`` or no tag would change under a running
    demo without any change in the program."""
    if not _IMAGE_RE.match(value):
        raise ValueError(
            f"{value!r} is not an image reference pinned by tag or digest, such as "
            "'mysql:8.4.3' or 'mysql@sha256:<64 hex digits>'"
        )
    if value.endswith(":latest"):
        raise ValueError(f"{value!r}: 'latest' is not a pin; name a version")
    return value


ImageRef = Annotated[str, AfterValidator(check_image)]

DEMO_MYSQL_SERVICE = "mysql"
"""The demo MySQL server's Service name."""
DEMO_MYSQL_PORT = 3306
DEMO_MYSQL_SELECTOR = {"app.kubernetes.io/name": "mysql"}
"""The demo MySQL server's pod selector, which the link's target policies select too."""


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


class ExistingCaSection(_Section):
    """``mode: existing``: the certificate and key come from the secret keys
    ``ca_cert_pem`` and ``ca_key_pem``."""

    mode: Literal["existing"]
    chain_pem: str | None = None
    root_cert_pem: str | None = None
    previous_ca_certs: list[str] = Field(default_factory=list)
    allow_weak_keys: bool = False


class ExternalCaSection(_Section):
    """``mode: external``: an issuing CA whose request a root outside Pulumi signs."""

    mode: Literal["external"]
    subject: CaSubjectModel
    key: KeyModel = Field(default_factory=KeyModel)
    signed_cert_pem: str | None = None
    root_cert_pem: str | None = None
    chain_pem: str | None = None
    previous_ca_certs: list[str] = Field(default_factory=list)
    allow_weak_keys: bool = False


CaSection = GeneratedCaSection | ExistingCaSection | ExternalCaSection
_CA_MODELS: dict[str, type[BaseModel]] = {
    "generate": GeneratedCaSection,
    "existing": ExistingCaSection,
    "external": ExternalCaSection,
}


_STACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")


def check_stack_name(value: str) -> str:
    if not _STACK_NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a stack name such as 'acme/meshlink-pki/prod' "
            "(organization/project/stack)"
        )
    return value


# --------------------------------------------------------------------------- reading

_MISSING: Any = object()
_INVALID: Any = object()
ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigReader:
    """Reads one namespace's keys and collects every problem, so that one error reports
    them all."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.problems: list[str] = []
        self.known: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def is_secret(self, key: str) -> bool:
        return runtime_config.is_config_secret(self.path(key))

    def raw(self, key: str, *, text: bool = False) -> Any:
        """The key's value (JSON-decoded unless ``text``), ``_MISSING`` when unset,
        ``_INVALID`` (with a problem recorded) when it cannot be decoded."""
        self.known.add(key)
        value = runtime_config.get_config(self.path(key))
        if value is None:
            return _MISSING
        if text:
            return str(value)
        try:
            return json.loads(value)
        except (TypeError, json.JSONDecodeError):
            found = "" if self.is_secret(key) else f" (found: {str(value)[:60]!r})"
            self.problems.append(f"{self.path(key)}: expected a YAML/JSON value{found}")
            return _INVALID

    def section(
        self, model: type[ModelT], key: str, *, required: bool, default: Any = None
    ) -> ModelT | None:
        """Key ``key`` validated by ``model``; None (problem recorded) when it is bad or,
        being required, missing."""
        value = self.raw(key)
        if value is _INVALID:
            return None
        if value is _MISSING:
            if required:
                self.problems.append(
                    f"{self.path(key)}: is required (see Pulumi.yaml for its shape)"
                )
                return None
            value = {} if default is None else default
        if not isinstance(value, dict):
            return self._wrong_shape(key, "an object", value)
        return self.part(model, value, f"{self.path(key)}.", secret=self.is_secret(key))

    def items(self, model: type[ModelT], key: str, *, required: bool) -> list[ModelT] | None:
        """A list key, each item validated by ``model``; None when any item is bad."""
        value = self.raw(key)
        if value is _INVALID:
            return None
        if value is _MISSING:
            if required:
                self.problems.append(
                    f"{self.path(key)}: is required (see Pulumi.yaml for its shape)"
                )
                return None
            return []
        if not isinstance(value, list):
            return self._wrong_shape(key, "a list", value)
        if required and not value:
            self.problems.append(f"{self.path(key)}: needs at least one entry")
            return None
        secret = self.is_secret(key)
        parsed = [
            self.part(model, item, f"{self.path(key)}[{index}].", secret=secret)
            if isinstance(item, dict)
            else self._wrong_shape(f"{key}[{index}]", "an object", item, secret=secret)
            for index, item in enumerate(value)
        ]
        if any(p is None for p in parsed):
            return None
        return cast(list[ModelT], parsed)

    def text(
        self, key: str, *, required: bool, check: Callable[[str], str] | None = None
    ) -> str | None:
        """A string key; an empty string counts as unset."""
        value = self.raw(key, text=True)
        if value is _MISSING or value == "":
            if required:
                self.problems.append(f"{self.path(key)}: is required")
            return None
        if check is not None:
            try:
                check(value)
            except ValueError as error:
                self.problems.append(f"{self.path(key)}: {error}")
                return None
        return str(value)

    def strings(
        self, key: str, *, required: bool, check: Callable[[str], Any] | None = None
    ) -> list[str] | None:
        value = self.raw(key)
        if value is _INVALID:
            return None
        if value is _MISSING or value == []:
            if required:
                self.problems.append(f"{self.path(key)}: is required (a non-empty list)")
                return None
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return self._wrong_shape(key, "a list of strings", value)
        bad = False
        for index, item in enumerate(value):
            if check is None:
                continue
            try:
                check(item)
            except ValueError as error:
                self.problems.append(f"{self.path(key)}[{index}]: {error}")
                bad = True
        repeated = sorted({v for v in value if value.count(v) > 1})
        if repeated:
            self.problems.append(f"{self.path(key)}: lists {repeated} more than once")
            bad = True
        return None if bad else list(value)

    def part(
        self, model: type[ModelT], values: Mapping[str, Any], prefix: str, *, secret: bool = False
    ) -> ModelT | None:
        """``values`` validated by ``model``; None with the problems recorded under
        ``prefix``. Inputs are not repeated for secret keys."""
        try:
            return model.model_validate(dict(values))
        except ValidationError as error:
            lines = describe_validation_error(error, prefix=prefix, show_input=not secret)
            if secret:
                # Validators repeat a bad value in their message; a secret one must not be.
                lines = [
                    _without_value(line, item.get("input"))
                    for line, item in zip(lines, error.errors(include_url=False), strict=True)
                ]
            self.problems.extend(lines)
            return None

    def _wrong_shape(self, key: str, expected: str, value: Any, *, secret: bool = False) -> Any:
        """Records the problem; returns None so callers can ``return`` it."""
        found = "" if secret or self.is_secret(key) else f" (found: {json.dumps(value)[:60]})"
        self.problems.append(f"{self.path(key)}: expected {expected}{found}")
        return None

    def reject_unknown_keys(self) -> None:
        """A key this program does not read is a typo or a leftover; both deserve a
        message rather than being silently ignored."""
        present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
        prefix = f"{self.namespace}:"
        for full_key in sorted(present):
            if full_key.startswith(prefix) and full_key[len(prefix) :] not in self.known:
                known = ", ".join(sorted(self.known))
                self.problems.append(
                    f"{full_key}: is not a setting of this program (it reads: {known})"
                )

    def secret_texts(self) -> list[str]:
        """Every text inside the values of this namespace's secret keys, longest first.

        Cross-key checks (the demo against ``services``, names derived from
        ``link_name``) quote values of other keys; scrubbing these texts from every
        problem keeps a secret key's value out of the error whichever check quotes it."""
        texts: set[str] = set()

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, str) and len(value) >= 3:
                texts.add(value)

        for key in sorted(self.known):
            if not self.is_secret(key):
                continue
            raw = runtime_config.get_config(self.path(key))
            if raw is None:
                continue
            texts.add(str(raw))
            try:
                walk(json.loads(raw))
            except (TypeError, json.JSONDecodeError):
                walk(str(raw))
        return sorted(texts, key=len, reverse=True)

    def raise_if_problems(self) -> None:
        if self.problems:
            secrets = self.secret_texts()
            problems = []
            for line in dict.fromkeys(self.problems):
                for text in secrets:
                    line = line.replace(text, "<secret value>")
                problems.append(line)
            raise MeshlinkValidationError(_WHERE, problems)


def _without_value(line: str, value: Any) -> str:
    if isinstance(value, str | int | float) and str(value):
        for shown in (repr(value), str(value)):
            line = line.replace(shown, "<secret value>")
    return line


# --------------------------------------------------------------------------- validated parts

_DERIVED_NETWORK_KEYS = {
    "project": "is the side's project (set it one level up)",
    "region": "is the side's region (set it one level up)",
}
_DERIVED_CLUSTER_KEYS = {
    "project": "is the side's project (set it one level up)",
    "network": "is the side's network",
    "subnetwork": "is the side's subnet",
    "pods_range_name": "is derived from the network",
    "services_range_name": "is derived from the network",
    "mesh_feature": "is the fleet's servicemesh feature",
    "fleet_project": "is the fleet_project key",
    "master_ipv4_cidr": "is the network's control_plane_cidr",
}
_DERIVED_INGRESS_GATEWAY_KEYS = {
    "source_ranges": "is the client NAT addresses",
    "allow_any_source": "would open the link ports to the internet",
    "static_ip": "is the reserved ingress address",
    "static_ip_name": "is the reserved ingress address",
    "internal": "does not apply: the ingress address is external",
    "network_tier": "is the ingress address's network_tier",
}


def _reject_derived(
    reader: ConfigReader, values: Mapping[str, Any], derived: Mapping[str, str], prefix: str
) -> bool:
    clean = True
    for key, why in derived.items():
        if key in values:
            reader.problems.append(f"{prefix}{key}: cannot be set here; it {why}")
            clean = False
    return clean


@dataclass(frozen=True)
class Side:
    """A validated side: what its ``MeshNetwork`` and ``MeshCluster`` are given."""

    name: str
    """``client`` or ``server``: the component names, and so the provider names."""
    section: SideSection
    network: MeshNetworkSettings

    @property
    def project(self) -> str:
        return self.section.project

    @property
    def region(self) -> str:
        return self.section.region

    def network_args(self) -> MeshNetworkArgs:
        return cast(
            MeshNetworkArgs,
            {
                **self.section.network,
                "project": self.project,
                "region": self.region,
                "network_name": self.network.network_name,
            },
        )

    def cluster_args(
        self, network: MeshNetwork, *, mesh_feature: pulumi.Input[str], fleet_project: str
    ) -> MeshClusterArgs:
        args: dict[str, Any] = {
            "location": self.region,
            **self.section.cluster,
            "project": self.project,
            "network": network.network_id,
            "subnetwork": network.subnetwork_id,
            "pods_range_name": network.pods_range_name,
            "services_range_name": network.services_range_name,
            "mesh_feature": mesh_feature,
            "fleet_project": fleet_project,
        }
        if network.control_plane_cidr is not None:
            args["master_ipv4_cidr"] = network.control_plane_cidr
        return cast(MeshClusterArgs, args)


def _network_values(section: SideSection, name: str) -> dict[str, Any]:
    return {
        **section.network,
        "project": section.project,
        "region": section.region,
        "network_name": section.network.get("network_name", name),
    }


def _side(
    reader: ConfigReader,
    key: str,
    model: type[SideSection],
    *,
    fleet_project: str | None,
    check_network: bool = True,
) -> tuple[SideSection | None, MeshNetworkSettings | None]:
    """A side's section, its network checked alone (``check_network``) and its cluster
    checked against ``MeshClusterSettings``."""
    section = reader.section(model, key, required=True)
    if section is None:
        return None, None
    prefix = f"{reader.path(key)}."
    network_ok = _reject_derived(
        reader, section.network, _DERIVED_NETWORK_KEYS, f"{prefix}network."
    )
    network: MeshNetworkSettings | None = None
    if network_ok and check_network:
        network = reader.part(
            MeshNetworkSettings, _network_values(section, key), f"{prefix}network."
        )
    if _reject_derived(reader, section.cluster, _DERIVED_CLUSTER_KEYS, f"{prefix}cluster."):
        control_plane = section.network.get("control_plane_cidr")
        values: dict[str, Any] = {
            "location": section.region,
            "cluster_name": key,
            **section.cluster,
            "project": section.project,
            "network": "derived",
            "subnetwork": "derived",
            "pods_range_name": "derived",
            "services_range_name": "derived",
            "mesh_feature": "servicemesh",
            "fleet_project": fleet_project or section.fleet_project or section.project,
        }
        if isinstance(control_plane, str):
            values["master_ipv4_cidr"] = control_plane
        reader.part(MeshClusterSettings, values, f"{prefix}cluster.")
    return section, network


def _client_policy(reader: ConfigReader, section: ClientSection | None) -> ClientNetworkPolicy:
    if section is None:
        return ClientNetworkPolicy()
    policy = reader.part(
        ClientNetworkPolicy, section.network_policy, f"{reader.path('client')}.network_policy."
    )
    return policy or ClientNetworkPolicy()


SHARED_VPC_REQUIREMENT = (
    "https://cloud.google.com/service-mesh/docs/managed/provision-managed-anthos-service-mesh"
)
"""Managed Cloud Service Mesh: clusters of different projects joined to one mesh "must be
registered to the same fleet host project, and the clusters must be in a shared VPC
configuration together on the same network" (Requirements)."""


MESH_FLEET_LIMITATION = "https://cloud.google.com/service-mesh/docs/supported-features-mcp"
"""Managed Cloud Service Mesh, Limitations: "All Cloud Service Mesh clusters for one mesh
must be registered to the same fleet at all times ... Other clusters in the project of a
Cloud Service Mesh cluster must not be registered to a different fleet."."""


def side_fleet(section: SideSection) -> str:
    return section.fleet_project or section.project


def _check_two_fleets(
    reader: ConfigReader,
    client: SideSection | None,
    server: SideSection | None,
    shared_fleet: str | None,
) -> None:
    """Each side is a fleet and a mesh of its own: one message naming the keys otherwise."""
    if client is None or server is None:
        return
    keys = f"{reader.path('client')}.fleet_project, {reader.path('server')}.fleet_project"
    if shared_fleet is not None:
        reader.problems.append(
            f"{reader.path('fleet_project')}: one fleet for both clusters would make one "
            f"mesh of projects {client.project!r} and {server.project!r}, which managed "
            "Cloud Service Mesh supports only for clusters in a shared VPC on one network "
            f"({SHARED_VPC_REQUIREMENT}); the two sides have networks of their own. Remove "
            f"it: each side's fleet is its own project, or set {keys}"
        )
        return
    if client.project == server.project:
        reader.problems.append(
            f"{reader.path('client')}.project, {reader.path('server')}.project: both "
            f"clusters are in project {client.project!r}. The link needs a mesh per side, "
            "each in a fleet of its own, and managed Cloud Service Mesh does not let another "
            "cluster in the project of a Cloud Service Mesh cluster register to a different "
            f"fleet ({MESH_FLEET_LIMITATION}); put the sides in two projects"
        )
        return
    client_fleet, server_fleet = side_fleet(client), side_fleet(server)
    if client_fleet == server_fleet:
        reader.problems.append(
            f"{keys}: both clusters would register to the fleet of {client_fleet!r}, one "
            f"mesh across projects {client.project!r} and {server.project!r}, which managed "
            "Cloud Service Mesh supports only for clusters in a shared VPC on one network "
            f"({SHARED_VPC_REQUIREMENT}); the two sides have networks of their own. Give "
            "each side a fleet project of its own (unset: the side's own project)"
        )


def _services(reader: ConfigReader, *, server_side: bool = True) -> list[LinkedService] | None:
    """The linked services; ``server_side`` when the program declares the server half,
    which needs each target's pod labels for its policies."""
    services = reader.items(LinkedService, "services", required=True)
    if services is not None:
        reader.problems.extend(check_services(services, setting=reader.path("services")))
        if server_side:
            reader.problems.extend(check_target_policies(services, setting=reader.path("services")))
    return services


def _link_name(reader: ConfigReader, services: Sequence[LinkedService] | None) -> str:
    name = reader.text("link_name", required=False, check=check_dns1123_label) or DEFAULT_LINK_NAME
    if services is not None:
        for problem in check_names(
            name, [s.name for s in services], prefix_setting=reader.path("link_name")
        ):
            reader.problems.append(
                problem if problem.startswith(reader.namespace) else reader.path(problem)
            )
    return name


def _gateways(reader: ConfigReader) -> GatewaysSection | None:
    gateways = reader.section(GatewaysSection, "gateways", required=False)
    if gateways is None:
        return None
    prefix = f"{reader.path('gateways')}."
    reader.part(EgressGatewaySettings, gateways.egress, f"{prefix}egress.")
    if _reject_derived(
        reader, gateways.ingress, _DERIVED_INGRESS_GATEWAY_KEYS, f"{prefix}ingress."
    ):
        reader.part(
            IngressGatewaySettings,
            {
                **gateways.ingress,
                "source_ranges": [f"{_PLACEHOLDER_ADDRESS}/32"],
                "static_ip": _PLACEHOLDER_ADDRESS,
            },
            f"{prefix}ingress.",
        )
    return gateways


def _ca(reader: ConfigReader) -> CaSection | None:
    value = reader.raw("ca")
    reader.known.update({CA_CERT_KEY, CA_KEY_KEY})
    if value is _INVALID:
        return None
    if value is _MISSING:
        reader.problems.append(
            f"{reader.path('ca')}: is required (mode: generate, existing or external)"
        )
        return None
    if not isinstance(value, dict):
        return reader._wrong_shape("ca", "an object", value)
    mode = value.get("mode", "generate")
    model = _CA_MODELS.get(mode) if isinstance(mode, str) else None
    if model is None:
        reader.problems.append(
            f"{reader.path('ca')}.mode: expected generate, existing or external (found: {mode!r})"
        )
        return None
    section = reader.part(model, value, f"{reader.path('ca')}.", secret=reader.is_secret("ca"))
    if not isinstance(section, ExistingCaSection):
        for key in (CA_CERT_KEY, CA_KEY_KEY):
            if runtime_config.get_config(reader.path(key)):
                reader.problems.append(
                    f"{reader.path(key)}: is set, but {reader.path('ca')}.mode is {mode}; "
                    "it is read only with mode: existing (remove it)"
                )
    return cast(CaSection | None, section)


def _existing_ca_pems(reader: ConfigReader) -> tuple[str, str] | None:
    pems: list[str] = []
    for key in (CA_CERT_KEY, CA_KEY_KEY):
        try:
            pems.append(read_secret_config(key, namespace=reader.namespace))
        except MeshlinkValidationError as error:
            reader.problems.extend(error.problems)
    return (pems[0], pems[1]) if len(pems) == 2 else None


def _dns(
    reader: ConfigReader,
    services: Sequence[LinkedService] | None,
    policy: ClientNetworkPolicy,
) -> DnsSection | None:
    dns = reader.section(DnsSection, "dns", required=True)
    if dns is None:
        return None
    if services is not None:
        for index, service in enumerate(services):
            if not service.fqdn.endswith(f".{dns.zone}"):
                reader.problems.append(
                    f"{reader.path('services')}[{index}].fqdn: {service.fqdn!r} is not under "
                    f"the private zone {reader.path('dns')}.zone {dns.zone!r}, so the client "
                    "network could not resolve it to the ingress address"
                )
    plane = policy.control_plane
    if dns.google_apis != "none" and policy.enabled and plane.kind == "managed":
        cidr = GOOGLE_API_ENDPOINTS[dns.google_apis][0]
        if cidr not in plane.google_api_cidrs:
            reader.problems.append(
                f"{reader.path('dns')}.google_apis: {dns.google_apis} resolves Google APIs to "
                f"{cidr}, which {reader.path('client')}.network_policy.control_plane."
                f"google_api_cidrs {plane.google_api_cidrs} does not allow; the sidecars "
                "would lose their control plane"
            )
    return dns


def _demo(reader: ConfigReader, services: Sequence[LinkedService] | None) -> DemoSection | None:
    demo = reader.section(DemoSection, "demo", required=False)
    if demo is None or not demo.enabled or services is None:
        return demo
    prefix = f"{reader.path('demo')}."
    matches = [i for i, s in enumerate(services) if s.name == demo.service]
    if not matches:
        names = [s.name for s in services]
        reader.problems.append(f"{prefix}service: {demo.service!r} is not one of {names}")
        return demo
    index = matches[0]
    service = services[index]
    where = f"{reader.path('services')}[{index}]"
    if service.target_host != demo.target_host:
        reader.problems.append(
            f"{where}.target_host: the demo MySQL server is {demo.target_host!r} "
            f"({prefix}server_namespace), but the link targets {service.target_host!r}"
        )
    if service.target_labels is not None and not (
        service.target_labels.items() <= DEMO_MYSQL_SELECTOR.items()
    ):
        reader.problems.append(
            f"{where}.target_labels: the demo MySQL pods are selected by "
            f"{DEMO_MYSQL_SELECTOR}; {service.target_labels} would leave them unprotected"
        )
    if service.target_port != DEMO_MYSQL_PORT:
        reader.problems.append(
            f"{where}.target_port: the demo MySQL server listens on {DEMO_MYSQL_PORT}, not "
            f"{service.target_port}"
        )
    if demo.client_namespace == demo.server_namespace:
        reader.problems.append(
            f"{prefix}client_namespace: must differ from server_namespace: the server side's "
            "namespace name says nothing about the client cluster, but a reader would think so"
        )
    return demo


def _check_demo_beside_gateways(
    reader: ConfigReader,
    demo: DemoSection | None,
    gateways: GatewaysSection | None,
    link_name: str | None,
) -> None:
    """A demo namespace that is also a gateway's would be declared twice; say so before
    anything is declared (the render would otherwise find it only when writing files)."""
    if demo is None or not demo.enabled or gateways is None or link_name is None:
        return
    names = LinkNames(link_name)
    for side, default in (
        ("egress", names.egress_gateway_default()),
        ("ingress", names.ingress_gateway_default()),
    ):
        settings = getattr(gateways, side)
        namespace = settings.get("namespace") or default
        for key in ("server_namespace", "client_namespace"):
            if namespace == getattr(demo, key):
                reader.problems.append(
                    f"{reader.path('gateways')}.{side}.namespace: {namespace!r} is also "
                    f"{reader.path('demo')}.{key}; the gateway needs a namespace of its own "
                    "(its Role reads every Secret there)"
                )


def _leaf_lifetime(reader: ConfigReader, ca: CaSettings | None) -> LeafLifetime | None:
    """The leaves' lifetime, checked against a generated CA's signing certificate: a leaf
    that outlives its issuer fails verification before it expires."""
    lifetime = reader.section(LeafLifetime, "leaf_lifetime", required=False)
    if lifetime is None or ca is None:
        return lifetime
    setting = f"{reader.path('leaf_lifetime')}.validity_hours"
    section = ca.section
    if isinstance(section, GeneratedCaSection):
        short = section.leaves_problem(lifetime.validity_hours, setting)
        if short:
            reader.problems.append(f"{reader.path('ca')}.{short}")
        return lifetime
    # A certificate given in config has a known expiry: checked here, before the CA is
    # declared, with the clock its component checks expiry with. A certificate that does
    # not parse is reported by that component.
    signer_pem, signer_key = (
        (ca.cert_pem, reader.path(CA_CERT_KEY))
        if isinstance(section, ExistingCaSection)
        else (section.signed_cert_pem, f"{reader.path('ca')}.signed_cert_pem")
    )
    if not signer_pem:
        return lifetime
    try:
        signer = load_certificate(signer_pem, signer_key)
    except CertificateProblem:
        return lifetime
    left = hours_left(signer, utc_now())
    if lifetime.validity_hours > left:
        reader.problems.append(
            f"{setting} ({lifetime.validity_hours}) is longer than {signer_key} has left to "
            f"live ({left} hours): the leaves would outlive their issuer and fail "
            "verification before they expire; shorten the leaves or renew the CA first"
        )
    return lifetime


def _fleet(reader: ConfigReader) -> str | None:
    return reader.text("fleet_project", required=False, check=check_project_id)


def _address(value: str) -> str:
    check_host_address(value)
    return value


# --------------------------------------------------------------------------- stack configs


@dataclass(frozen=True)
class CaSettings:
    """The validated ``ca`` key, with a bring-your-own CA's PEMs read from secret config."""

    section: CaSection
    namespace: str
    cert_pem: str | None = None
    key_pem: str | None = field(default=None, repr=False)


def declare_link_ca(
    name: str,
    ca: CaSettings,
    rotation: RotationSection,
    opts: pulumi.ResourceOptions | None = None,
) -> LinkIssuer:
    """Declare the link CA the configuration describes.

    Declare it first: a bring-your-own or externally signed CA checks its certificates in
    its constructor, so a bad one must fail before anything else is registered. Those
    problems are reported under the configuration keys they came from.
    """
    section = ca.section
    prefix = f"{ca.namespace}:ca."
    try:
        if isinstance(section, GeneratedCaSection):
            args = section.model_dump(exclude={"mode"}, exclude_none=True)
            if rotation.ca is not None:
                args["ca_rotation"] = rotation.ca
            if section.issuing_ca is not None and rotation.issuing_ca is not None:
                args["issuing_ca"]["rotation"] = rotation.issuing_ca
            return CertificateAuthority(name, cast(Any, args), opts=opts)
        if isinstance(section, ExistingCaSection):
            assert ca.cert_pem is not None and ca.key_pem is not None
            existing = {
                "cert_pem": ca.cert_pem,
                "private_key_pem": ca.key_pem,
                **section.model_dump(exclude={"mode"}, exclude_none=True),
            }
            return ExistingCertificateAuthority(name, cast(Any, existing), opts=opts)
        external = section.model_dump(exclude={"mode"}, exclude_none=True)
        if rotation.ca is not None:
            external["rotation"] = rotation.ca
        return ExternallySignedCertificateAuthority(name, cast(Any, external), opts=opts)
    except MeshlinkValidationError as error:
        renamed = {
            "cert_pem": f"{ca.namespace}:{CA_CERT_KEY}",
            "private_key_pem": f"{ca.namespace}:{CA_KEY_KEY}",
        }
        problems = []
        for problem in error.problems:
            setting = re.split(r"[:\[.]", problem, maxsplit=1)[0]
            target = renamed.get(setting, f"{prefix}{setting}")
            problems.append(target + problem[len(setting) :])
        raise MeshlinkValidationError(_WHERE, problems) from None


def _ca_settings(reader: ConfigReader) -> CaSettings | None:
    section = _ca(reader)
    if section is None:
        return None
    if isinstance(section, ExistingCaSection):
        pems = _existing_ca_pems(reader)
        if pems is None:
            return None
        return CaSettings(section, reader.namespace, cert_pem=pems[0], key_pem=pems[1])
    return CaSettings(section, reader.namespace)


def source_ranges(ingress: IngressAddress, count: int) -> list[pulumi.Output[str]]:
    """The ingress address's allowlist as a list of ``count`` Outputs, the shape the
    gateway Service's ``loadBalancerSourceRanges`` takes. ``count`` is known from the
    configuration (the client's NAT address count), the values only once GCP reports
    them; they are the same values ``IngressAddress`` checked."""

    def entry(index: int) -> pulumi.Output[str]:
        return ingress.source_ranges.apply(lambda ranges: str(ranges[index]))

    return [entry(index) for index in range(count)]


def ingress_address_args(ingress: IngressAddress) -> dict[str, Any]:
    """How the ingress gateway's Service takes the reserved address on GKE: by its name
    in GKE's static-address annotation (not the deprecated ``loadBalancerIP``), in the
    address's own network tier; the address itself for the outputs."""
    return {
        "static_ip": ingress.address,
        "static_ip_name": ingress.address_name,
        "network_tier": ingress.settings.network_tier,
    }


def managed_mesh_trust_domain(fleet_project: str) -> str:
    """The trust domain of a GKE workload's mesh identity: Google documents GKE workload
    SPIFFE IDs as ``spiffe://PROJECT_ID.svc.id.goog/ns/NAMESPACE/sa/SERVICE_ACCOUNT``
    (https://cloud.google.com/iam/docs/managed-workload-identity, "SPIFFE
    interoperability"), the fleet project's workload identity pool. The ingress gateway's
    principal in the targets' AuthorizationPolicies carries it. That managed Cloud
    Service Mesh's mesh CA issues exactly this trust domain is not confirmed without a
    fleet; ``cluster.local`` is listed beside it (see ``trust_domains``)."""
    return f"{fleet_project}.svc.id.goog"


def _service_args(services: Sequence[LinkedService]) -> list[dict[str, Any]]:
    return [service.model_dump(exclude_none=True) for service in services]


@dataclass(frozen=True)
class DevStackConfig:
    """The all-in-one stack: both clusters, the CA and the link in one program."""

    namespace: str
    client: Side
    server: Side
    client_namespaces: list[str]
    """The link's client namespaces, the demo's included."""
    network_policy: ClientNetworkPolicy
    client_section: ClientSection
    server_section: ServerSection
    client_fleet_project: str
    """The client side's fleet host project: its own fleet, feature and mesh."""
    server_fleet_project: str
    """The server side's fleet host project: its own fleet, feature and mesh."""
    services: list[LinkedService]
    client_identity: ClientIdentity
    dns: DnsSection
    ca: CaSettings
    rotation: RotationSection
    gateways: GatewaysSection
    tls: TlsSection
    link_name: str
    demo: DemoSection
    leaf_lifetime: LeafLifetime = field(default_factory=LeafLifetime)

    @property
    def projects(self) -> list[str]:
        return list(
            dict.fromkeys(
                [
                    self.client.project,
                    self.server.project,
                    self.client_fleet_project,
                    self.server_fleet_project,
                ]
            )
        )

    def fleet_project(self, side: Side) -> str:
        return self.client_fleet_project if side.name == "client" else self.server_fleet_project

    @property
    def fqdns(self) -> list[str]:
        return [s.fqdn for s in self.services]

    @property
    def nat_address_count(self) -> int:
        return self.client.network.nat_address_count

    def link_args(
        self,
        *,
        issuer: LinkIssuer,
        client_cluster: MeshCluster,
        server_cluster: MeshCluster,
        ingress: IngressAddress,
    ) -> MeshLinkArgs:
        args: dict[str, Any] = {
            "services": _service_args(self.services),
            "client": {
                "provider": client_cluster.provider,
                "namespaces": self.client_namespaces,
                "egress_gateway": dict(self.gateways.egress),
                "network_policy": dict(self.client_section.network_policy),
                "readiness": {"kubeconfig": client_cluster.kubeconfig},
                "cluster_name": client_cluster.cluster_name,
            },
            "server": {
                "provider": server_cluster.provider,
                "ingress_gateway": {
                    **self.gateways.ingress,
                    "source_ranges": source_ranges(ingress, self.nat_address_count),
                    **ingress_address_args(ingress),
                },
                "readiness": {"kubeconfig": server_cluster.kubeconfig},
                "cluster_name": server_cluster.cluster_name,
                "trust_domains": [
                    managed_mesh_trust_domain(self.server_fleet_project),
                    "cluster.local",
                ],
            },
            "link_ca": issuer,
            "client_identity": self.client_identity.model_dump(exclude_none=True),
            "min_tls_version": self.tls.min_version,
            "cipher_suites": list(self.tls.cipher_suites),
            "istio_api_version": self.gateways.istio_api_version,
            "object_prefix": self.link_name,
        }
        if self.rotation.leaves is not None:
            args["rotation"] = self.rotation.leaves
        args["leaf_lifetime"] = self.leaf_lifetime.model_dump()
        return cast(MeshLinkArgs, args)


def _finish(reader: ConfigReader) -> None:
    reader.reject_unknown_keys()
    reader.raise_if_problems()


def load_dev_config(namespace: str = NAMESPACE) -> DevStackConfig:
    """Read and validate the dev stack's configuration, or raise one error listing every
    problem."""
    reader = ConfigReader(namespace)
    shared_fleet = _fleet(reader)
    client, _ = _side(reader, "client", ClientSection, fleet_project=None, check_network=False)
    server, _ = _side(reader, "server", ServerSection, fleet_project=None, check_network=False)
    _check_two_fleets(reader, client, server, shared_fleet)
    networks: dict[str, MeshNetworkSettings] = {}
    if client is not None and server is not None:
        client_values = _network_values(client, "client")
        server_values = _network_values(server, "server")
        derived = set(_DERIVED_NETWORK_KEYS)
        if not derived & (set(client.network) | set(server.network)):
            try:
                check_networks_disjoint(
                    client_values,
                    server_values,
                    names=(f"{reader.path('client')}.network", f"{reader.path('server')}.network"),
                    where=_WHERE,
                )
                networks = {
                    "client": MeshNetworkSettings.model_validate(client_values),
                    "server": MeshNetworkSettings.model_validate(server_values),
                }
            except MeshlinkValidationError as error:
                reader.problems.extend(error.problems)
    policy = _client_policy(reader, cast(ClientSection | None, client))
    services = _services(reader)
    link_name = _link_name(reader, services)
    identity = reader.section(ClientIdentity, "client_identity", required=True)
    dns = _dns(reader, services, policy)
    ca = _ca_settings(reader)
    rotation = reader.section(RotationSection, "rotation", required=False)
    lifetime = _leaf_lifetime(reader, ca)
    gateways = _gateways(reader)
    tls = reader.section(TlsSection, "tls", required=False)
    demo = _demo(reader, services)
    _check_demo_beside_gateways(reader, demo, gateways, link_name)
    namespaces: list[str] = []
    if client is not None:
        namespaces = list(cast(ClientSection, client).namespaces)
        if demo is not None and demo.enabled and demo.client_namespace not in namespaces:
            namespaces.append(demo.client_namespace)
        if not namespaces:
            reader.problems.append(
                f"{reader.path('client')}.namespaces: name at least one namespace of client "
                f"workloads (or enable {reader.path('demo')})"
            )
    _finish(reader)
    assert client is not None and server is not None and services is not None
    assert identity is not None and dns is not None and ca is not None and demo is not None
    assert rotation is not None and gateways is not None and tls is not None
    assert lifetime is not None
    return DevStackConfig(
        namespace=namespace,
        client=Side("client", client, networks["client"]),
        server=Side("server", server, networks["server"]),
        client_namespaces=namespaces,
        network_policy=policy,
        client_section=cast(ClientSection, client),
        server_section=cast(ServerSection, server),
        client_fleet_project=side_fleet(client),
        server_fleet_project=side_fleet(server),
        services=services,
        client_identity=identity,
        dns=dns,
        ca=ca,
        rotation=rotation,
        gateways=gateways,
        tls=tls,
        link_name=link_name,
        demo=demo,
        leaf_lifetime=lifetime,
    )


def _peek_project(reader: ConfigReader, key: str) -> str | None:
    """The side's project if it is readable, for defaults that depend on it."""
    value = runtime_config.get_config(reader.path(key))
    try:
        project = json.loads(value).get("project") if value else None
    except (TypeError, ValueError, AttributeError):
        return None
    return project if isinstance(project, str) else None


# --------------------------------------------------------------------------- split stacks


@dataclass(frozen=True)
class PkiStackConfig:
    """The security team's stack: the link CA and the two gateway certificates."""

    namespace: str
    ca: CaSettings
    rotation: RotationSection
    server_fqdns: list[str]
    client_identity: ClientIdentity
    leaf_lifetime: LeafLifetime = field(default_factory=LeafLifetime)

    def server_leaf_args(self, issuer: LinkIssuer) -> LeafCertificateArgs:
        args: LeafCertificateArgs = {
            "issuer": issuer,
            "role": "server",
            "dns_names": list(self.server_fqdns),
            **self.leaf_lifetime.model_dump(),  # type: ignore[typeddict-item]
        }
        if self.rotation.leaves is not None:
            args["rotation"] = self.rotation.leaves
        return args

    def client_leaf_args(self, issuer: LinkIssuer) -> LeafCertificateArgs:
        args: LeafCertificateArgs = {
            "issuer": issuer,
            "role": "client",
            **self.leaf_lifetime.model_dump(),  # type: ignore[typeddict-item]
        }
        if self.client_identity.dns_name is not None:
            args["dns_names"] = [self.client_identity.dns_name]
        else:
            args["uris"] = [self.client_identity.san]
        if self.rotation.leaves is not None:
            args["rotation"] = self.rotation.leaves
        return args


def load_pki_config(namespace: str | None = None) -> PkiStackConfig:
    reader = ConfigReader(namespace or pulumi.get_project())
    ca = _ca_settings(reader)
    rotation = reader.section(RotationSection, "rotation", required=False)
    lifetime = _leaf_lifetime(reader, ca)
    fqdns = reader.strings("server_fqdns", required=True, check=check_fqdn)
    identity = reader.section(ClientIdentity, "client_identity", required=True)
    _finish(reader)
    assert ca is not None and rotation is not None and fqdns is not None and identity is not None
    assert lifetime is not None
    return PkiStackConfig(reader.namespace, ca, rotation, fqdns, identity, lifetime)


PKI_OUTPUTS_PLAIN = (
    "ca_certificate_pem",
    "trust_bundle_pem",
    "server_full_chain_pem",
    "client_full_chain_pem",
)
PKI_OUTPUTS_SECRET = ("server_private_key_pem", "client_private_key_pem")
"""What the pki stack exports for the cluster stacks; the keys are secret on both ends."""


def read_pki_stack(pki_stack: str) -> dict[str, pulumi.Output[Any]]:
    """The pki stack's outputs a cluster stack takes, through one ``StackOutputs`` named
    ``pki``. It declares the keys secret itself, so they stay secret whatever the pki stack
    marked."""
    pki = StackOutputs("pki", pki_stack, plain=PKI_OUTPUTS_PLAIN, secret=PKI_OUTPUTS_SECRET)
    return {key: pki.require(key) for key in (*PKI_OUTPUTS_PLAIN, *PKI_OUTPUTS_SECRET)}


class SideCluster(NamedTuple):
    """A cluster team's network and cluster, as :func:`declare_side_cluster` declares them."""

    network: MeshNetwork
    cluster: MeshCluster
    waits: pulumi.ResourceOptions
    """Makes a resource wait for the side project's APIs."""


def declare_side_cluster(side: Side, *, projects: list[str], fleet_project: str) -> SideCluster:
    """What a cluster team's stack declares before its half of the link: the projects' APIs,
    the fleet's service mesh feature with this side's project as its one member, and the
    side's network and cluster."""
    apis = ProjectApis("apis", {"projects": projects})
    mesh = ServiceMeshFeature(
        "mesh",
        {"fleet_project": fleet_project, "member_projects": [side.project]},
        opts=pulumi.ResourceOptions(depends_on=apis.for_project(fleet_project)),
    )
    waits = pulumi.ResourceOptions(depends_on=apis.for_project(side.project))
    network = MeshNetwork(side.name, side.network_args(), opts=waits)
    cluster = MeshCluster(
        side.name,
        side.cluster_args(network, mesh_feature=mesh.feature_name, fleet_project=fleet_project),
        opts=waits,
    )
    return SideCluster(network, cluster, waits)


@dataclass(frozen=True)
class ServerStackConfig:
    """The server team's stack: its cluster, the ingress address and the ingress side."""

    namespace: str
    server: Side
    fleet_project: str
    services: list[LinkedService]
    client_identity: ClientIdentity
    client_nat_addresses: list[str]
    pki_stack: str
    gateways: GatewaysSection
    tls: TlsSection
    link_name: str

    @property
    def projects(self) -> list[str]:
        return list(dict.fromkeys([self.server.project, self.fleet_project]))

    @property
    def ingress_section(self) -> IngressSection:
        return cast(ServerSection, self.server.section).ingress

    def link_server_args(
        self,
        *,
        credential: LinkCredentialArgs,
        client_trust_bundle_pem: pulumi.Input[str],
        cluster: MeshCluster,
        ingress: IngressAddress,
    ) -> LinkServerArgs:
        return cast(
            LinkServerArgs,
            {
                "services": _service_args(self.services),
                "credential": credential,
                "client_trust_bundle_pem": client_trust_bundle_pem,
                "allowed_client_identities": [self.client_identity.san],
                "ingress_gateway": {
                    **self.gateways.ingress,
                    "source_ranges": source_ranges(ingress, len(self.client_nat_addresses)),
                    **ingress_address_args(ingress),
                },
                "readiness": {"kubeconfig": cluster.kubeconfig},
                "cluster_name": cluster.cluster_name,
                "object_prefix": self.link_name,
                "min_tls_version": self.tls.min_version,
                "cipher_suites": list(self.tls.cipher_suites),
                "istio_api_version": self.gateways.istio_api_version,
                "trust_domains": [managed_mesh_trust_domain(self.fleet_project), "cluster.local"],
            },
        )


def _split_stack_side(
    reader: ConfigReader, key: str, model: type[SideSection]
) -> tuple[str | None, SideSection | None, MeshNetworkSettings | None]:
    """The fleet project and the one side a cluster team's stack owns. Unless
    ``fleet_project`` says otherwise, the fleet is that side's own project: the stack has no
    other project to default to."""
    fleet = _fleet(reader)
    section, network = _side(reader, key, model, fleet_project=fleet)
    return fleet, section, network


def load_server_config(namespace: str | None = None) -> ServerStackConfig:
    reader = ConfigReader(namespace or pulumi.get_project())
    fleet, server, network = _split_stack_side(reader, "server", ServerSection)
    services = _services(reader)
    link_name = _link_name(reader, services)
    identity = reader.section(ClientIdentity, "client_identity", required=True)
    nat = reader.strings("client_nat_addresses", required=True, check=_address)
    pki_stack = reader.text("pki_stack", required=True, check=check_stack_name)
    gateways = _gateways(reader)
    tls = reader.section(TlsSection, "tls", required=False)
    _finish(reader)
    assert server is not None and network is not None and services is not None
    assert identity is not None and nat is not None and pki_stack is not None
    assert gateways is not None and tls is not None
    return ServerStackConfig(
        namespace=reader.namespace,
        server=Side("server", server, network),
        fleet_project=fleet or side_fleet(server),
        services=services,
        client_identity=identity,
        client_nat_addresses=nat,
        pki_stack=pki_stack,
        gateways=gateways,
        tls=tls,
        link_name=link_name,
    )


SERVER_OUTPUTS_PLAIN = ("ingress_address",)
"""What the client stack reads from the server stack."""


@dataclass(frozen=True)
class ClientStackConfig:
    """The client team's stack: its cluster, the private DNS names and the egress side."""

    namespace: str
    client: Side
    network_policy: ClientNetworkPolicy
    fleet_project: str
    services: list[LinkedService]
    dns: DnsSection
    pki_stack: str
    server_stack: str | None
    gateways: GatewaysSection
    link_name: str

    @property
    def projects(self) -> list[str]:
        return list(dict.fromkeys([self.client.project, self.fleet_project]))

    @property
    def fqdns(self) -> list[str]:
        return [s.fqdn for s in self.services]

    def link_client_args(
        self,
        *,
        credential: LinkCredentialArgs,
        server_trust_bundle_pem: pulumi.Input[str],
        cluster: MeshCluster,
    ) -> LinkClientArgs:
        section = cast(ClientSection, self.client.section)
        return cast(
            LinkClientArgs,
            {
                "services": _service_args(self.services),
                "credential": credential,
                "server_trust_bundle_pem": server_trust_bundle_pem,
                "client_namespaces": list(section.namespaces),
                "egress_gateway": dict(self.gateways.egress),
                "network_policy": dict(section.network_policy),
                "readiness": {"kubeconfig": cluster.kubeconfig},
                "cluster_name": cluster.cluster_name,
                "object_prefix": self.link_name,
                "istio_api_version": self.gateways.istio_api_version,
            },
        )


def load_client_config(namespace: str | None = None) -> ClientStackConfig:
    reader = ConfigReader(namespace or pulumi.get_project())
    fleet, client, network = _split_stack_side(reader, "client", ClientSection)
    policy = _client_policy(reader, cast(ClientSection | None, client))
    if client is not None and not cast(ClientSection, client).namespaces:
        reader.problems.append(
            f"{reader.path('client')}.namespaces: name at least one namespace of client workloads"
        )
    services = _services(reader, server_side=False)
    link_name = _link_name(reader, services)
    dns = _dns(reader, services, policy)
    pki_stack = reader.text("pki_stack", required=True, check=check_stack_name)
    server_stack = reader.text("server_stack", required=False, check=check_stack_name)
    gateways = _gateways(reader)
    _finish(reader)
    assert client is not None and network is not None and services is not None
    assert dns is not None and pki_stack is not None and gateways is not None
    return ClientStackConfig(
        namespace=reader.namespace,
        client=Side("client", client, network),
        network_policy=policy,
        fleet_project=fleet or side_fleet(client),
        services=services,
        dns=dns,
        pki_stack=pki_stack,
        server_stack=server_stack,
        gateways=gateways,
        link_name=link_name,
    )


def credential_from(outputs: Mapping[str, pulumi.Output[Any]], side: str) -> LinkCredentialArgs:
    """A gateway credential from the pki stack's outputs (``server`` or ``client``)."""
    return {
        "full_chain_pem": outputs[f"{side}_full_chain_pem"],
        "private_key_pem": outputs[f"{side}_private_key_pem"],
    }

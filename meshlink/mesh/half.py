"""What the two halves of a link, ``LinkClient`` and ``LinkServer``, have in common.

Both take their certificate from a link CA (``issuer``) or as issued elsewhere
(``credential``), validate the same way, wait for the Istio CRDs behind one readiness
gate, label their objects alike and list them in the ``objects`` output. That logic
lives here once, so the two halves cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict, cast

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator

from meshlink.istio import IstioApiVersion, IstioSpec, istio_custom_resource
from meshlink.mesh.common import MANAGED_BY
from meshlink.mesh.naming import LinkNames, check_names
from meshlink.mesh.readiness import IstioCrdGate, IstioReadinessSettings
from meshlink.mesh.services import LinkedService, check_services
from meshlink.outputs import Registered
from meshlink.pki import (
    GatewayCredentialSecret,
    LeafCertificate,
    LeafCertificateArgs,
    LeafLifetimeArgs,
    Rotation,
)
from meshlink.pki.leaf import LeafLifetime, leaf_outlives_issuer
from meshlink.validation import KubernetesLabel, MeshlinkValidationError, check_dns1123_label


def group_versions(api_version: IstioApiVersion) -> dict[str, str]:
    return {
        "networking.istio.io": f"networking.istio.io/{api_version.value}",
        "security.istio.io": f"security.istio.io/{api_version.value}",
    }


class LinkCredentialArgs(TypedDict):
    """A gateway certificate issued elsewhere, for example by another team's stack and
    read through a ``StackReference``."""

    full_chain_pem: pulumi.Input[str]
    """The leaf certificate followed by its issuing chain (``tls.crt``)."""
    private_key_pem: pulumi.Input[str]
    """The leaf's private key. Always handled as a secret, whatever it arrives as."""


def _check_pem_input(value: Any, marker: str, what: str) -> Any:
    if isinstance(value, pulumi.Output):
        return value
    if not isinstance(value, str) or marker not in value:
        # The value is never repeated: it may be key material.
        raise ValueError(f"expected {what} (a PEM block with '{marker}') or a pulumi Output")
    return value


@dataclass(frozen=True)
class IssuedCredential:
    """A pre-issued certificate in the shape ``GatewayCredentialSecret`` takes."""

    full_chain_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]
    """A secret Output."""


class LinkCredential(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    full_chain_pem: Any
    private_key_pem: Any

    @field_validator("full_chain_pem")
    @classmethod
    def _chain(cls, value: Any) -> Any:
        return _check_pem_input(value, "-----BEGIN CERTIFICATE-----", "a certificate chain")

    @field_validator("private_key_pem")
    @classmethod
    def _key(cls, value: Any) -> Any:
        return _check_pem_input(value, "PRIVATE KEY-----", "a private key")

    def issued(self) -> IssuedCredential:
        return IssuedCredential(
            full_chain_pem=pulumi.Output.from_input(self.full_chain_pem),
            private_key_pem=pulumi.Output.secret(self.private_key_pem),
        )


def check_one_source(
    issuer: Any, credential: LinkCredential | None, *, trust_bundle: Any, trust_setting: str
) -> None:
    """The rules shared by both halves for where their certificates come from."""
    if (issuer is None) == (credential is None):
        raise ValueError(
            "give exactly one of issuer (a link CA that issues the certificates here) or "
            "credential (a certificate issued elsewhere)"
        )
    if credential is not None and trust_bundle is None:
        raise ValueError(
            f"{trust_setting} is required with credential: there is no issuer here whose "
            "trust bundle could verify the peer"
        )


def default_prefix(name: str, where: str, setting: str = "object_prefix") -> str:
    try:
        return check_dns1123_label(name)
    except ValueError as error:
        raise MeshlinkValidationError(
            where, [f"{setting}: derived from the component name, but {error}; set it"]
        ) from None


class LinkOptionsArgs(TypedDict, total=False):
    """Options of a whole link, the same in ``MeshLink`` and in each half."""

    object_prefix: str
    """Prefix of every ``metadata.name`` (a DNS label); defaults to the component name."""
    rotation: Rotation
    """Change it (a date works well) to replace the certificates issued here (with
    ``issuer`` only: a credential is rotated where it is issued)."""
    leaf_lifetime: LeafLifetimeArgs
    """How long the certificates issued here live: ``validity_hours`` (default 2160, 90
    days; at most 397 days unless ``allow_long_validity``; never longer than the link CA's
    signing certificate) and ``early_renewal_hours`` (default 720). With ``issuer`` only."""
    istio_api_version: Literal["v1", "v1beta1"]
    """``v1`` (default, Istio 1.22+) or ``v1beta1`` for older meshes."""


class LinkOptions(BaseModel):
    """Validates :class:`LinkOptionsArgs`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    object_prefix: KubernetesLabel | None = None
    rotation: Rotation | None = None
    leaf_lifetime: LeafLifetime = Field(default_factory=LeafLifetime)
    istio_api_version: IstioApiVersion = IstioApiVersion.V1


def fields_of(settings: BaseModel, part: type[BaseModel]) -> dict[str, Any]:
    """The values of ``part``'s fields in ``settings`` (a model that includes ``part``), as
    validated: handed to another model that includes ``part``, its nested models are not
    validated again."""
    return {name: getattr(settings, name) for name in part.model_fields}


def peer_trust_bundle(given: Any, issuer: Any) -> Any:
    """What verifies the peer's certificates: the bundle given, else the issuer's own,
    which is right when one link CA issues both halves."""
    return given if given is not None else issuer.trust_bundle_pem


class HalfSettings(Protocol):
    """The validated settings both halves have, under the same names."""

    @property
    def services(self) -> list[LinkedService]: ...
    @property
    def issuer(self) -> Any: ...
    @property
    def object_prefix(self) -> str | None: ...
    @property
    def cluster_name(self) -> str: ...
    @property
    def readiness(self) -> IstioReadinessSettings: ...
    @property
    def istio_api_version(self) -> IstioApiVersion: ...
    @property
    def leaf_lifetime(self) -> LeafLifetime: ...


class LinkHalf(pulumi.ComponentResource):
    """What ``LinkClient`` and ``LinkServer`` do alike.

    Checks what the settings' own validation cannot see, then registers the component and
    its readiness gate, so a bad setting registers nothing. The methods declare the half's
    certificates, Secrets and Istio objects as children, with the half's labels, and
    record each object for the ``objects`` output.
    """

    names: LinkNames
    fqdns: Registered[list[str]]
    """The linked services' FQDNs."""
    objects: Registered[dict[str, list[str]]]
    """Per kind, the ``namespace/name`` of every Kubernetes object this half declared."""
    gate: IstioCrdGate
    """The readiness gate every Istio object of this half waits for."""

    def __init__(
        self,
        type_token: str,
        name: str,
        settings: HalfSettings,
        *,
        where: str,
        istio_kinds: Sequence[str],
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        prefix = settings.object_prefix or default_prefix(name, where)
        problems = check_services(settings.services)
        problems += check_names(
            prefix, [s.name for s in settings.services], prefix_setting="object_prefix"
        )
        if settings.issuer is not None and settings.issuer.not_ready_reason:
            problems.append(f"issuer: {settings.issuer.not_ready_reason}")
        if settings.issuer is not None:
            outlives = leaf_outlives_issuer(
                settings.issuer,
                settings.leaf_lifetime.validity_hours,
                "leaf_lifetime.validity_hours",
            )
            if outlives:
                problems.append(outlives)
        if problems:
            raise MeshlinkValidationError(where, problems)
        super().__init__(type_token, name, None, opts)
        api_version = settings.istio_api_version
        self.names = LinkNames(prefix)
        self.objects = {}
        self._prefix = prefix
        self._api_version = api_version
        self._labels = {
            **MANAGED_BY,
            "app.kubernetes.io/part-of": "meshlink",
            "meshlink.io/link": prefix,
        }
        self.gate = IstioCrdGate(
            f"{name}-istio-ready",
            cluster=settings.cluster_name,
            kinds=istio_kinds,
            group_versions=group_versions(api_version),
            settings=settings.readiness,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _issue_leaf(
        self,
        resource_name: str,
        leaf_args: LeafCertificateArgs,
        rotation: Rotation | None,
        lifetime: LeafLifetime,
    ) -> LeafCertificate:
        """A certificate issued here, of ``lifetime``, replaced whenever ``rotation``
        changes."""
        leaf_args = cast(LeafCertificateArgs, {**leaf_args, **lifetime.leaf_args()})
        if rotation is not None:
            leaf_args = {**leaf_args, "rotation": rotation}
        return LeafCertificate(resource_name, leaf_args, opts=pulumi.ResourceOptions(parent=self))

    def _credential_secret(
        self,
        resource_name: str,
        *,
        secret_name: str,
        namespace: str,
        certificate: LeafCertificate | IssuedCredential,
        peer_trust_bundle_pem: Any,
        depends_on: Sequence[pulumi.Resource],
    ) -> GatewayCredentialSecret:
        """The Secret a gateway's ``credentialName`` names; ``depends_on`` holds the
        gateway's namespace when it is declared here."""
        secret = GatewayCredentialSecret(
            resource_name,
            {
                "secret_name": secret_name,
                "namespace": namespace,
                "certificate": certificate,
                "peer_trust_bundle_pem": peer_trust_bundle_pem,
                "labels": {"meshlink.io/link": self._prefix},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        self._record("Secret", namespace, secret_name)
        return secret

    def _declare(
        self,
        resource_name: str,
        model: IstioSpec,
        *,
        metadata_name: str,
        namespace: str,
        opts: pulumi.ResourceOptions,
    ) -> None:
        istio_custom_resource(
            resource_name,
            model,
            metadata_name=metadata_name,
            namespace=namespace,
            labels=self._labels,
            api_version=self._api_version,
            opts=opts,
        )
        self._record(model.KIND, namespace, metadata_name)

    def _record(self, kind: str, namespace: str, name: str) -> None:
        self.objects.setdefault(kind, []).append(f"{namespace}/{name}")

"""What :class:`~meshlink.mesh.link.MeshLink` and
:class:`~meshlink.mesh.fan_in.FanInLink` share: a cluster given as a provider, the link
CA given or created, and the rules across parts that each part's model cannot see."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Required, cast

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator

from meshlink.mesh.client_settings import ClientClusterArgs, ClientClusterSettings
from meshlink.mesh.half import default_prefix
from meshlink.mesh.half_plans import egress_namespace_problems
from meshlink.mesh.naming import LinkNames
from meshlink.mesh.server_settings import (
    EXISTING_GATEWAY_ACCOUNT_PROBLEM,
    ServerClusterArgs,
    ServerClusterSettings,
)
from meshlink.mesh.services import LinkedService, check_services, check_target_policies
from meshlink.pki import CertificateAuthority, CertificateAuthorityArgs, LinkIssuer
from meshlink.pki.authority import CertificateAuthorityModel
from meshlink.pki.leaf import LeafLifetime, leaf_outlives_issuer
from meshlink.validation import MeshlinkValidationError, describe_validation_error


class MeshLinkClientArgs(ClientClusterArgs, total=False):
    """The client cluster: where the workloads that connect live."""

    provider: Required[k8s.Provider]
    """The client cluster's provider; every client-side object is declared through it."""
    depends_on: Sequence[pulumi.Resource]
    """What every client-side object waits for, e.g. client namespaces declared in the same
    program. Unlike ``depends_on`` on the component itself, it holds back only this
    side, so the server side does not wait for the client cluster."""


class MeshLinkServerArgs(ServerClusterArgs, total=False):
    """The server cluster: where the linked services run."""

    provider: Required[k8s.Provider]
    """The server cluster's provider; every server-side object is declared through it."""
    depends_on: Sequence[pulumi.Resource]
    """What every server-side object waits for, e.g. the target's namespace declared in the
    same program; it holds back only this side."""


class ThroughProvider(BaseModel):
    """A cluster part: its objects are declared through ``provider``, after
    ``depends_on``."""

    provider: Any
    depends_on: list[Any] = Field(default_factory=list)

    @field_validator("depends_on")
    @classmethod
    def _resources(cls, value: list[Any]) -> list[Any]:
        for index, item in enumerate(value):
            if not isinstance(item, pulumi.Resource):
                raise ValueError(f"[{index}]: expected a resource, got {type(item).__name__}")
        return value

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: Any) -> Any:
        if not isinstance(value, k8s.Provider):
            raise ValueError(
                f"expected a kubernetes.Provider, got {type(value).__name__}; pass "
                "pulumi_kubernetes.Provider(name, kubeconfig=...) for the cluster (a "
                "kubeconfig or a cluster name is not a provider)"
            )
        return value


class MeshLinkClientSettings(ClientClusterSettings, ThroughProvider):
    """Validates :class:`MeshLinkClientArgs`."""


class MeshLinkServerSettings(ServerClusterSettings, ThroughProvider):
    """Validates :class:`MeshLinkServerArgs`."""


def check_client_identity(
    san: str,
    services: Sequence[LinkedService],
    server_trust_domains: Sequence[str],
    *,
    setting: str = "client_identity",
) -> list[str]:
    """The client certificate must not name the server: a client SAN equal to a linked
    FQDN would be a server certificate's name, and a SPIFFE URI of the server mesh is a
    workload identity the server's own sidecars present, which its policies trust."""
    problems = []
    fqdns = {s.fqdn for s in services}
    if san in fqdns:
        problems.append(
            f"{setting}: {san!r} is a linked service's FQDN, the server certificate's "
            "name; give the client an identity of its own"
        )
    if san.startswith("spiffe://"):
        domain = san.removeprefix("spiffe://").split("/", 1)[0]
        if domain in server_trust_domains:
            problems.append(
                f"{setting}: {san!r} is in the server mesh's trust domain {domain!r}, "
                "an identity the server's own workloads hold; use a trust domain of the link"
            )
    return problems


_SERVICES = TypeAdapter(list[LinkedService])


def service_set_problems(args: Any) -> list[str]:
    """The problems across ``args["services"]`` when each service is valid on its own,
    reported beside the parts' own problems so that a caller learns of all at once."""
    try:
        services = _SERVICES.validate_python(
            args.get("services") if isinstance(args, Mapping) else None
        )
    except ValidationError:
        return []
    return check_services(services) + check_target_policies(services)


def prefix_or_problem(name: str, problems: list[str]) -> str:
    """The object prefix derived from the component name; empty (with a problem) when the
    name is no DNS label, so that the other problems are still reported with it."""
    try:
        return default_prefix(name, where=name)
    except MeshlinkValidationError as error:
        problems += error.problems
        return ""


def through(parent: pulumi.Resource, part: ThroughProvider) -> pulumi.ResourceOptions:
    """A half's options: under ``parent``, through the part's provider, after its
    ``depends_on`` (which holds back this half only)."""
    return pulumi.ResourceOptions(
        parent=parent, providers=[part.provider], depends_on=part.depends_on
    )


def link_ca_problems(
    link_ca: Any, lifetime: LeafLifetime
) -> tuple[LinkIssuer | None, dict[str, Any] | None, list[str]]:
    """The link CA given (an issuer) or to create (its arguments), and what is wrong
    with it, its leaves' lifetime included."""
    if isinstance(link_ca, pulumi.Output):
        # Checked first: an Output answers every attribute lookup, so it would pass
        # for a LinkIssuer.
        return (
            None,
            None,
            [
                "link_ca: got an Output, whose value is not known while the program runs; "
                "pass the CA component itself (CertificateAuthority, "
                "ExistingCertificateAuthority, ExternallySignedCertificateAuthority; e.g. "
                "the one declare_link_ca returns) or a dict of CertificateAuthority arguments"
            ],
        )
    problems: list[str] = []
    if isinstance(link_ca, LinkIssuer):
        if link_ca.not_ready_reason:
            problems.append(f"link_ca: {link_ca.not_ready_reason}")
        outlives = leaf_outlives_issuer(
            link_ca, lifetime.validity_hours, "leaf_lifetime.validity_hours"
        )
        if outlives:
            problems.append(outlives)
        return link_ca, None, problems
    if isinstance(link_ca, Mapping):
        try:
            ca_model = CertificateAuthorityModel.model_validate(dict(link_ca))
        except ValidationError as error:
            problems += describe_validation_error(error, prefix="link_ca.", show_input=False)
        else:
            short = ca_model.leaves_problem(lifetime.validity_hours, "leaf_lifetime.validity_hours")
            if short:
                problems.append(f"link_ca.{short}")
        return None, dict(link_ca), problems
    return (
        None,
        None,
        [
            "link_ca: expected a link CA (CertificateAuthority, "
            "ExistingCertificateAuthority, ExternallySignedCertificateAuthority) or the "
            f"arguments of a CertificateAuthority, got {type(link_ca).__name__}"
        ],
    )


def issuer_of(
    name: str,
    issuer: LinkIssuer | None,
    ca_args: dict[str, Any] | None,
    parent: pulumi.Resource,
) -> tuple[LinkIssuer, CertificateAuthority | None]:
    """The link CA given, or one created under ``parent`` from its arguments."""
    if issuer is not None:
        return issuer, None
    assert ca_args is not None
    created = CertificateAuthority(
        f"{name}-ca",
        cast(CertificateAuthorityArgs, ca_args),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return created, created


def server_part_problems(server: ServerClusterSettings, services: list[LinkedService]) -> list[str]:
    """An existing ingress gateway needs its service account for the target policies."""
    if (
        server.existing_ingress_gateway is not None
        and server.existing_ingress_gateway.service_account is None
        and any(s.target_policies for s in services)
    ):
        return [f"server.{EXISTING_GATEWAY_ACCOUNT_PROBLEM}"]
    return []


def client_part_problems(
    client: ClientClusterSettings,
    prefix: str,
    services: Sequence[LinkedService],
    *,
    setting: str,
) -> list[str]:
    """The client cluster's egress gateway against its namespaces and, when shared, against
    the other links on it; ``setting`` is where the part sits (``client``)."""
    problems: list[str] = []
    shared = client.shared_egress_gateway
    own = client.egress_gateway
    if shared is not None:
        egress_namespace: str | None = shared.namespace
    else:
        egress_namespace = (own.namespace if own is not None else None) or (
            LinkNames(prefix).egress_gateway_default() if prefix else None
        )
    if shared is not None and prefix:
        problems += shared.links.conflicts(
            prefix, services, client.namespaces, namespaces_setting=f"{setting}.namespaces"
        )
    return problems + egress_namespace_problems(
        egress_namespace, client.namespaces, setting=f"{setting}.namespaces"
    )

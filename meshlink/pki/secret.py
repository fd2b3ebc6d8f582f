"""The Kubernetes Secret that an Istio gateway's ``credentialName`` points to.

DESIGN facts 1 and 2:

- It lives in the gateway's namespace; Istio looks nowhere else.
- Its keys are ``tls.crt`` (the leaf followed by its chain), ``tls.key`` and ``ca.crt``.
  ``ca.crt`` is the trust bundle of the **peer**: on the client side it verifies the
  server's chain, on the server side it verifies the clients'.
- Its name must not start with ``istio`` or ``prometheus`` and must not end in
  ``-cacert``: Istio treats such names specially and would not serve them as a gateway
  credential. It holds no key named ``token``; the keys here are fixed, so that holds by
  construction.

Values go in through ``string_data`` as Pulumi secrets only.
"""

from __future__ import annotations

from typing import Any, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator

from meshlink.argdocs import documents
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.validation import KubernetesLabel, KubernetesName, validate_args

TYPE = "meshlink:index:GatewayCredentialSecret"

TLS_CERT_KEY = "tls.crt"
TLS_KEY_KEY = "tls.key"
CA_CERT_KEY = "ca.crt"
SECRET_TYPE = "kubernetes.io/tls"  # noqa: S105 (a Secret type, not a password)


class GatewayCredentialSecretArgs(TypedDict, total=False):
    """A gateway credential: certificate chain, key, and the peer's trust bundle."""

    secret_name: Required[str]
    """``metadata.name``, and the ``credentialName`` the Gateway or DestinationRule uses."""
    namespace: Required[str]
    """The namespace of the gateway that uses it."""
    certificate: Required[Any]
    """The gateway's :class:`~meshlink.pki.LeafCertificate` (anything with
    ``full_chain_pem`` and ``private_key_pem`` Outputs)."""
    peer_trust_bundle_pem: Required[pulumi.Input[str]]
    """What verifies the peer: ``trust_bundle_pem`` of the CA that issued the peer's
    certificate."""
    labels: dict[str, str]
    """Extra labels."""
    annotations: dict[str, str]
    """Extra annotations."""


def check_credential_name(value: str) -> str:
    """Istio's rules for a ``credentialName`` Secret name (DESIGN fact 1)."""
    if value.startswith(("istio", "prometheus")):
        raise ValueError(
            f"{value!r} starts with 'istio' or 'prometheus'; Istio does not serve such "
            "Secrets as gateway credentials"
        )
    if value.endswith("-cacert"):
        raise ValueError(
            f"{value!r} ends in '-cacert', which Istio reads as the CA half of another "
            "credential; choose another name"
        )
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    secret_name: KubernetesName
    namespace: KubernetesLabel
    certificate: Any
    peer_trust_bundle_pem: Any
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("secret_name")
    @classmethod
    def _istio_rules(cls, value: str) -> str:
        return check_credential_name(value)

    @field_validator("certificate")
    @classmethod
    def _is_certificate(cls, value: Any) -> Any:
        if not all(hasattr(value, a) for a in ("full_chain_pem", "private_key_pem")):
            raise ValueError(
                f"expected a LeafCertificate (with full_chain_pem and private_key_pem), "
                f"got {type(value).__name__}"
            )
        return value

    @field_validator("peer_trust_bundle_pem")
    @classmethod
    def _bundle(cls, value: Any) -> Any:
        if isinstance(value, str) and "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("is not a PEM certificate bundle")
        if value is None:
            raise ValueError("is required")
        return value


@documents(GatewayCredentialSecretArgs)
class GatewayCredentialSecret(pulumi.ComponentResource):
    """The ``core.v1.Secret`` a gateway's ``credentialName`` names.

    Pass the cluster's Kubernetes provider through ``opts`` (``providers=`` or
    ``provider=``); the Secret inherits it as a child.
    """

    secret: k8s.core.v1.Secret
    secret_name: Registered[str]
    """The Secret's name, which the gateway's ``credentialName`` names."""
    namespace: Registered[str]
    """The gateway's namespace, where the Secret lives."""

    def __init__(
        self,
        name: str,
        args: GatewayCredentialSecretArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        model = validate_args(_Model, args, where=f"GatewayCredentialSecret {name!r}")
        super().__init__(TYPE, name, None, opts)
        self.secret_name = model.secret_name
        self.namespace = model.namespace

        labels = {"app.kubernetes.io/managed-by": "meshlink", **model.labels}
        data: pulumi.Output[dict[str, str]] = pulumi.Output.all(
            model.certificate.full_chain_pem,
            model.certificate.private_key_pem,
            model.peer_trust_bundle_pem,
        ).apply(
            lambda values: {
                TLS_CERT_KEY: values[0],
                TLS_KEY_KEY: values[1],
                CA_CERT_KEY: values[2],
            }
        )
        string_data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(data)
        self.secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=model.secret_name,
                namespace=model.namespace,
                labels=labels,
                annotations=model.annotations or None,
            ),
            type=SECRET_TYPE,
            string_data=string_data,
            opts=pulumi.ResourceOptions(parent=self),
        )
        register_declared_outputs(self)

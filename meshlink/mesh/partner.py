"""A link to a partner's mutual-TLS endpoint: only the client side, in the client cluster.

A clearing house or a partner API that demands mutual TLS is reached like a meshlink
server, through the client cluster's egress gateway, but meshlink declares nothing on
the far side. The user gives what the partner publishes: the endpoint's host and port,
the server name to send (SNI), the names its certificate carries, and the CA bundle that
verifies it. :class:`PartnerLink` checks them and declares the client half with
:class:`~meshlink.mesh.client.LinkClient`, so a partner link has exactly the objects and
checks of any other link's client side.

The client certificate comes from one of two places:

- a link CA (``issuer`` and ``client_identity``), when the partner trusts that CA;
- the partner's own CA (``signed_by_partner``), in two ``pulumi up`` runs:

  1. Declare the link without ``signed_cert_pem``. meshlink makes the client key (a
     secret that never leaves the stack) and a certificate request; export ``csr_pem``
     (``pulumi stack output``). Nothing is declared in the cluster yet, and
     :attr:`PartnerLink.not_ready_reason` says what to do.
  2. The partner signs the request as a client certificate (extended key usage
     ``clientAuth``). Pass it back as ``signed_cert_pem`` (followed by any
     intermediates); the next ``pulumi up`` declares the link.

  The signed certificate is checked before anything is declared: it is an end-entity
  certificate for ``clientAuth``, valid now, and chains to the endpoint's
  ``ca_bundle_pem`` (the partner's CA). Whether it is for *this* link's key is known only
  once the provider has made the key, so that check runs inside an ``apply`` that the
  credential waits on, and fails the update before the certificate reaches the cluster.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_tls as tls
from cryptography import x509

from meshlink.argdocs import documents
from meshlink.mesh.client import LinkClient
from meshlink.mesh.client_settings import ClientClusterSettings, LinkClientSettings
from meshlink.mesh.half import LinkCredential, default_prefix, fields_of
from meshlink.mesh.link_parts import through
from meshlink.mesh.partner_settings import (
    SIGNED_CERT_SETTING,
    PartnerLinkArgs,
    PartnerLinkSettings,
    SignedByPartner,
    partner_service,
    port_problems,
    signed_certificate_problems,
)
from meshlink.outputs import Registered, register_declared_outputs
from meshlink.pki.external import pem_of, signed_for_key
from meshlink.pki.models import rotation_trigger
from meshlink.pki.x509_checks import (
    CertificateProblem,
    Clock,
    describe,
    load_certificates,
    utc_now,
)
from meshlink.validation import MeshlinkValidationError, validate_args

TYPE = "meshlink:index:PartnerLink"


@documents(PartnerLinkArgs)
class PartnerLink(pulumi.ComponentResource):
    """The client side of a link to a partner's mutual-TLS endpoint.

    ``clock`` fixes "now" for the signed certificate's validity check (tests).
    """

    fqdn: Registered[str]
    """The name client workloads connect to: ``endpoint.host``."""
    csr_pem: Registered[pulumi.Output[str] | None]
    """With ``signed_by_partner``: the request for the partner to sign (holds no secret)."""
    not_ready_reason: Registered[str | None]
    """Why the link is not declared yet (the partner has not signed), or None."""
    objects: Registered[Any]
    """Per kind, the ``namespace/name`` of every Kubernetes object of the link (empty
    until it is declared)."""
    client: LinkClient | None
    """The declared client half; None until the partner's certificate is given."""

    def __init__(
        self,
        name: str,
        args: PartnerLinkArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        clock: Clock = utc_now,
    ) -> None:
        where = f"PartnerLink {name!r}"
        settings = validate_args(PartnerLinkSettings, args, where=where, show_input=False)
        prefix = settings.object_prefix or default_prefix(name, where)
        problems = port_problems(settings)
        signed_chain = self._signed_chain(settings, clock, problems)
        if problems:
            raise MeshlinkValidationError(where, problems)
        super().__init__(TYPE, name, None, opts)
        self.fqdn = settings.endpoint.host
        self.csr_pem = None
        self.not_ready_reason = None
        self.client = None
        credential: LinkCredential | None = None
        if settings.signed_by_partner is not None:
            credential = self._request(
                name, where, settings, settings.signed_by_partner, signed_chain
            )
        if self.not_ready_reason is None:
            self.client = self._declare_client(name, settings, prefix, credential)
        self.objects = self.client.objects if self.client is not None else {}
        register_declared_outputs(self)

    @staticmethod
    def _signed_chain(
        settings: PartnerLinkSettings, clock: Clock, problems: list[str]
    ) -> list[x509.Certificate] | None:
        """The partner's signed certificate and its intermediates, once checked; adds to
        ``problems`` what is wrong with them."""
        signed = settings.signed_by_partner
        if signed is None or signed.signed_cert_pem is None:
            return None
        try:
            chain = load_certificates(signed.signed_cert_pem, SIGNED_CERT_SETTING)
            partner_cas = load_certificates(
                settings.endpoint.ca_bundle_pem, "endpoint.ca_bundle_pem"
            )
        except CertificateProblem as problem:
            problems.append(str(problem))
            return None
        found = signed_certificate_problems(chain, partner_cas, clock)
        problems.extend(found)
        return None if found else chain

    def _request(
        self,
        name: str,
        where: str,
        settings: PartnerLinkSettings,
        signed: SignedByPartner,
        chain: list[x509.Certificate] | None,
    ) -> LinkCredential | None:
        """The client key and the request for the partner; the credential once the signed
        certificate is given and is for this key."""
        child_opts = pulumi.ResourceOptions(
            parent=self, replacement_trigger=rotation_trigger(settings.rotation)
        )
        key = tls.PrivateKey(f"{name}-client-key", **signed.key.private_key_args(), opts=child_opts)
        request = tls.CertRequest(
            f"{name}-client-csr",
            private_key_pem=key.private_key_pem,
            subject=signed.subject.request_subject(),
            opts=child_opts,
        )
        self.csr_pem = request.cert_request_pem
        if chain is None:
            self.not_ready_reason = (
                f"the partner has not signed the client certificate of {name!r} yet: export "
                "its csr_pem, have the partner sign it as a client certificate (extended "
                f"key usage clientAuth), and pass the result as {SIGNED_CERT_SETTING}"
            )
            pulumi.log.warn(self.not_ready_reason, resource=self)
            return None
        leaf = chain[0]
        # The key waits on the same check, so a mismatched pair never reaches the cluster.
        full_chain, private_key = signed_for_key(
            key,
            leaf,
            "".join(pem_of(c) for c in chain),
            f"{where}: {SIGNED_CERT_SETTING} ({describe(leaf)}) was not issued for this "
            "link's key (it was probably signed for an earlier request, before a rotation); "
            f"have the partner sign the current csr_pem and update {SIGNED_CERT_SETTING}",
        )
        return LinkCredential(full_chain_pem=full_chain, private_key_pem=private_key)

    def _declare_client(
        self,
        name: str,
        settings: PartnerLinkSettings,
        prefix: str,
        credential: LinkCredential | None,
    ) -> LinkClient:
        """The client half through the client provider, verifying the partner with its CA."""
        source: dict[str, Any]
        if credential is not None:
            source = {"credential": credential}
        else:
            source = {
                "issuer": settings.issuer,
                "client_identity": settings.client_identity,
                "rotation": settings.rotation,
                "leaf_lifetime": settings.leaf_lifetime,
            }
        return LinkClient(
            f"{name}-client",
            LinkClientSettings(
                **fields_of(settings.client, ClientClusterSettings),
                object_prefix=prefix,
                istio_api_version=settings.istio_api_version,
                services=[partner_service(settings)],
                server_trust_bundle_pem=settings.endpoint.ca_bundle_pem,
                **source,
            ),
            opts=through(self, settings.client),
        )

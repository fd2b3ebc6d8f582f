"""Gateway: which gateway pods listen on which ports for which hosts, and the TLS each
server terminates."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from meshlink.istio._base import IstioModel, IstioSpec
from meshlink.istio.common import NonEmptyLabels, PortProtocol
from meshlink.istio.networking.shared import NETWORKING, unique
from meshlink.istio.values import (
    CredentialName,
    GatewayHost,
    PortName,
    ProxyFilePath,
    SubjectAltName,
)
from meshlink.validation import KubernetesLabel, Port


class ServerTLSMode(StrEnum):
    """How a gateway server handles TLS."""

    PASSTHROUGH = "PASSTHROUGH"
    SIMPLE = "SIMPLE"
    MUTUAL = "MUTUAL"
    AUTO_PASSTHROUGH = "AUTO_PASSTHROUGH"
    ISTIO_MUTUAL = "ISTIO_MUTUAL"
    OPTIONAL_MUTUAL = "OPTIONAL_MUTUAL"


class TLSProtocolVersion(StrEnum):
    """Bounds for the negotiated TLS version."""

    TLS_AUTO = "TLS_AUTO"
    TLSV1_0 = "TLSV1_0"
    TLSV1_1 = "TLSV1_1"
    TLSV1_2 = "TLSV1_2"
    TLSV1_3 = "TLSV1_3"


_TLS_ORDER = {
    TLSProtocolVersion.TLSV1_0: 0,
    TLSProtocolVersion.TLSV1_1: 1,
    TLSProtocolVersion.TLSV1_2: 2,
    TLSProtocolVersion.TLSV1_3: 3,
}

CipherSuite = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_+\[\]|-]+$")]


class ServerPort(IstioModel):
    """The port a gateway server listens on. Istio requires the name."""

    number: Port
    protocol: PortProtocol
    name: PortName


class ServerTLSSettings(IstioModel):
    """TLS on a gateway server.

    ``credential_name`` names a Secret in the gateway's own namespace; the file-path
    fields are the older alternative (files mounted into the gateway pod) and take paths,
    never key material.
    """

    mode: ServerTLSMode
    credential_name: CredentialName | None = None
    server_certificate: ProxyFilePath | None = None
    private_key: ProxyFilePath | None = None
    ca_certificates: ProxyFilePath | None = None
    subject_alt_names: list[SubjectAltName] | None = None
    """Client certificate SANs accepted (mutual modes)."""
    min_protocol_version: TLSProtocolVersion | None = None
    max_protocol_version: TLSProtocolVersion | None = None
    cipher_suites: list[CipherSuite] | None = None

    @model_validator(mode="after")
    def _certificates_match_mode(self) -> ServerTLSSettings:
        files = {
            "serverCertificate": self.server_certificate,
            "privateKey": self.private_key,
            "caCertificates": self.ca_certificates,
        }
        given_files = [name for name, value in files.items() if value is not None]
        mode = self.mode
        if mode is ServerTLSMode.ISTIO_MUTUAL:
            if self.credential_name is not None or given_files:
                raise ValueError(
                    "mode ISTIO_MUTUAL uses the mesh certificates; credentialName, "
                    "serverCertificate, privateKey and caCertificates must not be set"
                )
        elif mode in (ServerTLSMode.PASSTHROUGH, ServerTLSMode.AUTO_PASSTHROUGH):
            if self.credential_name is not None or given_files:
                raise ValueError(
                    f"mode {mode.value} does not terminate TLS, so credentialName and "
                    "certificate files would be ignored; remove them"
                )
        elif self.credential_name is not None:
            if given_files:
                raise ValueError(
                    "set either credentialName or certificate files "
                    f"({', '.join(given_files)}), not both"
                )
        else:
            needed = ["serverCertificate", "privateKey"]
            if mode in (ServerTLSMode.MUTUAL, ServerTLSMode.OPTIONAL_MUTUAL):
                needed.append("caCertificates")
            missing = [name for name in needed if files[name] is None]
            if missing:
                raise ValueError(
                    f"mode {mode.value} needs credentialName (a Secret in the gateway's "
                    f"namespace) or the files {', '.join(needed)}; missing: "
                    f"{', '.join(missing)}"
                )
        low, high = self.min_protocol_version, self.max_protocol_version
        if low in _TLS_ORDER and high in _TLS_ORDER and _TLS_ORDER[low] > _TLS_ORDER[high]:
            raise ValueError(
                f"minProtocolVersion {low.value} is above maxProtocolVersion {high.value}"
            )
        if self.cipher_suites is not None:
            unique(list(self.cipher_suites), "cipher suite")
        return self


class Server(IstioModel):
    """One listener of a gateway."""

    port: ServerPort
    hosts: list[GatewayHost] = Field(min_length=1)
    tls: ServerTLSSettings | None = None
    name: KubernetesLabel | None = None
    """Optional server name, unique within the Gateway (shows up in metrics)."""

    @model_validator(mode="after")
    def _tls_matches_protocol(self) -> Server:
        protocol = self.port.protocol
        if protocol.is_tls and self.tls is None:
            raise ValueError(
                f"port protocol {protocol.value} needs tls settings (mode and credentials)"
            )
        if not protocol.is_tls and self.tls is not None:
            raise ValueError(f"tls settings need port protocol TLS or HTTPS, not {protocol.value}")
        return self


class Gateway(IstioSpec):
    """An Istio Gateway: which gateway pods listen on which ports for which hosts."""

    API_GROUP: ClassVar[str] = NETWORKING
    KIND: ClassVar[str] = "Gateway"
    METADATA_NAME_IS_LABEL: ClassVar[bool] = True

    selector: NonEmptyLabels
    """Labels of the gateway pods; they must match the gateway Deployment's pod labels."""
    servers: list[Server] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Gateway:
        unique([server.port.name for server in self.servers], "port name")
        unique([s.name for s in self.servers if s.name is not None], "server name")
        return self

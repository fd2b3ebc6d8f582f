"""A valid render directory, shaped like `meshlink render --include-private-keys` output.

It is built here with `cryptography` alone (not with meshlink's code) so the rehearsal's
checks are tested against certificates they did not make. Tests break it on purpose
through :meth:`FixtureRender.edit` and friends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.mesh.ciphers import DEFAULT_CIPHER_SUITES
from tests.support import certs

REDACTED = "<redacted: render with --include-private-keys>"
SPIFFE_CLIENT = "spiffe://client.link.example.internal/ns/istio-egress/sa/egress-gateway"
DNS_CLIENT = "egress-gateway.client.link.example.internal"


@dataclass(frozen=True)
class FixtureLink:
    service: str = "mysql"
    fqdn: str = "mysql.link.example.internal"
    link_port: int = 13306
    target_host: str = "mysql.db.svc.cluster.local"
    target_port: int = 3306


@dataclass
class FixtureRender:
    root: Path
    links: tuple[FixtureLink, ...]
    client_san: str
    files: dict[str, Path] = field(default_factory=dict)
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)
    keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)

    def mint_leaf(
        self,
        common_name: str,
        *,
        sans: Sequence[x509.GeneralName],
        usage: x509.ObjectIdentifier,
        key: ec.EllipticCurvePrivateKey,
    ) -> x509.Certificate:
        """A leaf under the fixture's issuing CA, for tests that swap a Secret's certificate."""
        return leaf_certificate(
            common_name,
            key,
            sans=sans,
            usage=usage,
            issuer=(self.certificates["issuing-ca"], self.keys["issuing-ca"]),
            now=dt.datetime.now(dt.UTC),
            serial=1000 + len(common_name),
        )

    def path(self, role: str) -> Path:
        return self.files[role]

    def load(self, role: str) -> dict[str, Any]:
        loaded = yaml.safe_load(self.files[role].read_text())
        assert isinstance(loaded, dict)
        return loaded

    def save(self, role: str, doc: dict[str, Any]) -> None:
        self.files[role].write_text(yaml.safe_dump(doc, sort_keys=False))

    def edit(self, role: str, change: Callable[[dict[str, Any]], None]) -> None:
        doc = self.load(role)
        change(doc)
        self.save(role, doc)

    def remove(self, role: str) -> None:
        self.files[role].unlink()


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def ca_certificate(
    common_name: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    now: dt.datetime,
    serial: int,
) -> x509.Certificate:
    return certs.issue(
        common_name,
        key,
        issuer=issuer,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=365),
        is_ca=True,
        digital_signature=True,
        serial=serial,
        authority_key_id=False,
    )


def leaf_certificate(
    common_name: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    sans: Sequence[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    now: dt.datetime,
    serial: int,
) -> x509.Certificate:
    return certs.issue(
        common_name,
        key,
        issuer=issuer,
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(days=30),
        is_ca=False,
        sans=sans,
        usages=[usage],
        serial=serial,
        authority_key_id=False,
    )


pem = certs.pem
key_pem = certs.key_pem


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _gateway_deployment(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"inject.istio.io/templates": "gateway"},
                },
                "spec": {
                    "serviceAccountName": name,
                    "containers": [{"name": "istio-proxy", "image": "auto"}],
                },
            },
        },
    }


def write_render(
    root: Path,
    *,
    client_san: str = "spiffe",
    include_private_keys: bool = True,
    links: Sequence[FixtureLink] = (FixtureLink(),),
    min_protocol_version: str | None = "TLSV1_2",
    cipher_suites: Sequence[str] = DEFAULT_CIPHER_SUITES,
) -> FixtureRender:
    """Write a complete, valid render into ``root`` and return handles to its files.

    ``client_san`` is ``"spiffe"`` (a URI SAN, as a mesh identity) or ``"dns"``.
    """
    now = dt.datetime.now(dt.UTC)
    client_identity = SPIFFE_CLIENT if client_san == "spiffe" else DNS_CLIENT
    client_general_name: x509.GeneralName = (
        x509.UniformResourceIdentifier(SPIFFE_CLIENT)
        if client_san == "spiffe"
        else x509.DNSName(DNS_CLIENT)
    )
    fixture = FixtureRender(root=root, links=tuple(links), client_san=client_identity)

    root_key, issuing_key = new_key(), new_key()
    root_ca = ca_certificate("Link Root CA", root_key, issuer=None, now=now, serial=1)
    issuing_ca = ca_certificate(
        "Link Issuing CA", issuing_key, issuer=(root_ca, root_key), now=now, serial=2
    )
    issuer = (issuing_ca, issuing_key)
    keys: dict[str, ec.EllipticCurvePrivateKey] = {"root-ca": root_key, "issuing-ca": issuing_key}
    certs: dict[str, x509.Certificate] = {"root-ca": root_ca, "issuing-ca": issuing_ca}

    client_key = new_key()
    client_leaf = leaf_certificate(
        "egress-gateway",
        client_key,
        sans=[client_general_name],
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        issuer=issuer,
        now=now,
        serial=10,
    )
    keys["client"], certs["client"] = client_key, client_leaf

    kube = root / "kubernetes"
    client_dir, server_dir = kube / "client", kube / "server"
    egress_labels = {"istio": "egress-gateway", "app": "egress-gateway"}
    ingress_labels = {"istio": "link-ingress", "app": "link-ingress"}

    def secret(name: str, namespace: str, chain: list[x509.Certificate], key: Any) -> dict:
        values = {
            "tls.crt": "".join(pem(c) for c in chain),
            "tls.key": key_pem(key),
            "ca.crt": pem(root_ca),
        }
        if not include_private_keys:
            values = dict.fromkeys(values, REDACTED)
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque",
            "stringData": values,
        }

    fixture.files["egress_deployment"] = _write(
        client_dir / "istio-egress" / "Deployment-egress-gateway.yaml",
        _gateway_deployment("egress-gateway", "istio-egress", egress_labels),
    )
    fixture.files["ingress_deployment"] = _write(
        server_dir / "istio-ingress" / "Deployment-link-ingress.yaml",
        _gateway_deployment("link-ingress", "istio-ingress", ingress_labels),
    )
    fixture.files["client_secret"] = _write(
        client_dir / "istio-egress" / "Secret-link-client.yaml",
        secret("link-client", "istio-egress", [client_leaf, issuing_ca], client_key),
    )
    fixture.files["egress_gateway"] = _write(
        client_dir / "istio-egress" / "Gateway-egress-gateway.yaml",
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "egress-gateway", "namespace": "istio-egress"},
            "spec": {
                "selector": {"istio": "egress-gateway"},
                "servers": [
                    {
                        "port": {"number": 15443, "name": "tls-link", "protocol": "TLS"},
                        "hosts": [link.fqdn for link in links],
                        "tls": {"mode": "ISTIO_MUTUAL"},
                    }
                ],
            },
        },
    )
    ingress_servers = []
    for index, link in enumerate(links):
        suffix = "" if index == 0 else f"-{index}"
        server_key = new_key()
        server_leaf = leaf_certificate(
            link.fqdn,
            server_key,
            sans=[x509.DNSName(link.fqdn)],
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            issuer=issuer,
            now=now,
            serial=20 + index,
        )
        keys[f"server{suffix}"], certs[f"server{suffix}"] = server_key, server_leaf
        fixture.files[f"server_secret{suffix}"] = _write(
            server_dir / "istio-ingress" / f"Secret-{link.service}-link-server.yaml",
            secret(
                f"{link.service}-link-server",
                "istio-ingress",
                [server_leaf, issuing_ca],
                server_key,
            ),
        )
        tls: dict[str, Any] = {
            "mode": "MUTUAL",
            "credentialName": f"{link.service}-link-server",
            "subjectAltNames": [client_identity],
        }
        if min_protocol_version:
            tls["minProtocolVersion"] = min_protocol_version
        if cipher_suites:
            tls["cipherSuites"] = list(cipher_suites)
        ingress_servers.append(
            {
                "port": {
                    "number": link.link_port,
                    "name": f"tls-{link.service}",
                    "protocol": "TLS",
                },
                "hosts": [link.fqdn],
                "tls": tls,
            }
        )
        fixture.files[f"origination_dr{suffix}"] = _write(
            client_dir / "istio-egress" / f"DestinationRule-{link.service}-origination.yaml",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": {"name": f"{link.service}-origination", "namespace": "istio-egress"},
                "spec": {
                    "host": link.fqdn,
                    "exportTo": ["."],
                    "trafficPolicy": {
                        "portLevelSettings": [
                            {
                                "port": {"number": link.link_port},
                                "tls": {
                                    "mode": "MUTUAL",
                                    "credentialName": "link-client",
                                    "sni": link.fqdn,
                                    "subjectAltNames": [link.fqdn],
                                },
                            }
                        ]
                    },
                },
            },
        )
        fixture.files[f"service_entry{suffix}"] = _write(
            client_dir / "app" / f"ServiceEntry-{link.service}.yaml",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "ServiceEntry",
                "metadata": {"name": link.service, "namespace": "app"},
                "spec": {
                    "hosts": [link.fqdn],
                    "location": "MESH_EXTERNAL",
                    "resolution": "DNS",
                    "ports": [
                        {"number": link.target_port, "name": "tcp", "protocol": "TCP"},
                        {"number": link.link_port, "name": "tls", "protocol": "TLS"},
                    ],
                    "endpoints": [{"address": link.fqdn, "ports": {"tls": link.link_port}}],
                },
            },
        )
        fixture.files[f"virtual_service{suffix}"] = _write(
            server_dir / "istio-ingress" / f"VirtualService-{link.service}-link.yaml",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": f"{link.service}-link", "namespace": "istio-ingress"},
                "spec": {
                    "hosts": [link.fqdn],
                    "gateways": ["istio-ingress/link-ingress"],
                    "tcp": [
                        {
                            "match": [{"port": link.link_port}],
                            "route": [
                                {
                                    "destination": {
                                        "host": link.target_host,
                                        "port": {"number": link.target_port},
                                    }
                                }
                            ],
                        }
                    ],
                },
            },
        )
    fixture.files["server_gateway"] = _write(
        server_dir / "istio-ingress" / "Gateway-link-ingress.yaml",
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "link-ingress", "namespace": "istio-ingress"},
            "spec": {"selector": {"istio": "link-ingress"}, "servers": ingress_servers},
        },
    )
    _write(
        server_dir / "_cluster" / "Namespace-istio-ingress.yaml",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-ingress"}},
    )

    cert_dir = root / "certs"
    cert_dir.mkdir(parents=True, exist_ok=True)
    for name, cert in certs.items():
        (cert_dir / f"{name}.pem").write_text(pem(cert))
    fixture.certificates, fixture.keys = certs, keys
    if include_private_keys:
        key_dir = root / "private-keys"
        key_dir.mkdir(parents=True, exist_ok=True)
        # Deliberately unrelated file names: keys are matched to certificates by public key.
        for index, key in enumerate(reversed(list(keys.values()))):
            (key_dir / f"key-{index:02d}.pem").write_text(key_pem(key))
    return fixture


def other_ca_pem(now: dt.datetime | None = None) -> str:
    """A CA certificate unrelated to the fixture's, for trust-bundle mutations."""
    now = now or dt.datetime.now(dt.UTC)
    return pem(ca_certificate("Unrelated CA", new_key(), issuer=None, now=now, serial=99))

"""The rules of the policy pack as pure functions of what the engine sends a policy: a
resource's type and properties (camelCase, as the SDKs send them; Kubernetes objects whole).

Each function returns the problems it finds, one message each, naming the offending field.
``__main__.py`` turns them into policies; nothing here needs the engine or ``pulumi_policy``,
so the rules are tested as plain functions (``tests/test_policy_rules.py``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa


class Unknown:
    """A value the engine does not know yet (during a preview, an output of a resource not
    created yet). Rules skip what they cannot see; ``pulumi up`` runs them again on the
    real values."""

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN = Unknown()

LINK_LABEL = "meshlink.io/link"
"""The label meshlink puts on every object of a link (``meshlink/mesh/common.py``)."""

_ISTIO_NETWORKING = "kubernetes:networking.istio.io/"


def is_istio_networking(resource_type: str, kind: str) -> bool:
    """``kubernetes:networking.istio.io/<any version>:<kind>``: the type token of a
    ``CustomResource`` (or an object of a ``ConfigFile``) of that kind."""
    return resource_type.startswith(_ISTIO_NETWORKING) and resource_type.endswith(f":{kind}")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


# --- DestinationRules towards a link host --------------------------------------------------


def host_covers(pattern: str, host: str) -> bool:
    """Istio host matching: an exact name, ``*`` or a ``*.suffix`` wildcard that covers
    ``host`` (itself possibly a wildcard)."""
    if pattern == "*" or pattern == host:
        return True
    return pattern.startswith("*.") and host.endswith(pattern[1:])


def link_hosts_of_service_entries(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> set[str]:
    """The hosts of every ServiceEntry meshlink declared (labelled ``meshlink.io/link``): the
    link FQDNs of a program that uses meshlink, found without any configuration."""
    hosts: set[str] = set()
    for resource_type, props in resources:
        if not is_istio_networking(resource_type, "ServiceEntry"):
            continue
        labels = _mapping(_mapping(props.get("metadata")).get("labels"))
        if LINK_LABEL not in labels:
            continue
        hosts.update(
            h for h in _list(_mapping(props.get("spec")).get("hosts")) if isinstance(h, str)
        )
    return hosts


def _tls_settings(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every ``tls`` block of a DestinationRule, with its path: the traffic policy, its
    port-level settings, and the same in each subset (Istio DestinationRule reference,
    ``TrafficPolicy`` and ``Subset``)."""

    def of_policy(path: str, policy: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
        policy = _mapping(policy)
        if "tls" in policy:
            yield f"{path}.tls", _mapping(policy["tls"])
        for index, port in enumerate(_list(policy.get("portLevelSettings"))):
            if "tls" in _mapping(port):
                yield f"{path}.portLevelSettings[{index}].tls", _mapping(port["tls"])

    yield from of_policy("spec.trafficPolicy", spec.get("trafficPolicy"))
    for index, subset in enumerate(_list(spec.get("subsets"))):
        yield from of_policy(
            f"spec.subsets[{index}].trafficPolicy", _mapping(subset).get("trafficPolicy")
        )


def destination_rule_problems(spec: Mapping[str, Any], link_hosts: Collection[str]) -> list[str]:
    """A DestinationRule whose host is (or covers) a link host may not set ``tls.mode``
    SIMPLE (no client certificate: the other cluster's ingress can no longer tell who calls)
    or DISABLE (plain text between clusters)."""
    host = spec.get("host")
    if not isinstance(host, str):
        return []
    matched = sorted(h for h in link_hosts if host_covers(h, host) or host_covers(host, h))
    if not matched:
        return []
    problems = []
    for path, tls in _tls_settings(spec):
        mode = tls.get("mode")
        if mode in {"SIMPLE", "DISABLE"}:
            problems.append(
                f"{path}.mode is {mode} towards link host {', '.join(matched)}: a link is "
                "MUTUAL (SIMPLE sends no client certificate, DISABLE sends plain text)"
            )
    return problems


# --- MUTUAL Gateways ------------------------------------------------------------------------

TLS_VERSIONS = ("TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3")
"""Istio's ``ServerTLSSettings.TLSProtocol`` values, oldest first (Istio Gateway reference);
``TLS_AUTO`` leaves the choice to Envoy and is treated as not set."""


def gateway_problems(spec: Mapping[str, Any], minimum_version: str = "TLSV1_2") -> list[str]:
    """Each MUTUAL server of a Gateway names the client identities it accepts
    (``subjectAltNames``; without it any certificate its CA signed is accepted) and sets
    ``minProtocolVersion`` explicitly, at ``minimum_version`` or later."""
    if minimum_version not in TLS_VERSIONS:
        raise ValueError(f"minProtocolVersion: {minimum_version!r} is not one of {TLS_VERSIONS}")
    problems = []
    for index, server in enumerate(_list(spec.get("servers"))):
        tls = _mapping(_mapping(server).get("tls"))
        if tls.get("mode") != "MUTUAL":
            continue
        where = f"spec.servers[{index}].tls"
        sans = tls.get("subjectAltNames")
        if not isinstance(sans, Unknown) and not _list(sans):
            problems.append(
                f"{where}.subjectAltNames is empty: a MUTUAL gateway without it accepts any "
                "client certificate its CA signed"
            )
        version = tls.get("minProtocolVersion")
        if isinstance(version, Unknown):
            continue
        if version not in TLS_VERSIONS:
            problems.append(
                f"{where}.minProtocolVersion is {version or 'not set'}: set {minimum_version} "
                "or later explicitly"
            )
        elif TLS_VERSIONS.index(version) < TLS_VERSIONS.index(minimum_version):
            problems.append(f"{where}.minProtocolVersion is {version}, below {minimum_version}")
    return problems


# --- Link certificates ----------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateRules:
    """What a link key and certificate must be. The 397 days are the CA/Browser Forum's
    ceiling for a TLS leaf (Baseline Requirements §6.3.2); CA certificates are not bound by
    it (meshlink bounds its CA lifetime itself)."""

    ecdsa_curves: frozenset[str] = frozenset({"P256", "P384"})
    min_rsa_bits: int = 3072
    max_leaf_validity_days: int = 397

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CertificateRules:
        default = cls()
        curves = config.get("ecdsaCurves", sorted(default.ecdsa_curves))
        if not isinstance(curves, list) or not all(c in _CURVES for c in curves):
            raise ValueError(f"ecdsaCurves: {curves!r} is not a list of {sorted(_CURVES)}")
        bits = config.get("minRsaBits", default.min_rsa_bits)
        days = config.get("maxLeafValidityDays", default.max_leaf_validity_days)
        for key, value in (("minRsaBits", bits), ("maxLeafValidityDays", days)):
            if not isinstance(value, int | float) or value <= 0 or value != int(value):
                raise ValueError(f"{key}: {value!r} is not a positive whole number")
        return cls(frozenset(curves), int(bits), int(days))

    def describe(self) -> str:
        return f"ECDSA {'/'.join(sorted(self.ecdsa_curves))} or RSA of {self.min_rsa_bits} bits"


_CURVES = {"P224": "secp224r1", "P256": "secp256r1", "P384": "secp384r1", "P521": "secp521r1"}

TLS_PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
TLS_CERTIFICATES = (
    "tls:index/selfSignedCert:SelfSignedCert",
    "tls:index/locallySignedCert:LocallySignedCert",
)


def tls_private_key_problems(props: Mapping[str, Any], rules: CertificateRules) -> list[str]:
    """A pulumi-tls ``PrivateKey``. Unset fields take the provider's defaults (pulumi-tls
    ``PrivateKey`` reference: ``ecdsaCurve`` P224, ``rsaBits`` 2048)."""
    algorithm = props.get("algorithm")
    if isinstance(algorithm, Unknown):
        return []
    if algorithm == "ECDSA":
        curve = props.get("ecdsaCurve") or "P224"
        if isinstance(curve, str) and curve not in rules.ecdsa_curves:
            return [f"ecdsaCurve is {curve}: a link key is {rules.describe()}"]
        return []
    if algorithm == "RSA":
        bits = props.get("rsaBits") or 2048
        if isinstance(bits, int | float) and bits < rules.min_rsa_bits:
            return [f"rsaBits is {int(bits)}: a link key is {rules.describe()}"]
        return []
    return [f"algorithm is {algorithm}: a link key is {rules.describe()}"]


def tls_certificate_problems(props: Mapping[str, Any], rules: CertificateRules) -> list[str]:
    """A pulumi-tls ``SelfSignedCert`` or ``LocallySignedCert``: a leaf lives at most
    ``max_leaf_validity_days``."""
    if props.get("isCaCertificate") is True:
        return []
    hours = props.get("validityPeriodHours")
    if isinstance(hours, int | float) and hours > rules.max_leaf_validity_days * 24:
        return [
            f"validityPeriodHours is {int(hours)} ({hours / 24:g} days): a leaf certificate "
            f"lives at most {rules.max_leaf_validity_days} days"
        ]
    return []


def _key_problem(cert: x509.Certificate, rules: CertificateRules) -> str | None:
    key = cert.public_key()
    allowed_curves = {_CURVES[c] for c in rules.ecdsa_curves}
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name in allowed_curves:
            return None
        found = f"an ECDSA {key.curve.name} key"
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size >= rules.min_rsa_bits:
            return None
        found = f"an RSA key of {key.key_size} bits"
    else:
        found = f"a {type(key).__name__} key"
    return f"has {found}: a link key is {rules.describe()}"


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def certificate_pem_problems(pem: str, where: str, rules: CertificateRules) -> list[str]:
    """Every certificate of a PEM bundle (a chain or a trust bundle): its key, and the
    lifetime of each leaf."""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as error:
        return [f"{where} is not a PEM certificate bundle: {error}"]
    problems = []
    for index, cert in enumerate(certificates):
        subject = cert.subject.rfc4514_string() or f"certificate {index}"
        key_problem = _key_problem(cert, rules)
        if key_problem:
            problems.append(f"{where}: {subject} {key_problem}")
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        if not _is_ca(cert) and lifetime.total_seconds() > rules.max_leaf_validity_days * 86400:
            problems.append(
                f"{where}: {subject} is valid for {lifetime.days} days; a leaf certificate "
                f"lives at most {rules.max_leaf_validity_days} days"
            )
    return problems


CERTIFICATE_KEYS = ("tls.crt", "ca.crt", "cert", "cacert")
"""The Secret keys an Istio gateway reads certificates from (Istio "Secure Gateways" task:
``tls.crt``/``ca.crt``, or ``cert``/``cacert``)."""


def kubernetes_secret_certificate_problems(
    props: Mapping[str, Any], rules: CertificateRules
) -> list[str]:
    """The certificates a Kubernetes Secret carries under :data:`CERTIFICATE_KEYS`, in
    ``stringData`` or base64 in ``data``."""
    problems = []
    for field in ("stringData", "data"):
        entries = _mapping(props.get(field))
        for key in CERTIFICATE_KEYS:
            value = entries.get(key)
            if not isinstance(value, str):
                continue
            if field == "data":
                try:
                    value = base64.b64decode(value, validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    problems.append(f"data.{key} is not base64 of a PEM bundle")
                    continue
            if "-----BEGIN CERTIFICATE-----" in value:
                problems.extend(certificate_pem_problems(value, f"{field}.{key}", rules))
    return problems


# --- Private keys only where Pulumi keeps them secret ---------------------------------------

PRIVATE_KEY_PEM = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")

KUBERNETES_SECRET_TYPES = ("kubernetes:core/v1:Secret", "kubernetes:core/v1:SecretPatch")
KUBERNETES_SECRET_FIELDS = frozenset({"data", "stringData"})
"""pulumi-kubernetes marks a Secret's ``data`` and ``stringData`` secret whatever the program
passed (provider ``pkg/provider/provider.go``, ``annotateSecrets``)."""


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def private_key_problems(props: Mapping[str, Any], secret_properties: Collection[str]) -> list[str]:
    """A PEM private key may sit only in a top-level property the engine encrypts whatever
    the program did: one the resource's SDK declares secret (``additionalSecretOutputs``, as
    pulumi-tls does for its key properties) or a Kubernetes Secret's data. A policy cannot see
    whether a value was wrapped in ``Output.secret`` (pulumi/pulumi-policy#241), so a key in
    a ConfigMap, an annotation, an Istio object or a component's inputs is reported even then:
    it is plain text wherever the object is read."""
    problems = []
    for key, value in props.items():
        if key in secret_properties:
            continue
        for path, text in _strings(value, str(key)):
            if PRIVATE_KEY_PEM.search(text):
                problems.append(
                    f"{path} holds a private key: keep keys in a Kubernetes Secret or a "
                    "pulumi-tls resource, where the engine always encrypts them"
                )
    return problems


# --- LoadBalancer Services ------------------------------------------------------------------

SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
"""Read when ``spec.loadBalancerSourceRanges`` is unset (Kubernetes "Create an External Load
Balancer" task, "Preserving the client source IP" / source ranges)."""


def load_balancer_problems(props: Mapping[str, Any]) -> list[str]:
    """A ``type: LoadBalancer`` Service names the sources it admits, and they do not add up
    to every IPv4 or every IPv6 address (``0.0.0.0/0`` written whole or in pieces). Unset
    ranges admit every source (Kubernetes ``ServiceSpec.loadBalancerSourceRanges``)."""
    spec = _mapping(props.get("spec"))
    if spec.get("type") != "LoadBalancer":
        return []
    ranges = spec.get("loadBalancerSourceRanges")
    where = "spec.loadBalancerSourceRanges"
    if isinstance(ranges, Unknown):
        return []
    if not _list(ranges):
        annotation = _mapping(_mapping(props.get("metadata")).get("annotations")).get(
            SOURCE_RANGES_ANNOTATION
        )
        if isinstance(annotation, str) and annotation.strip():
            ranges, where = (
                annotation.split(","),
                f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]",
            )
        else:
            return [f"{where} is not set: the load balancer admits every source address"]
    networks = []
    problems = []
    for text in _list(ranges):
        try:
            networks.append(ipaddress.ip_network(str(text).strip(), strict=False))
        except ValueError:
            problems.append(f"{where}: {text!r} is not an address range")
    ipv4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    if list(ipaddress.collapse_addresses(ipv4)) == [ipaddress.IPv4Network("0.0.0.0/0")]:
        problems.append(f"{where} admits every IPv4 address (0.0.0.0/0)")
    ipv6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    if list(ipaddress.collapse_addresses(ipv6)) == [ipaddress.IPv6Network("::/0")]:
        problems.append(f"{where} admits every IPv6 address (::/0)")
    return problems

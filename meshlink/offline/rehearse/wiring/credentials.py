"""The credentialName Secrets, read in every namespace the gateway runs in, parsed, and
checked the way Istio reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from meshlink.offline.rehearse.pki import (
    REDACTED_MARKER,
    Credential,
    PemError,
    describe,
    key_for_certificate,
    load_certificates,
    load_private_key,
)
from meshlink.offline.rehearse.render import KubeObject, Render


def _first(values: Mapping[str, str], *keys: str) -> tuple[str | None, str | None]:
    for key in keys:
        if key in values:
            return key, values[key]
    return None, None


def read_credential(
    render: Render,
    *,
    cluster: str,
    namespaces: Sequence[str],
    name: str,
    role: str,
    used_by: str,
    problems: list[str],
) -> tuple[Credential | None, str]:
    """The Secret ``name`` in every namespace the gateway runs in, parsed and checked."""
    secrets = [s for s in render.of_kind("Secret", cluster=cluster) if s.name == name]
    credential: Credential | None = None
    ref = f"Secret {'/'.join(namespaces)}/{name} (cluster {cluster!r})"
    for namespace in namespaces:
        secret = next((s for s in secrets if s.namespace == namespace), None)
        if secret is None:
            elsewhere = sorted({s.namespace for s in secrets})
            hint = (
                f"; a Secret of that name is rendered in namespace(s) {', '.join(elsewhere)}, "
                "but a credentialName Secret must be in the namespace of the gateway that "
                "uses it"
                if elsewhere
                else ""
            )
            problems.append(
                f"{role} Secret {namespace}/{name} (credentialName of {used_by}) is missing "
                f"from cluster {cluster!r}{hint}"
            )
            continue
        ref = secret.ref
        parsed = _parse_secret(render, secret, role=role, problems=problems)
        credential = credential or parsed
    return credential, ref


def _ignored_by_istio(secret: KubeObject, values: Mapping[str, str], where: str) -> list[str]:
    """The Secret's name or keys that make Istio pass it over as a credential."""
    problems: list[str] = []
    lowered = secret.name.lower()
    if lowered.startswith(("istio", "prometheus")) or lowered.endswith("-cacert"):
        problems.append(
            f"{where}: Istio ignores credentialName Secrets whose name starts with 'istio' or "
            "'prometheus' or ends in '-cacert'"
        )
    if "token" in values:
        problems.append(f"{where}: a credential Secret must not hold a key named 'token'")
    return problems


def _trust_bundle(
    render: Render, secret: KubeObject, values: Mapping[str, str], *, role: str, where: str
) -> tuple[str | None, str]:
    """The trust bundle's PEM (None when there is none) and where it was read, for errors."""
    ca_key, ca_pem = _first(values, "ca.crt", "cacert")
    if ca_pem is not None:
        return ca_pem, f"{where} {ca_key}"
    # Istio also reads the trust bundle from a separate '<name>-cacert' Secret.
    companion = next(
        (
            s
            for s in render.of_kind("Secret", cluster=secret.cluster)
            if s.namespace == secret.namespace and s.name == f"{secret.name}-cacert"
        ),
        None,
    )
    if companion is None:
        return None, f"{where} {ca_key}"
    ca_key, ca_pem = _first(companion.secret_values(), "ca.crt", "cacert")
    return ca_pem, f"{role} {companion.ref} {ca_key}"


def _load_credential(
    where: str, cert: tuple[str, str], key: tuple[str, str], trust: tuple[str, str]
) -> Credential | str:
    """The credential from its (key or location, PEM) parts, or the one problem with it."""
    (cert_key, cert_pem), (key_key, key_pem), (trust_where, trust_pem) = cert, key, trust
    try:
        chain = load_certificates(cert_pem, what=f"{where} {cert_key}")
        private_key = load_private_key(key_pem, what=f"{where} {key_key}")
        bundle = load_certificates(trust_pem, what=trust_where)
    except PemError as error:
        return str(error)
    credential = Credential(chain=tuple(chain), key=private_key, trust=tuple(bundle))
    if key_for_certificate(credential.leaf, [private_key]) is None:
        return (
            f"{where}: {key_key} is not the private key of the first certificate in {cert_key} "
            f"({describe(credential.leaf)})"
        )
    return credential


def _parse_secret(
    render: Render, secret: KubeObject, *, role: str, problems: list[str]
) -> Credential | None:
    values = secret.secret_values()
    where = f"{role} {secret.ref}"
    redacted = sorted(k for k, v in values.items() if REDACTED_MARKER in v)
    if redacted:
        problems.append(
            f"{where} holds redacted values ({', '.join(redacted)}): "
            "render with --include-private-keys to rehearse"
        )
        return None
    problems.extend(_ignored_by_istio(secret, values, where))
    cert_key, cert_pem = _first(values, "tls.crt", "cert")
    key_key, key_pem = _first(values, "tls.key", "key")
    ca_pem, ca_where = _trust_bundle(render, secret, values, role=role, where=where)
    missing = [
        label
        for label, value in (
            ("tls.crt", cert_pem),
            ("tls.key", key_pem),
            ("ca.crt (the bundle that verifies the peer)", ca_pem),
        )
        if value is None
    ]
    if missing:
        problems.append(f"{where} has no {', '.join(missing)}")
        return None
    # _first gives a key with every value, so a value found has its key.
    assert cert_key is not None and cert_pem is not None and ca_pem is not None
    assert key_key is not None and key_pem is not None
    loaded = _load_credential(where, (cert_key, cert_pem), (key_key, key_pem), (ca_where, ca_pem))
    if isinstance(loaded, str):
        problems.append(loaded)
        return None
    return loaded

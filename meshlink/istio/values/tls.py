"""What TLS settings name: the credential Secret, the expected subject alternative names,
and files mounted into the proxy (never key material)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainValidator
from pydantic_core import PydanticCustomError

from meshlink.validation import check_dns1123_subdomain


def _check_credential_name(value: str) -> str:
    """The Secret a gateway reads its certificate from.

    Istio ignores Secrets whose names start with ``istio`` or ``prometheus`` and treats a
    ``-cacert`` suffix as the CA half of another credential, so such names would fail
    without an error message anywhere.
    """
    check_dns1123_subdomain(value)
    for reserved in ("istio", "prometheus"):
        if value.startswith(reserved):
            raise ValueError(
                f"{value!r}: gateways ignore Secrets whose names start with {reserved!r}"
            )
    if value.endswith("-cacert"):
        raise ValueError(
            f"{value!r}: Istio reads '<name>-cacert' as the CA part of credential '<name>'; "
            "choose a name without that suffix"
        )
    return value


def _check_subject_alt_name(value: str) -> str:
    if not value or value != value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not a subject alternative name: no spaces, not empty")
    return value


class _WithheldKeyMaterial:
    """Stands in for PEM text given where a file path belongs, so that neither the
    validation error nor its ``repr`` ever carries the key."""

    def __repr__(self) -> str:
        return "<withheld: looked like PEM key or certificate material>"


def _withhold_pem(value: Any) -> Any:
    if isinstance(value, str) and ("-----BEGIN" in value or "\n" in value):
        return _WithheldKeyMaterial()
    return value


_PATH = re.compile(r"^/[A-Za-z0-9._/@+=-]*$")


def _check_proxy_file_path(value: Any) -> str:
    if isinstance(value, _WithheldKeyMaterial):
        raise PydanticCustomError(
            "key_material_not_path",
            "takes the path of a file mounted into the proxy, not certificate or key "
            "material; put the material in a Kubernetes Secret and name it in credentialName",
        )
    if not isinstance(value, str) or not _PATH.match(value):
        raise PydanticCustomError(
            "proxy_file_path", "must be an absolute file path inside the proxy container"
        )
    return value


CredentialName = Annotated[str, AfterValidator(_check_credential_name)]
"""The name of a Secret in the gateway's namespace holding ``tls.crt``/``tls.key``/``ca.crt``."""

SubjectAltName = Annotated[str, AfterValidator(_check_subject_alt_name)]
"""A DNS name or URI (for example a SPIFFE ID) expected in the peer certificate."""

ProxyFilePath = Annotated[
    str,
    PlainValidator(_check_proxy_file_path, json_schema_input_type=str),
    BeforeValidator(_withhold_pem),
]
"""A file mounted into the proxy container; PEM text given here is refused without echoing it."""

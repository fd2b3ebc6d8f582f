"""The TLS 1.2 cipher suites the ingress Gateway accepts on the link.

Without a list, the proxy's defaults decide. Envoy documents its default server list
(``TlsParameters.cipher_suites``,
https://www.envoyproxy.io/docs/envoy/v1.22.5/api-v3/extensions/transport_sockets/tls/v3/common.proto)
with CBC suites (``ECDHE-RSA-AES128-SHA``, ``AES128-SHA``) and suites without forward
secrecy (``AES128-GCM-SHA256``), and says the defaults change over time. meshlink pins
an explicit list: ECDHE key exchange (forward secrecy) with AEAD ciphers only, AES-GCM or
ChaCha20-Poly1305, in the BoringSSL names Envoy takes (the same names in OpenSSL, which
the rehearsal's HAProxy uses). The same page says the list applies when negotiating TLS
1.0-1.2 and has no effect on TLS 1.3, whose suites are all AEAD with ephemeral keys.

Only the server side can be pinned: Istio's ``ServerTLSSettings`` has ``cipherSuites``,
its ``ClientTLSSettings`` (the origination DestinationRule) has no such field in the CRD
sets meshlink is checked against (1.24, 1.30), so the egress gateway offers its defaults
and the ingress Gateway, which picks the suite, accepts only the pinned ones: every link
connection negotiates a pinned suite or fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator

ALLOWED_CIPHER_SUITES = (
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
"""Every TLS 1.2 suite with ECDHE and AES-GCM or ChaCha20-Poly1305, strongest first."""

DEFAULT_CIPHER_SUITES = ALLOWED_CIPHER_SUITES
"""All of them: ECDSA for meshlink's own (P-256) certificates, RSA for an RSA link CA."""


def check_cipher_suites(value: Sequence[str]) -> list[str]:
    """A non-empty list of allowed suites, each once."""
    suites = list(value)
    if not suites:
        raise ValueError("give at least one cipher suite")
    for suite in suites:
        if suite not in ALLOWED_CIPHER_SUITES:
            raise ValueError(
                f"{suite!r} is not an ECDHE suite with AES-GCM or ChaCha20-Poly1305; "
                f"choose from {', '.join(ALLOWED_CIPHER_SUITES)}"
            )
    if len(set(suites)) != len(suites):
        raise ValueError("lists a cipher suite twice")
    return suites


CipherSuites = Annotated[list[str], AfterValidator(check_cipher_suites)]

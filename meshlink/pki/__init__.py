"""The link PKI: a CA of the user's own for traffic between clusters, separate from the
mesh CA, the gateways' leaf certificates, and the Secrets that carry them.

Every CA kind satisfies :class:`LinkIssuer`, which is all :class:`LeafCertificate` and the
mesh layer rely on.
"""

from meshlink.pki.authority import CertificateAuthority, CertificateAuthorityArgs, IssuingCaArgs
from meshlink.pki.existing import (
    ExistingCertificateAuthority,
    ExistingCertificateAuthorityArgs,
    read_secret_config,
)
from meshlink.pki.external import (
    ExternallySignedCertificateAuthority,
    ExternallySignedCertificateAuthorityArgs,
    SignedCertificateMismatch,
)
from meshlink.pki.issuer import LinkIssuer, join_pem
from meshlink.pki.leaf import LeafCertificate, LeafCertificateArgs, LeafLifetimeArgs
from meshlink.pki.models import KeyArgs, Rotation, SubjectArgs
from meshlink.pki.secret import GatewayCredentialSecret, GatewayCredentialSecretArgs

__all__ = [
    "CertificateAuthority",
    "CertificateAuthorityArgs",
    "ExistingCertificateAuthority",
    "ExistingCertificateAuthorityArgs",
    "ExternallySignedCertificateAuthority",
    "ExternallySignedCertificateAuthorityArgs",
    "GatewayCredentialSecret",
    "GatewayCredentialSecretArgs",
    "IssuingCaArgs",
    "KeyArgs",
    "LeafCertificate",
    "LeafCertificateArgs",
    "LeafLifetimeArgs",
    "LinkIssuer",
    "Rotation",
    "SignedCertificateMismatch",
    "SubjectArgs",
    "join_pem",
    "read_secret_config",
]

"""The partner-endpoint example rendered as its two ``pulumi up`` runs would leave it: first
the key and the request, then, with a client certificate from a partner CA made here, the
link. Shared by the render test and the rehearsal test."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from meshlink.offline.program import Program, load_program
from meshlink.offline.rehearse.partner_plan import StandIn, parse_stand_in
from meshlink.offline.render import RenderResult, render_program
from tests.support import certs
from tests.support.pki import MadeCa, make_ca, make_key

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "partner-endpoint"
STACK = "example"
PROJECT = "meshlink-partner-endpoint"
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
"""The render clock of these tests."""
CLIENT_KEY = Path("private-keys") / "partner-client-key.pem"


def example_program() -> Program:
    return load_program(EXAMPLE, STACK)


def render(program: Program, out: Path, *, include_private_keys: bool = False) -> RenderResult:
    return render_program(program, out, now=NOW, include_private_keys=include_private_keys)


def partner_ca() -> MadeCa:
    """A partner CA whose key the test holds, to sign the client and stand-in certificates."""
    now = dt.datetime.now(dt.UTC)
    return make_ca(
        "Test Clearing House CA",
        not_before=now - dt.timedelta(days=30),
        not_after=now + dt.timedelta(days=365),
    )


def sign_for_partner(
    public_key: object,
    ca: MadeCa,
    common_name: str,
    *,
    usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH,
    dns_names: tuple[str, ...] = (),
) -> str:
    """A certificate the partner's CA signs for ``public_key``: the link's client
    certificate, or (``SERVER_AUTH``) the server certificate of a stand-in. Valid around
    the real clock, which PartnerLink's checks and the rehearsal use."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(certs.name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if dns_names:
        sans = x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names])
        builder = builder.add_extension(sans, critical=False)
    return certs.pem(builder.sign(ca.key, hashes.SHA256()))


def signed_program(ca: MadeCa, scratch: Path) -> Program:
    """The example's second run: its own key (the first run's, rendered to ``scratch``)
    signed by ``ca``, which the endpoint's bundle names instead of the example CA."""
    first = scratch / "first-run"
    render(example_program(), first, include_private_keys=True)
    key = serialization.load_pem_private_key((first / CLIENT_KEY).read_bytes(), password=None)
    program = example_program()
    config = dict(program.config)
    endpoint = json.loads(config[f"{PROJECT}:endpoint"])
    endpoint["ca_bundle_pem"] = ca.cert_pem
    signed = json.loads(config[f"{PROJECT}:signed_by_partner"])
    signed["signed_cert_pem"] = sign_for_partner(key.public_key(), ca, "payments.example.com")
    config[f"{PROJECT}:endpoint"] = json.dumps(endpoint)
    config[f"{PROJECT}:signed_by_partner"] = json.dumps(signed)
    return dataclasses.replace(program, config=config)


def write_stand_in(
    directory: Path, signer: MadeCa, *, name: str, address: str, flag: str, stem: str
) -> StandIn:
    """A stand-in's credential, as ``meshlink rehearse`` takes it with ``flag``: a server
    certificate ``signer`` issued for ``name``, and its key, written under ``directory`` as
    ``<stem>.pem`` and ``<stem>.key`` for the endpoint at ``address``."""
    key = make_key()
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / f"{stem}.pem"
    cert.write_text(
        sign_for_partner(
            key.public_key(),
            signer,
            name,
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            dns_names=(name,),
        )
    )
    key_file = directory / f"{stem}.key"
    key_file.write_text(certs.key_pem(key))
    return parse_stand_in(f"{address}={cert},{key_file}", flag=flag)

"""The rehearsal itself: MariaDB behind two HAProxies configured from the render, the
positive check, the negative cases, and the timing.

Each negative case changes one thing against a control that is accepted (the link's
own client certificate at the ingress; a decoy presenting the real server credential
at the egress), so a refusal can only come from that one change. A refusal counts
only when the client's observation and the gateway's log both give the expected
reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from meshlink.offline.rehearse import haproxy as hp
from meshlink.offline.rehearse import pki, timing
from meshlink.offline.rehearse.probes import (
    DECOY_PAYLOAD,
    DecoyServer,
    LogWatch,
    ProbeOutcome,
    plain_probe,
    tls_probe,
)
from meshlink.offline.rehearse.processes import (
    ManagedProcess,
    MariaDB,
    Tools,
    find_tools,
    free_ports,
    run_command,
)
from meshlink.offline.rehearse.render import load_render
from meshlink.offline.rehearse.wiring import TLS_VERSIONS, LinkPlan, plan_links

ROWS = 3000
LOG_WAIT = 5.0
X509_ERRORS = {
    2: "unable to get issuer certificate",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    26: "unsupported certificate purpose",
}
UNTRUSTED = {2, 18, 19, 20, 21}
PYTHON_TLS = {
    "TLSV1_0": ssl.TLSVersion.TLSv1,
    "TLSV1_1": ssl.TLSVersion.TLSv1_1,
    "TLSV1_2": ssl.TLSVersion.TLSv1_2,
    "TLSV1_3": ssl.TLSVersion.TLSv1_3,
}

NOT_EXPRESSED = [
    "Gateway subjectAltNames (allowed client identities): HAProxy 2.6 has no fetch for a "
    "client certificate's SANs, so a Lua action reads them from ssl_c_der and closes a "
    "connection whose SANs are not allowed right after the handshake, before any byte is "
    "forwarded. Envoy refuses during the handshake, with a TLS alert.",
    "DestinationRule subjectAltNames: HAProxy's verifyhost checks one DNS name (wildcards in "
    "the certificate allowed); Envoy accepts a match with any listed name, of any SAN type.",
    "TLS library: HAProxy and the probes use OpenSSL; Envoy uses BoringSSL, whose default "
    "cipher suites, curves and alert codes differ.",
    "Not rehearsed: the mesh-CA hops (sidecar to egress gateway, ingress gateway to the "
    "service), which are Istio's own ISTIO_MUTUAL; DNS resolution of the FQDN; "
    "NetworkPolicy.",
    "Not rehearsed: the AuthorizationPolicies (only the client namespaces on the egress "
    "gateway, only the ingress gateway's identity on each target) and the targets' STRICT "
    "PeerAuthentication. They act on mesh identities from the mesh CAs, which the stand-ins "
    "do not have; the tests check the objects themselves, against both CRD sets.",
]


@dataclass
class CaseResult:
    side: str
    case: str
    expected: str
    result: str
    evidence: str
    passed: bool


@dataclass
class PositiveResult:
    rows: int
    written_sha256: str
    read_back_sha256: str
    direct_sha256: str
    sessions_through_ingress: int
    tls_version: str
    client_identity: str
    passed: bool
    detail: str


@dataclass
class LinkResult:
    fqdn: str
    sni: str
    client_cluster: str
    server_cluster: str
    destination_rule: str
    egress_gateway: str
    client_secret: str
    gateway: str
    server_secret: str
    virtual_service: str
    target: str
    link_port: int
    min_version: str
    allowed_client_sans: list[str]
    server_names: list[str]
    listeners: dict[str, int]
    positive: PositiveResult | None = None
    cases: list[CaseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.positive is not None
            and self.positive.passed
            and bool(self.cases)
            and all(c.passed for c in self.cases)
        )


@dataclass
class Measurement:
    subject: str
    baseline: str
    subject_ms: float
    baseline_ms: float
    ratio: float
    samples: int
    method: str


@dataclass
class TimingResult:
    link: str
    connection_setup: Measurement
    query_latency: Measurement
    handshake: Measurement


@dataclass
class RehearsalReport:
    render_dir: str
    links: list[LinkResult]
    timing: TimingResult | None
    not_expressed: list[str]
    versions: dict[str, str]

    @property
    def ok(self) -> bool:
        return bool(self.links) and all(link.passed for link in self.links)


# --- files -------------------------------------------------------------------------------


def _write(path: Path, text: str, *, private: bool = False) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


@dataclass
class _Layout:
    index: int
    plan: LinkPlan
    ingress_port: int
    egress_port: int
    decoy_egress_port: int
    decoy_port: int

    @property
    def ingress_name(self) -> str:
        return f"link{self.index}_ingress"

    @property
    def egress_name(self) -> str:
        return f"link{self.index}_egress"

    @property
    def decoy_name(self) -> str:
        return f"link{self.index}_decoy"


def _configs(
    layouts: Sequence[_Layout], workdir: Path, mariadb_port: int
) -> tuple[hp.HaproxyConfig, hp.HaproxyConfig]:
    ingress = hp.HaproxyConfig(lua=workdir / "client-san.lua")
    egress = hp.HaproxyConfig()
    allowed: dict[str, list[str]] = {}
    for layout in layouts:
        plan, base = layout.plan, workdir / f"link{layout.index}"
        base.mkdir()
        server_pem = _write(
            base / "server.pem", plan.server.chain_pem() + plan.server.key_pem(), private=True
        )
        crt_list = _write(base / "server.crtlist", hp.crt_list_line(server_pem, plan.gateway_hosts))
        server_ca = _write(base / "server-ca.pem", plan.server.trust_pem())
        client_pem = _write(
            base / "client.pem", plan.client.chain_pem() + plan.client.key_pem(), private=True
        )
        client_ca = _write(base / "client-ca.pem", plan.client.trust_pem())
        if plan.allowed_client_sans:
            allowed[layout.ingress_name] = plan.allowed_client_sans
        ingress.ingress.append(
            hp.IngressFrontend(
                name=layout.ingress_name,
                port=layout.ingress_port,
                crt_list=crt_list,
                ca_file=server_ca,
                min_version=plan.min_version,
                max_version=plan.max_version,
                backend_port=mariadb_port,
                hosts=tuple(plan.gateway_hosts),
                cipher_suites=tuple(plan.cipher_suites),
                allowed_sans=tuple(plan.allowed_client_sans),
            )
        )
        for name, port, server_port in (
            (layout.egress_name, layout.egress_port, layout.ingress_port),
            (layout.decoy_name, layout.decoy_egress_port, layout.decoy_port),
        ):
            egress.egress.append(
                hp.EgressFrontend(
                    name=name,
                    port=port,
                    server_port=server_port,
                    crt=client_pem,
                    ca_file=client_ca,
                    sni=plan.sni,
                    verify_host=_verify_host(plan),
                )
            )
    _write(workdir / "client-san.lua", hp.render_client_san_lua(allowed))
    return ingress, egress


def _verify_host(plan: LinkPlan) -> str:
    """The one name HAProxy can check: the DR's first DNS-shaped subjectAltName."""
    dns = [n for n in plan.server_names if "://" not in n]
    return dns[0] if dns else plan.sni


def _link_notes(plan: LinkPlan) -> list[str]:
    notes = list(plan.notes)
    if len(plan.server_names) > 1 or any("://" in n for n in plan.server_names):
        notes.append(
            f"the DestinationRule lists subjectAltNames {plan.server_names}; HAProxy checks "
            f"only {_verify_host(plan)!r}"
        )
    if any(h.startswith("*.") for h in plan.gateway_hosts):
        notes.append(
            "a wildcard Gateway host matches one DNS label in HAProxy's SNI filter, any "
            "number of labels in Istio"
        )
    return notes


@contextlib.contextmanager
def _haproxy(
    tools: Tools, name: str, config: hp.HaproxyConfig, workdir: Path, ports: Sequence[int]
) -> Iterator[LogWatch]:
    path = _write(workdir / f"{name}.cfg", config.text())
    run_command([tools.haproxy, "-c", "-q", "-f", str(path)], what=f"checking the {name} config")
    log = workdir / f"{name}.log"
    with ManagedProcess(
        f"haproxy ({name})", [tools.haproxy, "-db", "-f", str(path)], log, workdir
    ) as p:
        p.wait_listening(ports)
        yield LogWatch(log)


# --- the positive check ------------------------------------------------------------------


def _rows(seed: str, count: int) -> list[tuple[int, str, str, int]]:
    return [
        (
            i,
            f"row-{i:05d}",
            hashlib.sha256(f"{seed}/{i}".encode()).hexdigest(),
            (i * 7919) % 1000003 - 500000,
        )
        for i in range(1, count + 1)
    ]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def positive_check(
    db: MariaDB, layout: _Layout, ingress_log: LogWatch, *, rows: int = ROWS
) -> PositiveResult:
    plan = layout.plan
    table = f"link{layout.index}_rows"
    data = _rows(plan.fqdn, rows)
    expected = "".join(f"{i}\t{label}\t{payload}\t{amount}\n" for i, label, payload, amount in data)
    statements = [
        f"DROP TABLE IF EXISTS {table};",
        f"CREATE TABLE {table} (id INT PRIMARY KEY, label VARCHAR(64) NOT NULL, "
        "payload CHAR(64) NOT NULL, amount BIGINT NOT NULL) ENGINE=InnoDB;",
    ]
    for start in range(0, rows, 500):
        values = ",".join(
            f"({i},'{label}','{payload}',{amount})"
            for i, label, payload, amount in data[start : start + 500]
        )
        # Every value is generated above (digits and hex), none comes from outside.
        statements.append(f"INSERT INTO {table} (id, label, payload, amount) VALUES {values};")  # noqa: S608
    select = f"SELECT id, label, payload, amount FROM {table} ORDER BY id;\n"  # noqa: S608

    def allowed_sessions() -> list[dict[str, str]]:
        return [
            e
            for e in ingress_log.entries()
            if e.get("link") == layout.ingress_name and e.get("san_verdict") == "allowed"
        ]

    before = len(allowed_sessions())
    db.query(layout.egress_port, "\n".join(statements) + "\n", what="writing through the link")
    read_back = db.query(layout.egress_port, select, what="reading back through the link")
    direct = db.query(db.port, select, what="reading directly from MariaDB")
    # HAProxy logs a session when it ends, a moment after the client has gone.
    deadline = time.monotonic() + LOG_WAIT
    sessions = allowed_sessions()
    while len(sessions) - before < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        sessions = allowed_sessions()
    through = len(sessions) - before
    last = sessions[-1] if sessions else {}
    written, read_sha, direct_sha = _digest(expected), _digest(read_back), _digest(direct)
    passed = written == read_sha == direct_sha and through >= 2
    if passed:
        detail = (
            f"{rows} rows written and read back through the link; sha256 matches what was "
            f"written and what MariaDB holds ({through} sessions through the ingress, "
            f"{last.get('tls', '?')}, client {last.get('client_sans', '?')})"
        )
    elif through < 2:
        detail = "the ingress log does not show the sessions: the traffic did not take the link"
    else:
        detail = (
            f"checksums differ: written {written[:12]}, read back {read_sha[:12]}, "
            f"in MariaDB {direct_sha[:12]}"
        )
    return PositiveResult(
        rows=rows,
        written_sha256=written,
        read_back_sha256=read_sha,
        direct_sha256=direct_sha,
        sessions_through_ingress=through,
        tls_version=last.get("tls", ""),
        client_identity=last.get("client_sans", ""),
        passed=passed,
        detail=detail,
    )


# --- the negative cases ------------------------------------------------------------------


def _x509(code: str | None) -> str:
    try:
        number = int(code or "0")
    except ValueError:
        return str(code)
    return f"X509 error {number} ({X509_ERRORS.get(number, 'see openssl verify')})"


def _ingress_log_text(entries: Sequence[dict[str, str]]) -> str:
    if not entries:
        return "no HAProxy log entry"
    e = entries[0]
    if e.get("event") == "error":
        text = f"HAProxy: {e.get('error')}"
        if e.get("cert_error") not in (None, "", "0"):
            text += f", {_x509(e.get('cert_error'))}"
        elif e.get("ssl_error"):
            text += f", {e['ssl_error'].rsplit('::', 1)[-1]}"
        return text
    return (
        f"HAProxy: handshake done ({e.get('tls')}), client SANs [{e.get('client_sans')}] "
        f"{e.get('san_verdict')}, {e.get('bytes_to_client')} bytes to the client"
    )


Reason = Callable[[ProbeOutcome, Sequence[dict[str, str]]], bool]


def _error_field(entries: Sequence[dict[str, str]], key: str) -> str:
    return next((e.get(key, "") for e in entries if e.get("event") == "error"), "")


def _ingress_case(
    title: str,
    outcome: ProbeOutcome,
    entries: Sequence[dict[str, str]],
    *,
    expect_refused: bool,
    reason: Reason,
    note: str = "",
) -> CaseResult:
    if not outcome.connected:
        return CaseResult(
            "ingress", title, _expected(expect_refused), "error", outcome.summary(), False
        )
    accepted = outcome.greeting
    evidence = f"{note}{'; ' if note else ''}{outcome.summary()}; {_ingress_log_text(entries)}"
    right = reason(outcome, entries)
    if expect_refused:
        result = "accepted" if accepted else ("refused" if right else "refused, other reason")
        passed = not accepted and right
    else:
        result = "accepted" if accepted and right else "refused"
        passed = accepted and right
    return CaseResult("ingress", title, _expected(expect_refused), result, evidence, passed)


def _expected(refused: bool) -> str:
    return "refused" if refused else "accepted"


@dataclass
class _Minted:
    other_ca_client: pki.Credential
    expired_client: pki.Credential
    server_auth_client: pki.Credential
    unlisted_san_client: pki.Credential
    unlisted_san: str
    wrong_name_server: pki.Credential
    wrong_name: str
    other_ca_server: pki.Credential


def _unlisted_identity(plan: LinkPlan) -> str:
    """An identity shaped like the real client's, in the same trust domain, not allowed."""
    sans = pki.subject_alt_names(plan.client.leaf)
    allowed = {pki.normalise_san(a) for a in plan.allowed_client_sans}
    base = next((s for s in sans if s.startswith("spiffe://")), None)
    for n in range(100):
        tag = "intruder" if n == 0 else f"intruder-{n}"
        if base:
            trust_domain = base.split("/")[2]
            candidate = f"spiffe://{trust_domain}/ns/{tag}/sa/{tag}"
        else:
            candidate = f"{tag}.{plan.fqdn}"
        if pki.normalise_san(candidate) not in allowed:
            return candidate
    raise RuntimeError("could not invent an identity outside the allowed list")


def mint_negatives(plan: LinkPlan, now: dt.datetime | None = None) -> _Minted:
    now = now or dt.datetime.now(dt.UTC)
    key = pki.new_key()
    client_sans = pki.subject_alt_names(plan.client.leaf)
    server_sans = pki.subject_alt_names(plan.server.leaf)
    fresh = (now - dt.timedelta(hours=1), now + dt.timedelta(days=1))
    other_key = pki.new_key()
    other_ca = pki.mint_ca("meshlink rehearsal unrelated CA", key=other_key, now=now)

    def leaf(
        sans: Sequence[str],
        usage: pki.x509.ObjectIdentifier,
        issuer: pki.x509.Certificate,
        issuer_key: pki.CertificateIssuerPrivateKeyTypes,
        window: tuple[dt.datetime, dt.datetime] = fresh,
    ) -> pki.x509.Certificate:
        return pki.mint_leaf(
            "meshlink rehearsal",
            sans=sans,
            usages=[usage],
            key=key,
            issuer=issuer,
            issuer_key=issuer_key,
            not_before=window[0],
            not_after=window[1],
        )

    c_issuer, c_key = plan.client_issuer.certificate, _issuer_key(plan.client_issuer.key)
    s_issuer, s_key = plan.server_issuer.certificate, _issuer_key(plan.server_issuer.key)
    unlisted = _unlisted_identity(plan)
    wrong_name = f"not-{plan.fqdn}"
    expired_window = (now - dt.timedelta(days=2), now - dt.timedelta(days=1))
    return _Minted(
        other_ca_client=pki.Credential(
            (leaf(client_sans, pki.CLIENT_AUTH, other_ca, other_key),), key, plan.client.trust
        ),
        expired_client=plan.client.with_chain(
            leaf(client_sans, pki.CLIENT_AUTH, c_issuer, c_key, expired_window), key
        ),
        server_auth_client=plan.client.with_chain(
            leaf(client_sans, pki.SERVER_AUTH, c_issuer, c_key), key
        ),
        unlisted_san_client=plan.client.with_chain(
            leaf([unlisted], pki.CLIENT_AUTH, c_issuer, c_key), key
        ),
        unlisted_san=unlisted,
        wrong_name_server=plan.server.with_chain(
            leaf([wrong_name], pki.SERVER_AUTH, s_issuer, s_key), key
        ),
        wrong_name=wrong_name,
        other_ca_server=pki.Credential(
            (leaf(server_sans, pki.SERVER_AUTH, other_ca, other_key),), key, plan.server.trust
        ),
    )


def _issuer_key(key: pki.PrivateKeyTypes) -> pki.CertificateIssuerPrivateKeyTypes:
    if not isinstance(
        key,
        pki.ec.EllipticCurvePrivateKey
        | pki.rsa.RSAPrivateKey
        | pki.ed25519.Ed25519PrivateKey
        | pki.ed448.Ed448PrivateKey,
    ):
        raise RuntimeError(f"cannot sign certificates with a {type(key).__name__}")
    return key


WEAK_SUITES_CASE = "TLS 1.2 with CBC or non-ECDHE suites only"
OUTSIDE_PINNED_SUITES = (
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "AES256-SHA",
)
"""TLS 1.2 suites outside meshlink's pinned list (OpenSSL names, which are Envoy's)."""


def ingress_cases(layout: _Layout, log: LogWatch, minted: _Minted) -> list[CaseResult]:
    plan, port, sni = layout.plan, layout.ingress_port, layout.plan.sni
    out: list[CaseResult] = []

    def probe(
        title: str,
        outcome: ProbeOutcome,
        *,
        expect_refused: bool = True,
        reason: Reason,
        note: str = "",
    ) -> None:
        entries = (
            log.for_client("ingress", outcome.client_port, timeout=LOG_WAIT)
            if outcome.connected
            else []
        )
        out.append(
            _ingress_case(
                title, outcome, entries, expect_refused=expect_refused, reason=reason, note=note
            )
        )

    def cert_error(*codes: int) -> Reason:
        return lambda o, e: _error_field(e, "cert_error") in {str(c) for c in codes}

    probe(
        "the link's own client certificate (control)",
        tls_probe(port, sni=sni, credential=plan.client),
        expect_refused=False,
        reason=lambda o, e: any(x.get("san_verdict") == "allowed" for x in e),
    )
    probe(
        "no client certificate",
        tls_probe(port, sni=sni, credential=None),
        reason=lambda o, e: "peer did not return a certificate" in _error_field(e, "ssl_error"),
    )
    probe(
        "client certificate from another CA",
        tls_probe(port, sni=sni, credential=minted.other_ca_client),
        reason=cert_error(*UNTRUSTED),
        note=f"issued by {pki.describe_issuer(minted.other_ca_client.leaf)}",
    )
    probe(
        "expired client certificate (real issuer)",
        tls_probe(port, sni=sni, credential=minted.expired_client),
        reason=cert_error(10),
    )
    probe(
        "EKU serverAuth only (real issuer)",
        tls_probe(port, sni=sni, credential=minted.server_auth_client),
        reason=cert_error(26),
    )
    probe(
        "plaintext TCP",
        plain_probe(port, payload=b"\x0a\x00\x00\x01plaintext client\r\n", wait=0.5),
        # HAProxy read bytes that are not a TLS ClientHello and sent nothing back.
        reason=lambda o, e: (
            _error_field(e, "error") == "SSL handshake failure"
            and bool(_error_field(e, "ssl_error"))
            and not o.received
        ),
    )
    minimum = plan.min_version.replace("TLSV1_", "TLS 1.")
    if TLS_VERSIONS.index(plan.min_version) <= TLS_VERSIONS.index("TLSV1_1"):
        # Not probed: this OpenSSL refuses TLS 1.1 at its default security level whatever
        # the setting, where Envoy would accept it; the Gateway's own setting is the finding.
        out.append(
            CaseResult(
                "ingress",
                f"TLS 1.1 (minimum {minimum})",
                "refused",
                "permitted",
                f"the Gateway's minProtocolVersion {plan.min_version} permits TLS 1.1",
                False,
            )
        )
    for version in ("TLSV1_1", "TLSV1_2"):
        if TLS_VERSIONS.index(version) >= TLS_VERSIONS.index(plan.min_version):
            continue
        label = version.replace("TLSV1_", "TLS 1.")
        probe(
            f"{label} (minimum {minimum})",
            tls_probe(
                port,
                sni=sni,
                credential=plan.client,
                minimum=PYTHON_TLS["TLSV1_0"] if version == "TLSV1_1" else PYTHON_TLS[version],
                maximum=PYTHON_TLS[version],
                legacy=True,
            ),
            reason=lambda o, e: (
                "unsupported protocol" in _error_field(e, "ssl_error")
                or "protocol version" in (o.tls_error or "")
            ),
        )
    if TLS_VERSIONS.index(plan.min_version) <= TLS_VERSIONS.index("TLSV1_2"):
        # The link's own certificate, TLS 1.2, and only suites a pinned list leaves out: CBC
        # suites and suites without ECDHE, all of which Envoy's default list accepts.
        outside = [s for s in OUTSIDE_PINNED_SUITES if s not in plan.cipher_suites]
        probe(
            WEAK_SUITES_CASE,
            tls_probe(
                port,
                sni=sni,
                credential=plan.client,
                minimum=PYTHON_TLS["TLSV1_2"],
                maximum=PYTHON_TLS["TLSV1_2"],
                ciphers=":".join(outside),
            ),
            note=f"offers {', '.join(outside)}",
            reason=lambda o, e: (
                "handshake failure" in (o.tls_error or "")
                or "no shared cipher" in _error_field(e, "ssl_error")
            ),
        )
    probe(
        "client SAN not allowed (real issuer)",
        tls_probe(port, sni=sni, credential=minted.unlisted_san_client),
        note=f"presents {minted.unlisted_san}",
        reason=lambda o, e: any(
            x.get("san_verdict") == "not-allowed" and x.get("bytes_to_client") == "0" for x in e
        ),
    )
    if "*" not in plan.gateway_hosts:
        probe(
            "SNI not among the Gateway's hosts",
            tls_probe(port, sni=f"not-{sni}", credential=plan.client),
            note=f"SNI not-{sni}, the link's own client certificate",
            reason=lambda o, e: "unrecognized name" in (o.tls_error or ""),
        )
    return out


def egress_cases(layout: _Layout, log: LogWatch, minted: _Minted) -> list[CaseResult]:
    plan = layout.plan
    out: list[CaseResult] = []
    cases: list[tuple[str, pki.Credential, bool, Callable[[str], bool]]] = [
        ("decoy with the real server credential (control)", plan.server, False, lambda _: True),
        (
            "server certificate for another name (real issuer)",
            minted.wrong_name_server,
            True,
            lambda alert: "unknown ca" not in alert,
        ),
        (
            "server certificate from another CA",
            minted.other_ca_server,
            True,
            lambda alert: "unknown ca" in alert,
        ),
    ]
    for title, credential, expect_refused, alert_ok in cases:
        decoy = DecoyServer(credential, layout.decoy_port)
        with decoy.running():
            outcome = plain_probe(layout.decoy_egress_port, payload=None, wait=3.0)
            seen = decoy.wait_for_connection(1, timeout=LOG_WAIT)
        entries = (
            log.for_client("egress", outcome.client_port, timeout=LOG_WAIT)
            if outcome.connected
            else []
        )
        server_error = next((e.get("server_ssl_error", "") for e in entries), "")
        reached = outcome.received.startswith(DECOY_PAYLOAD)
        decoy_text = (
            "decoy never reached"
            if seen is None
            else ("decoy: handshake done" if seen.handshake_done else f"decoy got: {seen.error}")
        )
        evidence = (
            f"decoy presents {pki.subject_alt_names(credential.leaf)} issued by "
            f"{pki.describe_issuer(credential.leaf)}; "
            f"{'decoy data reached the client' if reached else 'client got nothing'}; "
            f"{decoy_text}; HAProxy: {server_error or 'no server-side TLS error'}"
        )
        if expect_refused:
            right = (
                not reached
                and seen is not None
                and not seen.handshake_done
                and "certificate verify failed" in server_error
                and alert_ok(seen.error or "")
            )
            result = "accepted" if reached else ("refused" if right else "refused, other reason")
            passed = right
        else:
            passed = reached and seen is not None and seen.handshake_done
            result = "accepted" if passed else "refused"
        out.append(CaseResult("egress", title, _expected(expect_refused), result, evidence, passed))
    return out


# --- timing ------------------------------------------------------------------------------


def measure(db: MariaDB, layout: _Layout) -> TimingResult:
    plan = layout.plan

    def run_queries(port: int, count: int) -> None:
        db.query(port, "DO 1;\n" * count, what="timing queries")

    setup = timing.connection_setup(layout.egress_port, db.port)
    latency = timing.query_latency(run_queries, layout.egress_port, db.port)
    rendered = timing.Pki(
        description=(
            f"{timing.key_description(plan.server.leaf)} leaves under an "
            f"{timing.key_description(plan.server_issuer.certificate)} CA (the render's)"
        ),
        server=plan.server,
        client=plan.client,
    )
    rsa = timing.mint_pki(
        ca_key="rsa-4096",
        leaf_key="rsa-2048",
        server_name=plan.sni,
        client_sans=pki.subject_alt_names(plan.client.leaf),
    )
    handshake = timing.handshake_comparison(rsa, rendered, server_name=plan.sni)
    return TimingResult(
        link=plan.fqdn,
        connection_setup=Measurement(
            "through the link",
            "MariaDB directly",
            setup.subject_ms,
            setup.baseline_ms,
            setup.ratio,
            setup.samples,
            f"median of {setup.samples} interleaved connections, TCP connect to the server "
            "greeting",
        ),
        query_latency=Measurement(
            "through the link",
            "MariaDB directly",
            latency.subject_ms,
            latency.baseline_ms,
            latency.ratio,
            latency.samples,
            f"median of {latency.samples} mariadb client sessions of 1000 queries each, "
            "net of a one-query session",
        ),
        handshake=Measurement(
            rsa.description,
            rendered.description,
            handshake.subject_ms,
            handshake.baseline_ms,
            handshake.ratio,
            handshake.samples,
            f"median CPU time of {handshake.samples} in-memory mutual TLS 1.3 handshakes each",
        ),
    )


# --- the whole run -----------------------------------------------------------------------


def _versions(tools: Tools) -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            return run_command(argv, what=argv[0], timeout=10).splitlines()[0].strip()
        except Exception:  # a version string is nice to have, never a reason to stop
            return "unknown"

    return {
        "haproxy": first_line([tools.haproxy, "-v"]),
        "mariadb": first_line([tools.mariadbd, "--version"]),
        "openssl (probes)": ssl.OPENSSL_VERSION,
    }


def rehearse(
    render_dir: Path, *, with_timing: bool = True, progress: Callable[[str], None] | None = None
) -> RehearsalReport:
    """Rehearse every link of a render. Wiring errors and missing tools raise before
    anything starts; everything started is stopped, and the work directory removed."""
    say = progress or (lambda _: None)
    render = load_render(Path(render_dir))
    plans = plan_links(render)
    tools = find_tools()
    versions = _versions(tools)
    workdir = Path(tempfile.mkdtemp(prefix="meshlink-rehearse-"))
    try:
        os.chmod(workdir, 0o700)
        ports = free_ports(1 + 4 * len(plans))
        layouts = [_Layout(i, plan, *ports[1 + 4 * i : 5 + 4 * i]) for i, plan in enumerate(plans)]
        results: list[LinkResult] = []
        measured: TimingResult | None = None
        with contextlib.ExitStack() as stack:
            (workdir / "mariadb").mkdir()
            say("starting MariaDB")
            db = stack.enter_context(MariaDB(tools, workdir / "mariadb", ports[0]).running())
            ingress_cfg, egress_cfg = _configs(layouts, workdir, db.port)
            say("starting the ingress and egress HAProxies")
            ingress_log = stack.enter_context(
                _haproxy(tools, "ingress", ingress_cfg, workdir, [x.ingress_port for x in layouts])
            )
            egress_log = stack.enter_context(
                _haproxy(
                    tools,
                    "egress",
                    egress_cfg,
                    workdir,
                    [p for x in layouts for p in (x.egress_port, x.decoy_egress_port)],
                )
            )
            for layout in layouts:
                plan = layout.plan
                say(f"rehearsing {plan.fqdn}")
                result = LinkResult(
                    fqdn=plan.fqdn,
                    sni=plan.sni,
                    client_cluster=plan.client_cluster,
                    server_cluster=plan.server_cluster,
                    destination_rule=plan.destination_rule,
                    egress_gateway=plan.egress_gateway,
                    client_secret=plan.client_secret,
                    gateway=plan.gateway,
                    server_secret=plan.server_secret,
                    virtual_service=plan.virtual_service,
                    target=plan.target,
                    link_port=plan.link_port,
                    min_version=plan.min_version,
                    allowed_client_sans=plan.allowed_client_sans,
                    server_names=plan.server_names,
                    listeners={
                        "mariadb": db.port,
                        "ingress": layout.ingress_port,
                        "egress app port": layout.egress_port,
                    },
                    notes=_link_notes(plan),
                )
                results.append(result)
                result.positive = positive_check(db, layout, ingress_log)
                minted = mint_negatives(plan)
                result.cases = ingress_cases(layout, ingress_log, minted) + egress_cases(
                    layout, egress_log, minted
                )
            if with_timing and layouts:
                say("measuring")
                measured = measure(db, layouts[0])
        return RehearsalReport(
            render_dir=str(render_dir),
            links=results,
            timing=measured,
            not_expressed=list(NOT_EXPRESSED),
            versions=versions,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

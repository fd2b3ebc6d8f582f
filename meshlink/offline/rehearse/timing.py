"""What the link costs, as ratios measured in one run on one machine.

Absolute numbers from a shared CI box mean little; the ratio of the link to MariaDB
directly (and of one key choice to another) measured side by side, interleaved, is
what carries over to a real cluster.
"""

from __future__ import annotations

import datetime as dt
import socket
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from meshlink.offline.rehearse import issuing, pki
from meshlink.offline.rehearse.probes import PROBE_TIMEOUT, is_mysql_greeting


def key_description(key: PrivateKeyTypes | pki.x509.Certificate) -> str:
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"ECDSA {curve.get(public.curve.name, public.curve.name)}"
    if isinstance(public, rsa.RSAPublicKey):
        return f"RSA-{public.key_size}"
    return type(public).__name__.removesuffix("PublicKey")


def _time_greeting(port: int) -> float:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as sock:
        data = b""
        while len(data) < 5:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    elapsed = time.perf_counter() - start
    if not is_mysql_greeting(data):
        raise RuntimeError(f"127.0.0.1:{port} did not send a MySQL greeting")
    return elapsed


def interleaved(
    first: Callable[[], float], second: Callable[[], float], rounds: int
) -> tuple[list[float], list[float]]:
    """Alternate the two measurements so drift on a shared machine hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        a.append(first())
        b.append(second())
    return a, b


@dataclass(frozen=True)
class Comparison:
    """``subject`` against ``baseline``: medians in milliseconds and their ratio."""

    subject_ms: float
    baseline_ms: float
    samples: int

    @property
    def ratio(self) -> float:
        return self.subject_ms / self.baseline_ms if self.baseline_ms else float("inf")


def median_ms(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000


def connection_setup(link_port: int, direct_port: int, rounds: int = 25) -> Comparison:
    """TCP connect to the server's greeting: through both gateways (two TLS handshakes
    and three TCP connections) against MariaDB itself."""
    _time_greeting(link_port)  # warm both paths once
    _time_greeting(direct_port)
    link, direct = interleaved(
        lambda: _time_greeting(link_port), lambda: _time_greeting(direct_port), rounds
    )
    return Comparison(median_ms(link), median_ms(direct), rounds)


def query_latency(
    run_queries: Callable[[int, int], None],
    link_port: int,
    direct_port: int,
    *,
    queries: int = 1000,
    rounds: int = 5,
) -> Comparison:
    """Per-query round trip with the real ``mariadb`` client.

    Each round times one client session of ``queries`` statements and one of a single
    statement; the difference divided by ``queries - 1`` cancels the process start and
    the connection set-up, leaving the round trip of one query.
    """

    def per_query(port: int) -> float:
        start = time.perf_counter()
        run_queries(port, queries)
        many = time.perf_counter() - start
        start = time.perf_counter()
        run_queries(port, 1)
        one = time.perf_counter() - start
        return max(many - one, 0.0) / (queries - 1)

    link, direct = interleaved(lambda: per_query(link_port), lambda: per_query(direct_port), rounds)
    return Comparison(median_ms(link), median_ms(direct), rounds)


def handshake_seconds(
    server: pki.Credential, client: pki.Credential, *, server_name: str, rounds: int
) -> list[float]:
    """Full mutual-TLS handshakes in memory, both ends in this thread: the CPU time of
    this thread is their cost, whatever else the (shared) machine is doing."""
    server_ctx = pki.server_context(server, verify_client=True)
    client_ctx = pki.client_context(client, trust=client, check_hostname=True)
    times = []
    for _ in range(rounds):
        start = time.thread_time()
        result = pki.handshake_in_memory(server_ctx, client_ctx, server_name=server_name)
        times.append(time.thread_time() - start)
        if not result.ok:
            raise RuntimeError(
                f"benchmark handshake failed: {result.client_error or result.server_error}"
            )
    return times


@dataclass(frozen=True)
class Pki:
    description: str
    server: pki.Credential
    client: pki.Credential


def mint_pki(
    *,
    ca_key: str,
    leaf_key: str,
    server_name: str,
    client_sans: Sequence[str],
    now: dt.datetime | None = None,
) -> Pki:
    """A CA with one server and one client leaf, shaped like a link's (for comparisons)."""
    now = now or dt.datetime.now(dt.UTC)
    root_key = issuing.new_key(ca_key)
    root = issuing.mint_ca(f"Benchmark {ca_key} CA", key=root_key, now=now)

    def leaf(name: str, sans: Sequence[str], usage: pki.x509.ObjectIdentifier) -> pki.Credential:
        key = issuing.new_key(leaf_key)
        cert = issuing.mint_leaf(
            name,
            sans=sans,
            usages=[usage],
            key=key,
            issuer=root,
            issuer_key=root_key,
            not_before=now - dt.timedelta(hours=1),
            not_after=now + dt.timedelta(days=1),
        )
        return pki.Credential(chain=(cert,), key=key, trust=(root,))

    return Pki(
        description=f"{_kind_label(leaf_key)} leaves under an {_kind_label(ca_key)} CA",
        server=leaf(server_name, [server_name], pki.SERVER_AUTH),
        client=leaf("client", client_sans, pki.CLIENT_AUTH),
    )


def _kind_label(kind: str) -> str:
    return "ECDSA P-256" if kind == "ec-p256" else kind.upper()


def handshake_comparison(
    subject: Pki, baseline: Pki, *, server_name: str, rounds: int = 120
) -> Comparison:
    """Interleaved batches of handshakes for each PKI; medians per handshake."""
    subject_times: list[float] = []
    baseline_times: list[float] = []
    batch = max(rounds // 6, 1)
    handshake_seconds(subject.server, subject.client, server_name=server_name, rounds=2)
    handshake_seconds(baseline.server, baseline.client, server_name=server_name, rounds=2)
    while len(subject_times) < rounds:
        subject_times += handshake_seconds(
            subject.server, subject.client, server_name=server_name, rounds=batch
        )
        baseline_times += handshake_seconds(
            baseline.server, baseline.client, server_name=server_name, rounds=batch
        )
    return Comparison(median_ms(subject_times), median_ms(baseline_times), len(subject_times))

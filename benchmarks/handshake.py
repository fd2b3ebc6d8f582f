"""Handshake cost of meshlink's default keys against the RSA choice of the tutorial.

Full mutual-TLS handshakes between two OpenSSL endpoints talking through memory in one
thread, so the thread's CPU time is the handshake's cost and other load on a shared
machine matters little: ECDSA P-256 leaves under an ECDSA P-256 CA, as meshlink issues
by default, against RSA-2048 leaves under an RSA-4096 CA. The two run in interleaved
batches and are reported as medians, their ratio and their difference; the ratio
carries over between machines far better than the absolute numbers.

    .venv/bin/python benchmarks/handshake.py [--rounds N] [--tls 1.2|1.3]
"""

from __future__ import annotations

import argparse
import ssl
import time

from meshlink.offline.rehearse import pki, timing

SERVER_NAME = "mysql.link.example.internal"
CLIENT_SAN = "spiffe://client.link.example.internal/ns/istio-egress/sa/egress-gateway"


def _round(server: ssl.SSLContext, client: ssl.SSLContext) -> float:
    start = time.thread_time()  # both ends run in this thread: CPU time is the cost
    result = pki.handshake_in_memory(server, client, server_name=SERVER_NAME)
    elapsed = time.thread_time() - start
    if not result.ok:
        raise SystemExit(f"handshake failed: {result.client_error or result.server_error}")
    return elapsed


def _contexts(chosen: timing.Pki, version: ssl.TLSVersion) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = pki.server_context(chosen.server, verify_client=True)
    server.minimum_version = server.maximum_version = version
    client = pki.client_context(chosen.client, trust=chosen.client, check_hostname=True)
    return server, client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="handshakes per key choice")
    parser.add_argument("--tls", choices=["1.2", "1.3"], default="1.3")
    args = parser.parse_args()
    version = ssl.TLSVersion.TLSv1_3 if args.tls == "1.3" else ssl.TLSVersion.TLSv1_2

    start = time.perf_counter()
    ecdsa = timing.mint_pki(
        ca_key="ec-p256", leaf_key="ec-p256", server_name=SERVER_NAME, client_sans=[CLIENT_SAN]
    )
    ecdsa_keys = time.perf_counter() - start
    start = time.perf_counter()
    rsa = timing.mint_pki(
        ca_key="rsa-4096", leaf_key="rsa-2048", server_name=SERVER_NAME, client_sans=[CLIENT_SAN]
    )
    rsa_keys = time.perf_counter() - start

    ecdsa_ctx, rsa_ctx = _contexts(ecdsa, version), _contexts(rsa, version)
    for _ in range(5):  # warm-up
        _round(*ecdsa_ctx)
        _round(*rsa_ctx)
    ecdsa_times: list[float] = []
    rsa_times: list[float] = []
    batch = 25
    while len(ecdsa_times) < args.rounds:
        ecdsa_times += [_round(*ecdsa_ctx) for _ in range(batch)]
        rsa_times += [_round(*rsa_ctx) for _ in range(batch)]
    result = timing.Comparison(
        timing.median_ms(rsa_times), timing.median_ms(ecdsa_times), len(rsa_times)
    )
    print(
        f"mutual TLS {args.tls} handshakes in memory, {len(ecdsa_times)} each, OpenSSL "
        f"{ssl.OPENSSL_VERSION.split()[1]}"
    )
    print(f"  {ecdsa.description:<40} {result.baseline_ms:8.3f} ms CPU median")
    print(f"  {rsa.description:<40} {result.subject_ms:8.3f} ms CPU median")
    print(f"  ratio RSA / ECDSA (handshake)            {result.ratio:8.2f}x")
    print(
        f"  RSA costs per handshake                  {result.subject_ms - result.baseline_ms:+8.3f}"
        " ms CPU"
    )
    print(f"  ratio RSA / ECDSA (key generation, once) {rsa_keys / ecdsa_keys:8.1f}x")


if __name__ == "__main__":
    main()

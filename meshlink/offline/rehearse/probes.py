"""Probes that knock on the gateways' doors, and the decoy that impersonates an ingress.

A probe records what a client can observe (the TLS alert it got, whether a MySQL
server greeting came back); the gateways' logs say why they refused. A case counts as
refused only when both agree, so a probe that fails for an unrelated reason (a typo,
a dead port) does not pass as a refusal.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from meshlink.offline.rehearse.haproxy import parse_log_line
from meshlink.offline.rehearse.pki import Credential, load_chain_into

PROBE_TIMEOUT = 5.0
DECOY_PAYLOAD = b"decoy-server-reached"


def is_mysql_greeting(data: bytes) -> bool:
    """A MySQL/MariaDB server's first packet: 3-byte length, sequence 0, protocol 10."""
    return len(data) >= 5 and data[3] == 0 and data[4] == 0x0A


def _recv_some(sock: socket.socket | ssl.SSLSocket, limit: int = 4096) -> bytes:
    data = b""
    while len(data) < 5:
        chunk = sock.recv(limit)
        if not chunk:
            break
        data += chunk
    return data


@dataclass
class ProbeOutcome:
    client_port: int = 0
    connected: bool = False
    handshake_done: bool = False
    tls_version: str | None = None
    tls_error: str | None = None
    error: str | None = None
    received: bytes = b""

    @property
    def greeting(self) -> bool:
        return is_mysql_greeting(self.received)

    def summary(self) -> str:
        if self.tls_error:
            return f"TLS error: {self.tls_error}"
        if self.error:
            return self.error
        if self.greeting:
            return "MySQL greeting received"
        if self.received:
            return f"received {len(self.received)} byte(s)"
        return "closed without data" if self.handshake_done or not self.tls_version else "closed"


def _tls_error_text(error: ssl.SSLError) -> str:
    return (error.reason or str(error)).lower().replace("_", " ")


def tls_probe(
    port: int,
    *,
    sni: str | None,
    credential: Credential | None,
    minimum: ssl.TLSVersion | None = None,
    maximum: ssl.TLSVersion | None = None,
    legacy: bool = False,
    ciphers: str | None = None,
) -> ProbeOutcome:
    """Connect with TLS (the server is not verified: its refusals are under test).
    ``ciphers``: offer only these TLS 1.2 suites (an OpenSSL cipher string)."""
    outcome = ProbeOutcome()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # Offering TLS 1.0/1.1 is the point of the legacy probe; Python warns about it.
        warnings.simplefilter("ignore", DeprecationWarning)
        if legacy:
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        if ciphers is not None:
            context.set_ciphers(ciphers)
        if minimum is not None:
            context.minimum_version = minimum
        if maximum is not None:
            context.maximum_version = maximum
    if credential is not None:
        load_chain_into(context, credential)
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT)
    except OSError as error:
        outcome.error = f"could not connect: {error}"
        return outcome
    outcome.connected = True
    outcome.client_port = raw.getsockname()[1]
    with contextlib.closing(raw):
        try:
            with context.wrap_socket(raw, server_hostname=sni) as tls:
                outcome.handshake_done = True
                outcome.tls_version = tls.version()
                outcome.received = _recv_some(tls)
        except ssl.SSLError as error:
            outcome.tls_error = _tls_error_text(error)
        except (TimeoutError, OSError) as error:
            outcome.error = f"{type(error).__name__}: {error}"
    return outcome


def plain_probe(port: int, *, payload: bytes | None, wait: float = 1.0) -> ProbeOutcome:
    """Plain TCP: first listen (a MySQL server speaks first), then optionally send bytes."""
    outcome = ProbeOutcome()
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT)
    except OSError as error:
        outcome.error = f"could not connect: {error}"
        return outcome
    outcome.connected = True
    outcome.client_port = sock.getsockname()[1]
    with contextlib.closing(sock):
        sock.settimeout(wait)
        with contextlib.suppress(TimeoutError):
            outcome.received = _recv_some(sock)
        if payload is not None and not outcome.received:
            sock.settimeout(PROBE_TIMEOUT)
            try:
                sock.sendall(payload)
                outcome.received = _recv_some(sock)
            except (TimeoutError, OSError) as error:
                outcome.error = f"{type(error).__name__}: {error}"
    return outcome


class LogWatch:
    """Reads the ``meshlink ...`` lines an HAProxy writes, to find one connection's fate."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[dict[str, str]]:
        try:
            text = self.path.read_text(errors="replace")
        except OSError:
            return []
        return [e for e in (parse_log_line(line) for line in text.splitlines()) if e]

    def mark(self) -> int:
        """Where the log stands: take it before a probe and pass it to :meth:`for_client`."""
        return len(self.entries())

    def for_client(
        self, side: str, client_port: int, *, since: int, timeout: float = 3.0
    ) -> list[dict[str, str]]:
        """The log entries of the connection from ``client_port`` logged after ``since``
        (waits for HAProxy). Only those: the kernel may have given the same client port to
        an earlier connection of the run, whose entries would otherwise answer first."""
        wanted = f"127.0.0.1:{client_port}"
        deadline = time.monotonic() + timeout
        while True:
            found = [
                e
                for e in self.entries()[since:]
                if e.get("side") == side and e.get("client") == wanted
            ]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.02)


@dataclass
class DecoyConnection:
    handshake_done: bool
    error: str | None


@dataclass
class DecoyServer:
    """A TLS server in place of the ingress, presenting a certificate it should not have."""

    credential: Credential
    port: int
    connections: list[DecoyConnection] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.verify_mode = ssl.CERT_OPTIONAL
        self._context.load_verify_locations(cadata=self.credential.trust_pem())
        load_chain_into(self._context, self.credential)
        self._lock = threading.Lock()

    def _serve(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(PROBE_TIMEOUT)
            try:
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(DECOY_PAYLOAD)
                    # Read until the peer hangs up: a TLS 1.3 client reports a bad server
                    # certificate in an alert that arrives after the server's flight.
                    while tls.recv(4096):
                        pass
                    record = DecoyConnection(True, None)
            except ssl.SSLError as error:
                record = DecoyConnection(False, _tls_error_text(error))
            except OSError as error:
                record = DecoyConnection(False, f"{type(error).__name__}: {error}")
            finally:
                conn.close()
            with self._lock:
                self.connections.append(record)

    @contextlib.contextmanager
    def running(self) -> Iterator[DecoyServer]:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        listener.settimeout(0.1)
        thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=PROBE_TIMEOUT + 1)
            listener.close()

    def wait_for_connection(self, count: int, timeout: float = 3.0) -> DecoyConnection | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.connections) >= count:
                    return self.connections[count - 1]
            time.sleep(0.02)
        return None


Predicate = Callable[[ProbeOutcome, list[dict[str, str]]], bool]

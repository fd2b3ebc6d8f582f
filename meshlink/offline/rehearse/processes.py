"""The real programs the rehearsal runs, each started and always stopped by it.

Every wait has a deadline and every process is stopped (TERM, then KILL) when its
context exits, failure or not, so a hung server cannot hang CI or outlive the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT = 5.0
START_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class ToolsMissingError(RuntimeError):
    """A program the rehearsal runs is not installed."""


class ProcessError(RuntimeError):
    """A program did not start, or a command failed; the message quotes its log tail."""


@dataclass(frozen=True)
class Tools:
    mariadbd: str
    install_db: str
    mariadb: str
    haproxy: str


def _which(*names: str) -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(_SBIN)
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


def find_tools() -> Tools:
    found = {
        "mariadbd": _which("mariadbd", "mysqld"),
        "install_db": _which("mariadb-install-db", "mysql_install_db"),
        "mariadb": _which("mariadb", "mysql"),
        "haproxy": _which("haproxy"),
    }
    missing = [name for name, path in found.items() if path is None]
    if missing:
        packages = {
            "mariadbd": "mariadb-server",
            "install_db": "mariadb-server",
            "mariadb": "mariadb-client",
            "haproxy": "haproxy",
        }
        wanted = sorted({packages[m] for m in missing})
        raise ToolsMissingError(
            f"not installed: {', '.join(missing)}; install the Debian packages "
            f"{' '.join(wanted)} (scripts/ensure-rehearsal-tools.sh does it)"
        )
    return Tools(**{k: v for k, v in found.items() if v is not None})


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10000


def ephemeral_port_range() -> range:
    """The ports the kernel hands out to outgoing connections (Linux's default when the
    setting cannot be read)."""
    try:
        low, high = (int(v) for v in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports below the ephemeral range, held open together so none
    is handed out twice. Below it, because a port is chosen here before its server binds
    it, and in between, any outgoing connection of the run (a probe, HAProxy, a client)
    could be given that very port by the kernel if it were an ephemeral one."""
    ephemeral = ephemeral_port_range()
    candidates = list(range(LOWEST_PORT, ephemeral.start))
    random.shuffle(candidates)
    held: list[socket.socket] = []
    try:
        for port in candidates:
            if len(held) == count:
                break
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
        if len(held) < count:
            raise ProcessError(
                f"only {len(held)} of {count} loopback ports are free between {LOWEST_PORT} "
                f"and {ephemeral.start - 1}"
            )
        return [s.getsockname()[1] for s in held]
    finally:
        for sock in held:
            sock.close()


def listening_ports() -> set[int]:
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            next(handle, None)
            for line in handle:
                fields = line.split()
                if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:
    """In the child before exec: on Linux, have the kernel send SIGTERM when the parent
    dies, so a rehearsal killed outright (SIGKILL, a CI timeout) leaves no server behind."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class ManagedProcess:
    """A child in its own process group, logging to a file, stopped on exit."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, cwd: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ManagedProcess:
        with open(self.log, "ab") as handle:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=handle,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        # The child leads its own group (start_new_session), so this reaches its workers
        # and nothing else.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)

    def wait_listening(self, ports: Sequence[int], timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        wanted = set(ports)
        while time.monotonic() < deadline:
            if not self.running():
                raise ProcessError(f"{self.name} exited during start-up:\n{tail(self.log)}")
            if wanted <= listening_ports():
                return
            time.sleep(0.05)
        raise ProcessError(
            f"{self.name} did not listen on {sorted(wanted)} within {timeout:.0f} s:\n"
            f"{tail(self.log)}"
        )


def run_command(
    argv: Sequence[str],
    *,
    what: str,
    input_text: str | None = None,
    timeout: float = COMMAND_TIMEOUT,
    env: dict[str, str] | None = None,
) -> str:
    try:
        result = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise ProcessError(f"{what}: no answer within {timeout:.0f} s") from None
    if result.returncode != 0:
        raise ProcessError(
            f"{what}: exit status {result.returncode}\n{result.stderr.strip()[-2000:]}"
        )
    return result.stdout


def _as_root() -> list[str]:
    # MariaDB refuses to run as root unless told to; elsewhere it runs as the caller.
    return ["--user=root"] if os.geteuid() == 0 else []


@dataclass
class MariaDB:
    """A throw-away MariaDB server on loopback with one password user for the link."""

    tools: Tools
    directory: Path
    port: int
    user: str = "rehearsal"
    database: str = "rehearsal"

    def __post_init__(self) -> None:
        self.password = secrets.token_urlsafe(18)
        self.datadir = self.directory / "data"
        self.socket = self.directory / "mariadb.sock"
        self.log = self.directory / "mariadb.log"
        self.client_config = self.directory / "client.cnf"

    def _client(self, *extra: str) -> list[str]:
        # A defaults file, so the password is in no argv (visible to ps) nor the environment.
        return [self.tools.mariadb, f"--defaults-file={self.client_config}", *extra]

    @contextlib.contextmanager
    def running(self) -> Iterator[MariaDB]:
        self.datadir.mkdir(parents=True)
        run_command(
            [
                self.tools.install_db,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                "--skip-name-resolve",
                *_as_root(),
            ],
            what="mariadb-install-db",
        )
        argv = [
            self.tools.mariadbd,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--skip-ssl",  # the link's TLS is under test, not MariaDB's
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            f"--pid-file={self.directory / 'mariadb.pid'}",
            f"--log-error={self.log}",
            *_as_root(),
        ]
        with ManagedProcess("mariadbd", argv, self.directory / "mariadbd.out", self.directory) as p:
            try:
                p.wait_listening([self.port])
            except ProcessError as error:
                raise ProcessError(f"{error}\n{tail(self.log)}") from None
            fd = os.open(self.client_config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(
                    "[client]\n"
                    f"user={self.user}\n"
                    f"password={self.password}\n"
                    f"database={self.database}\n"
                    "skip-ssl\n"
                    "connect-timeout=10\n"
                )
            run_command(
                [self.tools.mariadb, "--no-defaults", f"--socket={self.socket}", "--user=root"],
                what="creating the rehearsal user",
                input_text=(
                    f"CREATE DATABASE {self.database};\n"
                    f"CREATE USER '{self.user}'@'127.0.0.1' IDENTIFIED BY '{self.password}';\n"
                    f"GRANT ALL ON {self.database}.* TO '{self.user}'@'127.0.0.1';\n"
                ),
            )
            yield self

    def query(self, port: int, sql: str, *, what: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Run ``sql`` with the real ``mariadb`` client against ``127.0.0.1:port``."""
        return run_command(
            self._client(
                "--host=127.0.0.1",
                f"--port={port}",
                "--protocol=TCP",
                "--batch",
                "--raw",
                "--skip-column-names",
            ),
            what=what,
            input_text=sql,
            timeout=timeout,
        )

"""The positive check: rows written and read back through the link, compared with what
MariaDB holds, and the ingress log showing the sessions took the link."""

from __future__ import annotations

import hashlib
import time
from typing import Protocol

from meshlink.offline.rehearse.layout import LOG_WAIT
from meshlink.offline.rehearse.probes import LogWatch
from meshlink.offline.rehearse.processes import MariaDB
from meshlink.offline.rehearse.results import PositiveResult

ROWS = 3000


class _Named(Protocol):
    @property
    def fqdn(self) -> str: ...


class RehearsedLink(Protocol):
    """What the positive check needs of a link's layout: a meshlink link's
    (:class:`~meshlink.offline.rehearse.layout.Layout`) or a partner endpoint's."""

    @property
    def index(self) -> int: ...
    @property
    def plan(self) -> _Named: ...
    @property
    def egress_port(self) -> int: ...
    @property
    def ingress_name(self) -> str: ...


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


def _write_statements(table: str, data: list[tuple[int, str, str, int]]) -> str:
    """The SQL that creates ``table`` afresh and inserts ``data``, 500 rows a statement."""
    statements = [
        f"DROP TABLE IF EXISTS {table};",
        f"CREATE TABLE {table} (id INT PRIMARY KEY, label VARCHAR(64) NOT NULL, "
        "payload CHAR(64) NOT NULL, amount BIGINT NOT NULL) ENGINE=InnoDB;",
    ]
    for start in range(0, len(data), 500):
        values = ",".join(
            f"({i},'{label}','{payload}',{amount})"
            for i, label, payload, amount in data[start : start + 500]
        )
        # Every value is generated above (digits and hex), none comes from outside.
        statements.append(f"INSERT INTO {table} (id, label, payload, amount) VALUES {values};")  # noqa: S608
    return "\n".join(statements) + "\n"


def _allowed_sessions(ingress_log: LogWatch, layout: RehearsedLink) -> list[dict[str, str]]:
    return [
        e
        for e in ingress_log.entries()
        if e.get("link") == layout.ingress_name and e.get("san_verdict") == "allowed"
    ]


def _sessions_logged(
    ingress_log: LogWatch, layout: RehearsedLink, *, before: int
) -> list[dict[str, str]]:
    """The allowed sessions once two more than ``before`` are logged, or LOG_WAIT passed:
    HAProxy logs a session when it ends, a moment after the client has gone."""
    deadline = time.monotonic() + LOG_WAIT
    sessions = _allowed_sessions(ingress_log, layout)
    while len(sessions) - before < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        sessions = _allowed_sessions(ingress_log, layout)
    return sessions


def _detail(
    passed: bool,
    rows: int,
    through: int,
    last: dict[str, str],
    digests: tuple[str, str, str],
) -> str:
    """``digests``: what was written, what was read back, what MariaDB holds."""
    written, read_sha, direct_sha = digests
    if passed:
        return (
            f"{rows} rows written and read back through the link; sha256 matches what was "
            f"written and what MariaDB holds ({through} sessions through the ingress, "
            f"{last.get('tls', '?')}, client {last.get('client_sans', '?')})"
        )
    if through < 2:
        return "the ingress log does not show the sessions: the traffic did not take the link"
    return (
        f"checksums differ: written {written[:12]}, read back {read_sha[:12]}, "
        f"in MariaDB {direct_sha[:12]}"
    )


def positive_check(
    db: MariaDB, layout: RehearsedLink, ingress_log: LogWatch, *, rows: int = ROWS
) -> PositiveResult:
    table = f"link{layout.index}_rows"
    data = _rows(layout.plan.fqdn, rows)
    expected = "".join(f"{i}\t{label}\t{payload}\t{amount}\n" for i, label, payload, amount in data)
    select = f"SELECT id, label, payload, amount FROM {table} ORDER BY id;\n"  # noqa: S608
    before = len(_allowed_sessions(ingress_log, layout))
    db.query(layout.egress_port, _write_statements(table, data), what="writing through the link")
    read_back = db.query(layout.egress_port, select, what="reading back through the link")
    direct = db.query(db.port, select, what="reading directly from MariaDB")
    sessions = _sessions_logged(ingress_log, layout, before=before)
    through = len(sessions) - before
    last = sessions[-1] if sessions else {}
    written, read_sha, direct_sha = _digest(expected), _digest(read_back), _digest(direct)
    passed = written == read_sha == direct_sha and through >= 2
    return PositiveResult(
        rows=rows,
        written_sha256=written,
        read_back_sha256=read_sha,
        direct_sha256=direct_sha,
        sessions_through_ingress=through,
        tls_version=last.get("tls", ""),
        client_identity=last.get("client_sans", ""),
        passed=passed,
        detail=_detail(passed, rows, through, last, (written, read_sha, direct_sha)),
    )

"""The positive check: rows written and read back through the link, compared with what
MariaDB holds, and the ingress log showing the sessions took the link."""

from __future__ import annotations

import hashlib
import time

from meshlink.offline.rehearse.layout import LOG_WAIT, Layout
from meshlink.offline.rehearse.probes import LogWatch
from meshlink.offline.rehearse.processes import MariaDB
from meshlink.offline.rehearse.results import PositiveResult

ROWS = 3000


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
    db: MariaDB, layout: Layout, ingress_log: LogWatch, *, rows: int = ROWS
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

"""Telling the rehearsal's connections apart: the stand-ins' ports are chosen below the
kernel's ephemeral range (between being chosen and being bound, no outgoing connection of
the run can be given one of them), and a probe's log entries are only those logged after
it started (the kernel may give a later probe the client port of an earlier connection)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from meshlink.offline.rehearse import processes
from meshlink.offline.rehearse.probes import LogWatch


def test_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    ephemeral = processes.ephemeral_port_range()
    ports = processes.free_ports(40)
    assert len(set(ports)) == 40
    assert all(processes.LOWEST_PORT <= port < ephemeral.start for port in ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_the_kernel_setting_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("40000\t50000\n")
    monkeypatch.setattr(processes, "EPHEMERAL_RANGE_FILE", setting)
    assert processes.ephemeral_port_range() == range(40000, 50001)


def test_too_few_free_ports_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    start = processes.LOWEST_PORT + 2
    monkeypatch.setattr(processes, "ephemeral_port_range", lambda: range(start, start + 100))
    with pytest.raises(processes.ProcessError, match=r"only [0-2] of 3 loopback ports are free"):
        processes.free_ports(3)


def test_a_connection_s_log_entries_are_those_logged_after_the_mark(tmp_path: Path) -> None:
    """An earlier connection that had the same client port does not answer for a later one."""
    log_file = tmp_path / "haproxy.log"
    log_file.write_text(
        "meshlink event=session side=egress link=a client=127.0.0.1:20001 state=-- "
        'bytes_to_client=5 server_ssl_error=""\n'
    )
    log = LogWatch(log_file)
    mark = log.mark()
    with log_file.open("a") as handle:
        handle.write(
            "meshlink event=session side=egress link=a client=127.0.0.1:20001 state=SD "
            'bytes_to_client=0 server_ssl_error="certificate verify failed"\n'
        )
    (entry,) = log.for_client("egress", 20001, since=mark, timeout=0)
    assert entry["server_ssl_error"] == "certificate verify failed"
    assert len(log.for_client("egress", 20001, since=0, timeout=0)) == 2

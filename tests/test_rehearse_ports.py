"""The stand-ins' ports are chosen below the kernel's ephemeral range: between being chosen
and being bound, no outgoing connection of the rehearsal can be given one of them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from meshlink.offline.rehearse import processes


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

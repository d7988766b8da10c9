"""The supervisor's port probe: a port whose previous connections sit in TIME-WAIT is
free (a restart right after a crash must start); a port with a live listener is not."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from ogcsdl.config import Settings
from ogcsdl.server.supervisor import StartupError, check_ports_free
from tests.ports import free_port


def _settings(tmp_path: Path, port: int, port_wait_s: float = 10) -> Settings:
    return Settings(
        data_dir=tmp_path,
        server={"port": port, "port_wait_s": port_wait_s},
        catalogue={"port": free_port()},
        cluster={"port": free_port()},
        render={"port": free_port()},
    )


def _leave_time_wait(port: int) -> None:
    """A server on ``port`` that closes its accepted connection first, then stops."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: it goes to TIME-WAIT
        client.recv(1)
        client.close()


def test_time_wait_does_not_block_a_restart(tmp_path: Path) -> None:
    port = free_port()
    _leave_time_wait(port)
    check_ports_free(_settings(tmp_path, port), wait_s=0)


def test_a_live_listener_is_refused_after_the_wait(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(StartupError, match=f"port {port} \\(server.port\\) is already in use"):
            check_ports_free(_settings(tmp_path, port), wait_s=0.5)


def test_the_wait_is_the_configured_one(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).server.port_wait_s == 10
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        started = time.monotonic()
        with pytest.raises(StartupError, match=f"port {port} \\(server.port\\) is already in use"):
            check_ports_free(_settings(tmp_path, port, port_wait_s=0.3))
        assert 0.3 <= time.monotonic() - started < 9  # server.port_wait_s, not the default 10 s

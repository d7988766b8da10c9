"""Loopback ports for the servers tests start.

Asking the kernel for port 0 and releasing it (the usual trick) races: the port is taken
from the *ephemeral* range, the same range every outgoing connection (a client to
PostgreSQL, to a gateway, ...) draws its local port from. Between choosing and binding,
another process's outgoing connection could take the port, and a gunicorn then failed
with "Connection in use" (seen under two pytest-xdist workers). Ports here come from
below the ephemeral range, which outgoing connections never use, and each xdist worker
draws from its own slice, so two workers never pick the same port."""

from __future__ import annotations

import itertools
import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path

_POOL_SIZE = 12000


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def _worker_slice() -> range:
    """This process's ports: the pool below the ephemeral range, split between workers."""
    low, high = _ephemeral_range()
    start = low - _POOL_SIZE if low - _POOL_SIZE >= 1024 else high + 1
    stop = min(start + _POOL_SIZE, 65536)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker) if worker.isdigit() else 0
    width = (stop - start) // max(count, 1)
    return range(start + index * width, start + (index + 1) * width)


def _kernel_chosen() -> Iterator[int]:
    """The fallback when the ephemeral range leaves no room: ports the kernel picks."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            yield int(sock.getsockname()[1])


def _candidates() -> Iterator[int]:
    ports = _worker_slice()
    if len(ports) < 100:
        return _kernel_chosen()
    # A random start, so two separate test runs on one machine rarely walk the same ports.
    first = random.randrange(len(ports))
    return itertools.cycle([*ports[first:], *ports[:first]])


_next_candidate = _candidates()


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nothing listens on, not handed out before in this process."""
    for _ in range(_POOL_SIZE):
        port = next(_next_candidate)
        if _bindable(port):
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")

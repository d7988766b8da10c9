"""CPU seconds of the processes a catalogue benchmark run involves (this one, a
suite's web servers, the PostgreSQL server with its backends, live or reaped): figures
a busy shared machine does not inflate as it does wall-clock time."""

from __future__ import annotations

import time

import psutil
import psycopg


def postmaster_of(database_url: str) -> psutil.Process | None:
    """The PostgreSQL server process when it runs on this machine (its reaped backends'
    CPU time is added to its children's), else None."""
    try:
        with psycopg.connect(database_url) as conn:  # the backend lives while it is open
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            return psutil.Process(psutil.Process(int(row[0])).ppid()) if row else None
    except (psutil.Error, psycopg.Error):
        return None


def _seconds(process: psutil.Process, children: bool) -> float:
    times = process.cpu_times()
    own = times.user + times.system
    return own + (times.children_user + times.children_system if children else 0.0)


def _summed(processes: list[psutil.Process]) -> float:
    """CPU seconds of ``processes``; one that ended (or is a zombie) meanwhile counts
    nothing here, and the others still count (its time moves to its parent's children
    once reaped)."""
    total = 0.0
    for process in processes:
        try:
            total += _seconds(process, children=False)
        except psutil.Error:
            continue
    return total


def _reaped(postmaster: psutil.Process, timeout_s: float = 2.0) -> None:
    """Wait (briefly) until no backend of the server is a zombie: an ended backend
    shows no CPU time until the server reaps it, and then all of it at once in the
    server's children times: a harvest's one connection, closed as the run ends, would
    be counted in the next sample's window instead of its own."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if not any(child.status() == psutil.STATUS_ZOMBIE for child in postmaster.children()):
                return
        except psutil.Error:
            pass
        time.sleep(0.01)


def cpu_seconds(remote_pid: int, postmaster: psutil.Process | None) -> tuple[float, float, float]:
    """CPU seconds so far of this process (every thread: the harvest and its fetch
    thread), of the remote suite's web servers (its gunicorn processes: gateway, pycsw;
    not its idle Dask cluster) and of the PostgreSQL server (the server and its
    backends, live or reaped): a figure that does not depend on how busy the machine
    is, unlike records per wall-clock second."""
    ours = _seconds(psutil.Process(), children=False)
    try:
        servers = [
            process
            for process in psutil.Process(remote_pid).children(recursive=True)
            if any("gunicorn" in part for part in process.cmdline())
        ]
    except psutil.Error:
        servers = []
    remote = _summed(servers)
    database = 0.0
    if postmaster is not None:
        _reaped(postmaster)
        try:
            database = _seconds(postmaster, children=True)
            database += _summed(postmaster.children())
        except psutil.Error:
            pass
    return ours, remote, database

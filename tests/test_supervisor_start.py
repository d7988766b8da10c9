"""The supervisor's start-up: a stop asked for (SIGTERM, Ctrl-C) while the children are
still starting is a clean stop, not a start-up failure.

A client (or a test) may find the gateway answering before the supervisor's own readiness
poll does, use it, and stop the suite. Under load the supervisor then reported "gateway did
not answer in time" and exited 2 (seen in a loaded test run of `ogcsdl demo`)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ogcsdl.config import Settings
from ogcsdl.server.children import ChildSpec
from ogcsdl.server.supervisor import Supervisor
from tests.ports import free_port


def _never_answers(name: str) -> ChildSpec:
    """A child that runs but never answers its ready URL (nothing listens there)."""
    return ChildSpec(
        name,
        [sys.executable, "-c", "import time; time.sleep(120)"],
        ready_url=f"http://127.0.0.1:{free_port()}/",
    )


@pytest.mark.parametrize("waiting_for", ["a back-end", "the gateway"])
def test_a_stop_while_children_start_stops_them_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waiting_for: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        server={"port": free_port()},
        catalogue={"port": free_port()},
        cluster={"port": free_port()},
        render={"port": free_port()},
    )
    supervisor = Supervisor(settings, tmp_path / "ogcsdl.toml", ready_timeout_s=60)
    backend = _never_answers("backend")
    if waiting_for == "the gateway":
        backend = ChildSpec("backend", backend.argv)  # no ready URL: up at once
    monkeypatch.setattr(supervisor, "specs", lambda: [backend, _never_answers("gateway")])
    waited_on = "backend" if waiting_for == "a back-end" else "gateway"
    stopper = threading.Timer(0.2, supervisor.request_stop, args=(signal.SIGTERM, None))
    spawn = supervisor._spawn

    def spawn_then_stop_soon(spec: ChildSpec) -> subprocess.Popen[bytes]:
        process = spawn(spec)
        if spec.name == waited_on:  # it never answers: the stop lands while it is awaited
            stopper.start()
        return process

    monkeypatch.setattr(supervisor, "_spawn", spawn_then_stop_soon)
    started = time.monotonic()
    try:
        supervisor.start()  # returns once the stop is asked for: no StartupError
        assert supervisor.stop_requested
        assert time.monotonic() - started < 30  # not the 60 s ready timeout
        names = [spec.name for spec, _ in supervisor.children]
        assert names == (["backend"] if waiting_for == "a back-end" else ["backend", "gateway"])
        assert supervisor.watchdog is None  # nothing more is started after the stop
        processes = [process for _, process in supervisor.children]
    finally:
        stopper.cancel()
        supervisor.stop()
    assert all(process.returncode is not None for process in processes)

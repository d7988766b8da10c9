"""The suite's life cycle, on one data directory through three boots of ``ogcsdl serve``
(each boot of the whole suite costs ~10 s on 2 cores, so the four life-cycle checks
share them instead of booting six times):

1. SIGTERM stops every child (exit 0, within 30 s) even with a job running;
2. after a restart finished jobs keep their status and results, and the job the stop
   interrupted is failed with its reason (not re-queued);
3. ``ogcsdl serve`` killed by SIGKILL (no clean-up at all) comes back at once on the same
   ports (its children died with it; connections in TIME-WAIT do not block), and the job
   the crash interrupted is failed with its reason (the restart's, or the dead worker's
   when the worker died first) instead of staying ``running``;
4. /health is 503 naming the component when a child dies (the renderer), while the rest
   of the suite keeps serving.

TIME-WAIT after a clean stop, without a boot: tests/test_supervisor_ports.py."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
import requests

from ogcsdl.jobs.cluster import INTERRUPTED, WORKER_DIED
from tests.live import LiveSuite, one_worker_each, start_suite, stop_suite, write_config
from tests.processing_standin import EXTRA as PROCESSORS
from tests.processing_support import wait_for

pytestmark = pytest.mark.live
EXTRA = one_worker_each({"processing": {"extra_processors": PROCESSORS}})


def _connections(base_url: str, count: int = 30) -> None:
    """Short connections the server closes first: they leave its side in TIME-WAIT."""
    for _ in range(count):
        response = requests.get(base_url + "/", headers={"Connection": "close"}, timeout=30)
        assert response.status_code == 200


def _start_slow_job(suite: LiveSuite) -> str:
    """A 120 s job, once it is running; returns its URL."""
    running = requests.post(
        suite.url("ogcapi/processes/slow/execution"),
        json={"inputs": {"seconds": 120}},
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    job_url = str(running.headers["Location"])
    wait_for(lambda: requests.get(job_url, timeout=30).json()["status"] == "running", 180)
    return job_url


def _sigterm_stops_every_child(suite: LiveSuite) -> None:
    children = psutil.Process(suite.process.pid).children(recursive=True)
    assert children, "the supervisor should have started child processes"
    started = time.monotonic()
    assert stop_suite(suite) == 0, suite.log_tail()
    assert time.monotonic() - started < 30

    def alive() -> list[int]:
        running = []
        for child in children:
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    running.append(child.pid)
            except psutil.NoSuchProcess:  # gone (is_running() then status() races)
                pass
        return running

    # The supervisor waits for its own children; their children (gunicorn and Dask workers)
    # may still be exiting when it returns, on a loaded machine for more than a moment.
    try:
        wait_for(lambda: not alive(), timeout_s=10)
    except AssertionError:
        raise AssertionError(f"children still running 10 s after the suite stopped: {alive()}")


def _health_is_503_when_a_component_dies(suite: LiveSuite) -> None:
    renderer = [
        child
        for child in psutil.Process(suite.process.pid).children()
        if any("renderer_app" in part for part in child.cmdline())
    ]
    assert len(renderer) == 1
    renderer[0].kill()
    renderer[0].wait(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = requests.get(suite.url("health"), timeout=30)
        if response.status_code == 503:
            break
        time.sleep(0.3)
    report = response.json()
    assert response.status_code == 503, report
    assert report["status"] == "down"
    assert report["components"]["renderer"]["status"] == "down"
    assert report["components"]["renderer"]["reason"]
    assert report["components"]["database"]["status"] == "up"
    # the rest of the suite keeps serving
    assert requests.get(suite.url("/"), timeout=30).status_code == 200


def test_stop_restart_crash_and_a_dead_component(tmp_path: Path) -> None:
    config_file = write_config(tmp_path, EXTRA)

    # Boot 1: a finished job and a running one, then a clean stop (SIGTERM).
    suite = start_suite(config_file)
    try:
        done = requests.post(
            suite.url("ogcapi/processes/echo/execution"),
            json={"inputs": {"stringInput": "kept"}},
            timeout=60,
        )
        assert done.status_code == 200
        done_id = done.headers["Location"].rsplit("/", 1)[-1]
        stopped_url = _start_slow_job(suite)
        stopped_id = stopped_url.rsplit("/", 1)[-1]
        _sigterm_stops_every_child(suite)
    finally:
        stop_suite(suite)

    # Boot 2: what the stop kept and what it interrupted; then a crash (SIGKILL).
    suite = start_suite(config_file)
    try:
        kept = requests.get(suite.url(f"ogcapi/jobs/{done_id}"), timeout=30).json()
        assert kept["status"] == "successful"
        results = requests.get(suite.url(f"ogcapi/jobs/{done_id}/results"), timeout=30).json()
        assert results["stringOutput"] == "kept"
        interrupted = requests.get(suite.url(f"ogcapi/jobs/{stopped_id}"), timeout=30).json()
        assert (interrupted["status"], interrupted["message"]) == ("failed", INTERRUPTED)
        again = requests.get(suite.url(f"ogcapi/jobs/{stopped_id}/results"), timeout=30)
        assert again.status_code >= 400 and INTERRUPTED in again.json()["detail"]

        _connections(suite.base_url)
        crashed_url = _start_slow_job(suite)
        suite.process.kill()  # SIGKILL: the supervisor cleans nothing up
        suite.process.wait(timeout=30)

        # Boot 3: right after the crash, on the same ports.
        suite = start_suite(config_file)  # no "already in use", no wait for ports
        job = requests.get(crashed_url, timeout=30).json()
        # The crash kills the cluster's processes in no fixed order: when the worker
        # dies before its scheduler, the job is failed as WORKER_DIED before the
        # restart can fail it as INTERRUPTED. Either way it ended with its reason.
        assert job["status"] == "failed"
        assert job["message"] in (INTERRUPTED, WORKER_DIED)
        _connections(suite.base_url, 3)
        _health_is_503_when_a_component_dies(suite)
    finally:
        stop_suite(suite)
    log = suite.log_file.read_text(errors="replace")
    assert "is already in use: stop the program" not in log

"""Restart right after a crash: ``ogcsdl serve`` killed (SIGKILL, no clean-up at all)
comes back at once on the same ports (its children died with it; connections in
TIME-WAIT do not block), and a job the crash interrupted ends failed with its reason
instead of staying ``running``."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from ogcsdl.jobs.cluster import INTERRUPTED
from tests.live import start_suite, stop_suite, write_config
from tests.processing_standin import EXTRA as PROCESSORS
from tests.processing_support import wait_for

pytestmark = pytest.mark.live
EXTRA = {"processing": {"extra_processors": PROCESSORS}}


def _connections(base_url: str, count: int = 30) -> None:
    """Short connections the server closes first: they leave its side in TIME-WAIT."""
    for _ in range(count):
        response = requests.get(base_url + "/", headers={"Connection": "close"}, timeout=30)
        assert response.status_code == 200


def test_serve_starts_again_right_after_sigkill(tmp_path: Path) -> None:
    # (TIME-WAIT after a clean SIGTERM stop: tests/test_supervisor_ports.py)
    config_file = write_config(tmp_path, EXTRA)
    suite = start_suite(config_file)
    try:
        _connections(suite.base_url)
        running = requests.post(
            suite.url("ogcapi/processes/slow/execution"),
            json={"inputs": {"seconds": 120}},
            headers={"Prefer": "respond-async"},
            timeout=30,
        )
        job_url = running.headers["Location"]
        wait_for(lambda: requests.get(job_url, timeout=30).json()["status"] == "running", 60)
        suite.process.kill()  # SIGKILL: the supervisor cleans nothing up
        suite.process.wait(timeout=10)
        suite = start_suite(config_file, timeout_s=60)
        job = requests.get(job_url, timeout=30).json()
        assert (job["status"], job["message"]) == ("failed", INTERRUPTED)
        _connections(suite.base_url, 3)
    finally:
        stop_suite(suite)
    log = suite.log_file.read_text(errors="replace")
    assert "is already in use: stop the program" not in log

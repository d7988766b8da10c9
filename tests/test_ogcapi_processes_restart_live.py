"""Kill and restart the suite: finished jobs keep status and results; jobs that were
running are marked failed with the reason (not re-queued)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from ogcsdl.jobs.cluster import INTERRUPTED
from tests.live import run_suite
from tests.processing_standin import EXTRA as PROCESSORS
from tests.processing_support import wait_for

pytestmark = pytest.mark.live
EXTRA = {"processing": {"extra_processors": PROCESSORS}}


def test_restart_keeps_finished_jobs_and_fails_interrupted_ones(tmp_path: Path) -> None:
    with run_suite(tmp_path, EXTRA) as suite:
        done = requests.post(
            suite.url("ogcapi/processes/echo/execution"),
            json={"inputs": {"stringInput": "kept"}},
            timeout=60,
        )
        assert done.status_code == 200
        done_id = done.headers["Location"].rsplit("/", 1)[-1]
        running = requests.post(
            suite.url("ogcapi/processes/slow/execution"),
            json={"inputs": {"seconds": 120}},
            headers={"Prefer": "respond-async"},
            timeout=30,
        )
        running_url = running.headers["Location"]
        running_id = running_url.rsplit("/", 1)[-1]
        wait_for(
            lambda: requests.get(running_url, timeout=30).json()["status"] == "running",
            timeout_s=60,
        )
    with run_suite(tmp_path, EXTRA) as suite:
        kept = requests.get(suite.url(f"ogcapi/jobs/{done_id}"), timeout=30).json()
        assert kept["status"] == "successful"
        results = requests.get(suite.url(f"ogcapi/jobs/{done_id}/results"), timeout=30).json()
        assert results["stringOutput"] == "kept"
        interrupted = requests.get(suite.url(f"ogcapi/jobs/{running_id}"), timeout=30).json()
        assert (interrupted["status"], interrupted["message"]) == ("failed", INTERRUPTED)
        again = requests.get(suite.url(f"ogcapi/jobs/{running_id}/results"), timeout=30)
        assert again.status_code >= 400 and INTERRUPTED in again.json()["detail"]

"""A Dask worker killed mid-job (SIGKILL), on an external ``dask scheduler`` + ``dask
worker`` cluster and on the suite's embedded cluster child, and a task the scheduler
forgot: each job ends ``failed`` with its reason within a bounded time instead of
staying ``running`` forever, and the cluster keeps running new jobs."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import requests

from ogcsdl.jobs.cluster import LOST, WORKER_DIED, JobWatchdog
from ogcsdl.jobs.executor import JobRunner
from ogcsdl.jobs.store import Job
from tests.live import LiveSuite
from tests.processing_support import processing_settings, wait_for

pytestmark = pytest.mark.live
FAST_WATCHDOG = {"watchdog_interval_s": 0.5, "lost_job_grace_s": 3}
BOUND_S = 120  # a job must end this soon after its worker died (a loaded 2-core CI)


@pytest.fixture
def scheduler(dask_scheduler: str) -> str:
    return dask_scheduler  # the session's external cluster (tests/conftest.py)


def _running(runner: JobRunner) -> Job:
    job = runner.start("slow", {"seconds": 120}, "ogcapi")
    wait_for(lambda: runner.store.get(job.job_id).progress >= 2, timeout_s=180)
    return job


def _kill_worker_running(client: Any, key: str) -> None:
    processing = client.processing()
    worker = next(address for address, keys in processing.items() if key in keys)
    pid = client.run(os.getpid, workers=[worker])[worker]
    os.kill(pid, signal.SIGKILL)


def _ended(runner: JobRunner, job_id: str) -> Job:
    return wait_for(
        lambda: (job := runner.store.get(job_id)).is_finished and job, timeout_s=BOUND_S
    )


def _assert_cluster_still_works(runner: JobRunner) -> None:
    echo = runner.start("echo", {"stringInput": "after"}, "ogcapi")
    assert runner.wait(echo.job_id, timeout_s=90).status == "successful"


def test_worker_killed_on_an_external_cluster(tmp_path: Path, scheduler: str) -> None:
    settings = processing_settings(tmp_path / "var", scheduler, cluster=FAST_WATCHDOG)
    runner, watchdog = JobRunner(settings), JobWatchdog(settings).start()
    try:
        job = _running(runner)
        _kill_worker_running(runner.client, job.job_id)
        ended = _ended(runner, job.job_id)
        assert (ended.status, ended.error) == ("failed", WORKER_DIED)
        _assert_cluster_still_works(runner)
    finally:
        watchdog.stop()
        runner.close()


def test_task_the_scheduler_forgot(tmp_path: Path, scheduler: str) -> None:
    from distributed import Future

    settings = processing_settings(tmp_path / "var", scheduler, cluster=FAST_WATCHDOG)
    runner, watchdog = JobRunner(settings), JobWatchdog(settings).start()
    try:
        job = _running(runner)
        runner.client.cancel([Future(job.job_id, runner.client)], force=True)
        ended = _ended(runner, job.job_id)
        assert ended.status == "failed" and ended.error in (LOST, WORKER_DIED)
        _assert_cluster_still_works(runner)
    finally:
        watchdog.stop()
        runner.close()


def test_worker_killed_on_the_embedded_cluster(processing_suite: LiveSuite) -> None:
    """Through the whole suite: its embedded LocalCluster, its watchdog, over HTTP."""
    from distributed import Client

    response = requests.post(
        processing_suite.url("ogcapi/processes/slow/execution"),
        json={"inputs": {"seconds": 120}},
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    job_url = response.headers["Location"]
    job_id = job_url.rsplit("/", 1)[-1]
    wait_for(lambda: requests.get(job_url, timeout=30).json()["progress"] >= 2, timeout_s=180)
    address = processing_suite.settings.scheduler_address
    with Client(address, timeout=10, set_as_default=False) as client:
        workers = len(client.scheduler_info()["workers"])
        _kill_worker_running(client, job_id)
        ended = wait_for(
            lambda: (
                (job := requests.get(job_url, timeout=30).json())["status"]
                not in ("accepted", "running")
                and job
            ),
            timeout_s=BOUND_S,
        )
        assert (ended["status"], ended["message"]) == ("failed", WORKER_DIED)
        # the nanny restarts the worker; the suite goes on running jobs
        wait_for(lambda: len(client.scheduler_info()["workers"]) == workers, timeout_s=60)
    echo = requests.post(
        processing_suite.url("ogcapi/processes/echo/execution"),
        json={"inputs": {"stringInput": "after"}},
        timeout=120,
    )
    assert echo.status_code == 200

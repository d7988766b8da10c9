"""A Dask worker killed mid-job (SIGKILL), on an external ``dask scheduler`` + ``dask
worker`` cluster and on the suite's embedded cluster child, and a task the scheduler
forgot: each job ends ``failed`` with its reason within a bounded time instead of
staying ``running`` forever, and the cluster keeps running new jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ogcsdl.config import Settings
from ogcsdl.jobs.cluster import LOST, JobWatchdog, cluster_workers
from ogcsdl.jobs.executor import WORKER_DIED, JobRunner
from ogcsdl.jobs.store import Job
from tests.live import free_port
from tests.processing_standin import EXTRA
from tests.processing_support import (
    external_dask_cluster,
    processing_settings,
    subprocess_env,
    wait_for,
)

pytestmark = pytest.mark.live
FAST_WATCHDOG = {"watchdog_interval_s": 0.5, "lost_job_grace_s": 3}
BOUND_S = 60  # a job must end this soon after its worker died


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with external_dask_cluster(tmp_path_factory.mktemp("dask-faults")) as address:
        yield address


def _running(runner: JobRunner) -> Job:
    job = runner.start("slow", {"seconds": 120}, "ogcapi")
    wait_for(lambda: runner.store.get(job.job_id).progress >= 2, timeout_s=60)
    return job


def _kill_worker_running(runner: JobRunner, key: str) -> None:
    processing = runner.client.processing()
    worker = next(address for address, keys in processing.items() if key in keys)
    pid = runner.client.run(os.getpid, workers=[worker])[worker]
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
        _kill_worker_running(runner, job.job_id)
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


def _embedded_cluster(settings: Settings, tmp_path: Path) -> subprocess.Popen[bytes]:
    config = tmp_path / "ogcsdl.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(settings.data_dir),
                "cluster": {"port": settings.cluster.port, "workers": 2},
                "processing": {"extra_processors": EXTRA},
            }
        )
    )
    return subprocess.Popen(
        [sys.executable, "-m", "ogcsdl.jobs.cluster", "--config", str(config)],
        env=subprocess_env(),
    )


def test_worker_killed_on_the_embedded_cluster(tmp_path: Path) -> None:
    settings = processing_settings(
        tmp_path / "var", cluster={"port": free_port(), "workers": 2, **FAST_WATCHDOG}
    )
    child = _embedded_cluster(settings, tmp_path)
    runner = JobRunner(settings)
    watchdog = None
    try:
        wait_for(lambda: _workers(settings) == 2, timeout_s=60, interval_s=0.3)
        watchdog = JobWatchdog(settings).start()
        job = _running(runner)
        _kill_worker_running(runner, job.job_id)
        ended = _ended(runner, job.job_id)
        assert (ended.status, ended.error) == ("failed", WORKER_DIED)
        _assert_cluster_still_works(runner)
        wait_for(lambda: _workers(settings) == 2, timeout_s=60, interval_s=0.3)  # restarted
    finally:
        if watchdog is not None:
            watchdog.stop()
        runner.close()
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0


def _workers(settings: Settings) -> int:
    try:
        return cluster_workers(settings)
    except OSError:
        return 0

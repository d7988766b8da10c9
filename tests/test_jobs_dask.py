"""Jobs on real Dask clusters: an external ``dask scheduler`` + two ``dask worker``
processes, and the suite's embedded cluster child (``python -m ogcsdl.jobs.cluster``)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml

from ogcsdl.catalogue.factory import product_store
from ogcsdl.errors import Forbidden, InvalidParameterValue, MissingParameterValue, NotFound
from ogcsdl.jobs.cluster import INTERRUPTED, cluster_workers
from ogcsdl.jobs.executor import JobRunner
from ogcsdl.jobs.store import job_store
from tests.ports import free_port
from tests.processing_standin import EXTRA
from tests.processing_support import (
    processing_settings,
    subprocess_env,
    tiny_product,
    wait_for,
)

pytestmark = pytest.mark.live


@pytest.fixture
def scheduler(dask_scheduler: str) -> str:
    return dask_scheduler  # the session's external cluster (tests/conftest.py)


@pytest.fixture
def runner(tmp_path: Path, scheduler: str) -> Iterator[JobRunner]:
    runner = JobRunner(processing_settings(tmp_path / "var", scheduler))
    yield runner
    runner.close()


def test_fifty_jobs_at_once_all_finish_once(runner: JobRunner) -> None:
    jobs = [
        runner.start(
            "echo",
            {"stringInput": f"m{i}", "integerInput": i, "complexObjectInput": {"n": i}},
            "ogcapi",
        )
        for i in range(50)
    ]
    ids = [job.job_id for job in jobs]
    assert len(set(ids)) == 50
    finished = [runner.wait(job_id, timeout_s=180) for job_id in ids]
    assert [job.status for job in finished] == ["successful"] * 50
    for i, job in enumerate(finished):
        assert job.outputs is not None
        assert job.outputs["stringOutput"].value == f"m{i}"
        assert job.outputs["integerOutput"].value == i
        assert job.outputs["complexObjectOutput"].value == {"n": i}
    assert runner.store.count() == 50  # none lost, none duplicated


def _task_state(runner: JobRunner, key: str) -> str | None:
    def state(dask_scheduler: object, key: str = key) -> str | None:
        task = dask_scheduler.tasks.get(key)  # type: ignore[attr-defined]
        return None if task is None else str(task.state)

    result: str | None = runner.client.run_on_scheduler(state)
    return result


def test_dismiss_stops_the_running_task(tmp_path: Path, scheduler: str) -> None:
    # One job at a time: the next job can only run once the dismissed one let go.
    runner = JobRunner(
        processing_settings(tmp_path / "var", scheduler, processing={"max_concurrent_jobs": 1})
    )
    try:
        job = runner.start("slow", {"seconds": 120}, "ogcapi")
        wait_for(lambda: runner.store.get(job.job_id).progress >= 2, timeout_s=60)
        dismissed = runner.dismiss(job.job_id)
        assert dismissed.status == "dismissed"
        follower = runner.wait(
            runner.start("echo", {"stringInput": "next"}, "ogcapi").job_id, timeout_s=20
        )
        assert follower.status == "successful"
        wait_for(
            lambda: _task_state(runner, job.job_id) in (None, "memory", "forgotten"), timeout_s=10
        )
        frozen = runner.store.get(job.job_id)
        assert frozen.status == "dismissed" and frozen.finished is not None
        assert frozen.outputs is None and frozen.progress < 50
    finally:
        runner.close()


def test_blocks_run_and_report_progress_while_more_jobs_wait_than_threads(
    tmp_path: Path, scheduler: str
) -> None:
    """2 workers x 1 thread, one job at a time, four jobs computing dask blocks: the
    waiting jobs must not hold the threads the running job's blocks need (they did: a
    deadlock), and the running job's progress advances as its blocks complete."""
    runner = JobRunner(
        processing_settings(tmp_path / "var", scheduler, processing={"max_concurrent_jobs": 1})
    )
    try:
        jobs = [runner.start("blocks", {"blocks": 40, "seconds": 0.05}, "ogcapi") for _ in range(4)]
        seen: set[float] = set()

        def finished() -> bool:
            job = runner.store.get(jobs[0].job_id)
            seen.add(job.progress)
            return job.is_finished

        wait_for(finished, timeout_s=60, interval_s=0.05)
        done = [runner.wait(job.job_id, timeout_s=60) for job in jobs]
        assert [job.status for job in done] == ["successful"] * 4, [job.message for job in done]
        assert all(job.outputs and job.outputs["total"].value == 640.0 for job in done)
        assert any(5 < p < 95 for p in seen), sorted(seen)  # not only at start and end
    finally:
        runner.close()


def test_raster_output_is_published_as_cog_with_lineage(runner: JobRunner) -> None:
    settings = runner.settings
    source = tiny_product(settings, "S2_TEST_SOURCE")
    job = runner.wait(
        runner.start("scale", {"image": source.identifier, "factor": 3}, "wps").job_id
    )
    assert job.status == "successful", job.error
    assert job.outputs is not None
    output = job.outputs["scaled"]
    record = product_store(settings).get(str(output.product_id))
    assert output.href == settings.url(f"data/{record.identifier}.tif")
    assert record.collection == "scaled"
    lineage = record.extra["lineage"]
    assert lineage["process_id"] == "scale" and lineage["process_version"] == "2.1.0"
    assert lineage["job_id"] == job.job_id and lineage["source_ids"] == ["S2_TEST_SOURCE"]
    assert lineage["parameters"] == {"image": "S2_TEST_SOURCE", "factor": 3}
    assert "S2_TEST_SOURCE" in (record.lineage or "") and record.source == "S2_TEST_SOURCE"
    assert record.start == source.start  # the acquisition time follows the source
    with rasterio.open(record.file_path) as published, rasterio.open(source.file_path) as original:
        assert published.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert published.crs == original.crs and published.transform == original.transform
        np.testing.assert_allclose(published.read(1), original.read(1).astype("float32") * 3)
    assert record.bbox[0] == pytest.approx(source.bbox[0], abs=0.5)


def test_bad_input_is_refused_before_any_job_exists(runner: JobRunner) -> None:
    tiny_product(runner.settings, "S2_OK")
    before = runner.store.count()
    with pytest.raises(NotFound) as unknown:
        runner.start("no-such-process", {}, "ogcapi")
    assert unknown.value.status == 404
    with pytest.raises(MissingParameterValue):
        runner.start("echo", {}, "ogcapi")
    with pytest.raises(InvalidParameterValue):
        runner.start("echo", {"stringInput": "x", "doubleInput": 99}, "ogcapi")
    with pytest.raises(InvalidParameterValue):
        runner.start("echo", {"stringInput": "x", "nonsense": 1}, "ogcapi")
    with pytest.raises(InvalidParameterValue):
        runner.start(
            "echo",
            {
                "stringInput": "x",
                "boundingBoxInput": {"bbox": [10, 50, 11, 51], "crs": "EPSG:3006"},
            },
            "ogcapi",
        )
    with pytest.raises(InvalidParameterValue):
        runner.start(
            "echo", {"stringInput": "x", "boundingBoxInput": {"bbox": [11, 50, 10, 51]}}, "ogcapi"
        )
    with pytest.raises(InvalidParameterValue):
        runner.start("scale", {"image": "NO_SUCH_PRODUCT"}, "ogcapi")
    with pytest.raises(Forbidden):
        runner.start("scale", {"image": {"href": "file:///etc/passwd"}}, "ogcapi")
    with pytest.raises(Forbidden):
        runner.start("scale", {"image": "http://127.0.0.1:9/x.tif"}, "ogcapi")
    assert runner.store.count() == before
    good = runner.wait(runner.start("echo", {"stringInput": "still fine"}, "ogcapi").job_id)
    assert good.status == "successful"


def test_embedded_cluster_child_runs_jobs_and_recovers(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path / "var", cluster={"port": free_port(), "workers": 2})
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
    store = job_store(settings.database_url)
    orphan = store.create("echo", "1.0.0", "wps", {"stringInput": "lost"})
    store.mark_running(orphan.job_id)
    env = subprocess_env()
    env.pop("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", None)  # the tests' own setting
    child = subprocess.Popen(
        [sys.executable, "-m", "ogcsdl.jobs.cluster", "--config", str(config)], env=env
    )
    runner = JobRunner(settings)
    try:
        wait_for(lambda: _workers(settings) == 2, timeout_s=60, interval_s=0.3)
        # the product's cluster runs without Dask's profiler (~10 % of a core per worker)
        profiling = runner.client.run(
            lambda dask_worker: "profile" in dask_worker.periodic_callbacks
        )
        assert list(profiling.values()) == [False, False]
        assert store.get(orphan.job_id).status == "failed"
        assert store.get(orphan.job_id).error == INTERRUPTED
        jobs = [runner.start("echo", {"stringInput": str(i)}, "ogcapi") for i in range(5)]
        assert {runner.wait(j.job_id).status for j in jobs} == {"successful"}
    finally:
        runner.close()
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0


def _workers(settings: object) -> int:
    try:
        return cluster_workers(settings)  # type: ignore[arg-type]
    except OSError:
        return 0

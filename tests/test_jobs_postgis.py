"""The job store and the Dask runner on PostgreSQL/PostGIS (the production database).

Uses the ``postgis_url`` session fixture (tests/postgis.py plugin); skips when that
plugin is not loaded in this checkout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ogcsdl.jobs.cluster import INTERRUPTED, recover_interrupted
from ogcsdl.jobs.executor import JobRunner
from ogcsdl.jobs.store import job_store
from tests.processing_support import processing_settings
from tests.required import unavailable

pytestmark = [pytest.mark.postgis, pytest.mark.live]


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    try:
        url = str(request.getfixturevalue("postgis_url"))
    except pytest.FixtureLookupError:
        unavailable("POSTGIS", "the postgis_url fixture (tests/postgis.py plugin) is not loaded")
    yield url
    from ogcsdl.db import connect

    with connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS ogcsdl_jobs")


def test_jobs_on_postgis(tmp_path: Path, database_url: str, dask_scheduler: str) -> None:
    settings = processing_settings(tmp_path / "var", database={"url": database_url})
    store = job_store(settings.database_url)
    orphan = store.create("echo", "1.0.0", "wps", {"message": "x"})
    store.mark_running(orphan.job_id)
    assert recover_interrupted(settings) == 1
    assert store.get(orphan.job_id).error == INTERRUPTED
    cluster = settings.cluster.model_copy(update={"scheduler_address": dask_scheduler})
    runner = JobRunner(settings.model_copy(update={"cluster": cluster}))
    try:
        jobs = [runner.start("echo", {"stringInput": f"pg{i}"}, "ogcapi") for i in range(10)]
        finished = [runner.wait(job.job_id, timeout_s=120) for job in jobs]
    finally:
        runner.close()
    assert [job.status for job in finished] == ["successful"] * 10
    assert [job.outputs["stringOutput"].value for job in finished if job.outputs] == [
        f"pg{i}" for i in range(10)
    ]
    assert store.count() == 11

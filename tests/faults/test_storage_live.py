"""Output storage read-only (a tmpfs remounted ``ro`` under the suite's ``cogs``
folder): a job that must publish a raster fails with a clear message that names the
cause and no server path; the cluster keeps running jobs. Needs mount(8) privileges
(root in CI); skipped with the reason elsewhere."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ogcsdl.config import Settings
from ogcsdl.jobs.executor import JobRunner
from tests.processing_support import processing_settings, tiny_product
from tests.required import unavailable

pytestmark = pytest.mark.live


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def read_only_cogs(tmp_path: Path) -> Iterator[Settings]:
    settings = processing_settings(tmp_path / "var")
    cogs = settings.cog_dir
    mounted = _mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(cogs))
    if mounted.returncode != 0:
        unavailable("MOUNT", f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        tiny_product(settings, "RO_SOURCE")  # written while the storage is still writable
        assert _mount("-o", "remount,ro", str(cogs)).returncode == 0
        yield settings
    finally:
        subprocess.run(["umount", "-l", str(cogs)], check=False)


def test_read_only_output_storage_fails_the_job_clearly(
    read_only_cogs: Settings, dask_scheduler: str
) -> None:
    # The session's external cluster: each job carries its own settings, so its workers
    # write under this test's read-only folder; afterwards they must still run jobs.
    settings = read_only_cogs.model_copy(
        update={
            "cluster": read_only_cogs.cluster.model_copy(
                update={"scheduler_address": dask_scheduler}
            )
        }
    )
    runner = JobRunner(settings)
    try:
        job = runner.wait(runner.start("scale", {"image": "RO_SOURCE"}, "ogcapi").job_id, 120)
        assert job.status == "failed"
        assert "read-only" in job.message and "could not write its outputs" in job.message
        assert str(settings.data_dir) not in job.message
        echo = runner.wait(runner.start("echo", {"stringInput": "ok"}, "ogcapi").job_id, 60)
        assert echo.status == "successful"
    finally:
        runner.close()

"""Helpers for the processing tests: a real external Dask cluster (``dask scheduler``
+ two ``dask worker`` processes on loopback), settings using the stand-in registry,
and tiny rasters registered in the product store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.transform import from_origin

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.config import PROJECT_ROOT, Settings
from ogcsdl.ingest.writer import Publication, array_writer, cog_options
from ogcsdl.schema import create_schema
from tests.ports import free_port
from tests.processing_standin import EXTRA

DASK = str(Path(sys.executable).with_name("dask"))


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OGCSDL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


@contextmanager
def external_dask_cluster(workdir: Path, workers: int = 2) -> Iterator[str]:
    """A real ``dask scheduler`` and ``workers`` x ``dask worker`` on loopback."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = (workdir / "dask.log").open("wb")
    common: dict[str, Any] = {
        "env": subprocess_env(),
        "stdout": log,
        "stderr": subprocess.STDOUT,
        "cwd": workdir,
        "start_new_session": True,  # a group per process, killed whole (nanny + worker)
    }
    procs = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            **common,
        )
    ]
    procs += [
        subprocess.Popen(
            [
                DASK,
                "worker",
                address,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
            ],
            **common,
        )
        for _ in range(workers)
    ]
    try:
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        # A worker still running a task (a job the fault tests made the scheduler forget
        # goes on sleeping) is killed by its nanny only after 8 s: the session's last
        # teardown waited for that. Each process leads its own group: kill the group.
        deadline = time.monotonic() + 2
        for proc in procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def processing_settings(
    data_dir: Path, scheduler_address: str | None = None, **extra: Any
) -> Settings:
    settings = Settings(
        data_dir=data_dir,
        cluster={"scheduler_address": scheduler_address, **extra.pop("cluster", {})},
        processing={"extra_processors": EXTRA, **extra.pop("processing", {})},
        **extra,
    )
    settings.ensure_dirs()
    create_schema(settings)
    return settings


def tiny_product(
    settings: Settings, identifier: str, size: int = 64, origin_x: float = 600000
) -> ProductRecord:
    """A small UTM raster COG + its product record."""
    data = (np.arange(size * size, dtype="uint16").reshape(1, size, size) % 1000) + 1
    transform = from_origin(origin_x, 6600000, 10, 10)
    when = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    options = cog_options(settings.ingest, categorical=False)
    with Publication(product_store(settings)) as publication:
        staged = publication.stage_cog(
            settings.cog_dir / f"{identifier}.tif",
            array_writer(data, "EPSG:32633", transform, 0, ["B04"], options),
        )
        record = ProductRecord(
            identifier=identifier,
            title=f"test product {identifier}",
            collection="raster",
            start=when,
            end=when,
            bands=[Band("B04")],
            nodata=0,
            **staged.record_fields(),
        )
        publication.commit([record])
    return record


def wait_for(predicate: Any, timeout_s: float = 60, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")

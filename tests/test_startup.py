"""Start-up: the schema is created once, and scratch a crash left behind is removed
(``ogcsdl serve`` runs :func:`ogcsdl.startup.prepare` before any child starts)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import Settings
from ogcsdl.db import Connection
from ogcsdl.jobs.store import JobStore, job_store
from ogcsdl.schema import create_schema
from ogcsdl.startup import prepare, scratch
from tests.processing_support import processing_settings, tiny_product


def _leave_crash_scratch(settings: Settings, job_id: str) -> list[Path]:
    workdir = settings.data_dir / f"job-{job_id}-x1y2"
    workdir.mkdir(parents=True)
    (workdir / "input.tif").write_bytes(b"half a download")
    outputs = settings.data_dir / "job-outputs" / job_id
    outputs.mkdir(parents=True)
    paths = [
        workdir,
        settings.cog_dir / f".pair-first-{job_id}.k3j4.part",
        settings.cog_dir / f".pair-first-{job_id}.k3j4.part.ovr.tmp",
        outputs / ".report.a1b2.part",
    ]
    for path in paths[1:]:
        path.write_bytes(b"partial")
    return paths


def test_prepare_removes_scratch_and_keeps_products(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path / "var")
    product = settings.cog_dir / "S2_KEPT.tif"
    product.write_bytes(b"a published product")
    demo_staging = settings.data_dir / ".demo-input-abc123"
    demo_staging.mkdir()
    left = _leave_crash_scratch(settings, "0f8c6a3e-5b1d-4c0e-9a57-2d1e3f4a5b6c")
    assert set(left) <= set(scratch(settings))

    prepare(settings)

    assert [path for path in [*left, demo_staging] if path.exists()] == []
    assert product.read_bytes() == b"a published product"
    assert scratch(settings) == []


def test_with_an_external_cluster_running_jobs_keep_their_scratch(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path / "var", "tcp://127.0.0.1:1")
    prepare(settings)  # creates the schema
    jobs = JobStore(settings.database_url)
    running = jobs.create("pair", "1.0.0", "ogcapi", {})
    jobs.mark_running(running.job_id)
    ended = jobs.create("pair", "1.0.0", "ogcapi", {})
    jobs.mark_failed(ended.job_id, "worker died")
    kept = _leave_crash_scratch(settings, running.job_id)
    removed = _leave_crash_scratch(settings, ended.job_id)

    prepare(settings)

    assert [path for path in kept if not path.exists()] == []
    assert not any(path.exists() for path in removed)


def test_finished_jobs_outputs_are_not_scratch(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path / "var")
    report = settings.data_dir / "job-outputs" / "0f8c6a3e" / "report"
    report.parent.mkdir(parents=True)
    report.write_text("a finished job's large output", encoding="utf-8")
    prepare(settings)
    assert report.is_file()


def test_stores_are_built_once_and_never_run_ddl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = processing_settings(tmp_path / "var")  # its fixture creates the schema
    statements: list[str] = []
    execute = Connection.execute

    def recording(self: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
        statements.append(sql.strip().split()[0].upper())
        return execute(self, sql, params)

    monkeypatch.setattr(Connection, "execute", recording)
    products = product_store(settings)
    assert product_store(settings) is products
    assert product_store(settings.model_copy(deep=True)) is products  # same configuration
    assert job_store(settings.database_url) is job_store(settings.database_url)
    tiny_product(settings, "S2_ONCE")
    job_store(settings.database_url).create("pair", "1.0.0", "ogcapi", {})
    assert statements and "CREATE" not in statements


def test_without_start_up_there_is_no_schema(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    settings.ensure_dirs()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        product_store(settings).list()
    create_schema(settings)
    assert product_store(settings).list() == []

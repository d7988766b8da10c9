"""The catalogue benchmark's database: a private PostgreSQL + PostGIS (the test suite's
``tests.postgis.PostgisServer``) and the bulk load of synthetic records through the
product store's own upsert path (``ProductStore.upsert_many`` with the pycsw projection
hook), the path ingest and harvest write with.

A work directory keeps the cluster between runs: a later run starts it again and loads
only the records still missing (records are deterministic by index).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchmarks.catalogue_data import synthetic_records
from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.pycsw_setup import ensure_records_table, write_pycsw_config
from ogcsdl.catalogue.store import TABLE
from ogcsdl.config import Settings, load_settings
from ogcsdl.schema import create_schema
from tests.postgis import DATABASE, PG_BIN, POSTGIS_CONTROL, PostgisServer, _run

# Server settings of a modest production PostgreSQL (the defaults are sized for a
# laptop: 128 MB of shared buffers); fsync stays off as in the test cluster.
SERVER_SETTINGS = {
    "shared_buffers": "1GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "effective_cache_size": "8GB",
    "random_page_cost": "1.1",
    "max_wal_size": "4GB",
    "default_toast_compression": "lz4",
}


@contextmanager
def postgis(root: Path) -> Iterator[PostgisServer]:
    """The cluster in ``root`` (created on first use), running for the ``with`` block."""
    for tool in ("initdb", "pg_ctl", "psql"):
        if not (PG_BIN / tool).exists():
            sys.exit(f"PostgreSQL is missing: {PG_BIN / tool} (scripts/setup.sh --system)")
    if not POSTGIS_CONTROL.exists():
        sys.exit(f"PostGIS is missing: {POSTGIS_CONTROL} (package postgresql-15-postgis-3)")
    root.mkdir(parents=True, exist_ok=True)
    server = PostgisServer(root)
    if not (server.data / "PG_VERSION").exists():
        server.create()
        psql = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres"]
        for name, value in SERVER_SETTINGS.items():
            _run([*psql, "-d", DATABASE, "-c", f"ALTER SYSTEM SET {name} = '{value}'"])
        server.stop()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def prepare(settings: Settings) -> None:
    """What ``ogcsdl serve`` does at start-up for the catalogue: the suite's schema, pycsw's
    configuration and its ``records`` table (created by pycsw itself)."""
    settings.ensure_dirs()
    create_schema(settings)
    write_pycsw_config(settings)
    ensure_records_table(settings)


def count(database_url: str, table: str = TABLE) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class LoadResult:
    records: int
    wall_s: float
    upsert_s: float  # summed over jobs: time inside ProductStore.upsert_many

    @property
    def per_second(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0


_WORKER_SETTINGS: Settings | None = None


def _init_worker(config_file: str) -> None:
    global _WORKER_SETTINGS
    _WORKER_SETTINGS = load_settings(Path(config_file))


def _load_page(task: tuple[int, int, int, str]) -> tuple[int, float]:
    first, size, seed, prefix = task
    assert _WORKER_SETTINGS is not None
    records = list(synthetic_records(size, seed, prefix, first))
    started = time.perf_counter()
    product_store(_WORKER_SETTINGS).upsert_many(records)
    return len(records), time.perf_counter() - started


def load(
    config_file: Path,
    total: int,
    *,
    page: int = 2000,
    jobs: int = 1,
    seed: int = 1,
    prefix: str = "",
    quiet: bool = False,
) -> LoadResult:
    """Upsert records ``0 .. total-1`` that are not there yet (resuming from the row
    count: pages are written in order per job, whole pages or nothing), ``page`` per
    transaction, ``jobs`` loader processes, with a progress line."""
    settings = load_settings(config_file)
    present = count(settings.database_url)
    if present >= total:
        start = total
    elif jobs == 1:
        start = present - present % page
    else:
        start = _first_missing(settings, total, page, seed, prefix)
    tasks = [(first, min(page, total - first), seed, prefix) for first in range(start, total, page)]
    if not tasks:
        return LoadResult(0, 0.0, 0.0)
    started, done, upsert_s = time.perf_counter(), 0, 0.0
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs, initializer=_init_worker, initargs=(str(config_file),)) as pool:
        for loaded, seconds in pool.imap(_load_page, tasks):
            done += loaded
            upsert_s += seconds
            elapsed = time.perf_counter() - started
            rate = done / elapsed
            if not quiet:
                remaining = (total - start - done) / rate if rate else 0
                print(
                    f"\rloaded {start + done:>9,}/{total:,}  {rate:7.0f} records/s"
                    f"  ETA {remaining / 60:5.1f} min",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
    if not quiet:
        print(file=sys.stderr)
    return LoadResult(done, time.perf_counter() - started, upsert_s)


def _first_missing(settings: Settings, total: int, page: int, seed: int, prefix: str) -> int:
    """With several jobs pages finish out of order: the first page whose first record is
    missing (a page is one transaction, so it is there whole or not at all)."""
    from benchmarks.catalogue_data import synthetic_record

    with psycopg.connect(settings.database_url) as conn:
        for first in range(0, total, page):
            identifier = synthetic_record(first, seed, prefix).identifier
            found = conn.execute(
                f"SELECT 1 FROM {TABLE} WHERE identifier = %s", (identifier,)
            ).fetchone()
            if found is None:
                return first
    return total

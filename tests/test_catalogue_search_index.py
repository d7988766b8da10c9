"""The catalogue's search index: created at start-up on PostGIS (new and upgraded
catalogues alike), used by the planner for pycsw's own bbox + time + cloud-cover SQL,
and absent on SQLite (pycsw has no spatial index there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.pycsw_setup import (
    SEARCH_INDEX,
    ensure_records_table,
    ensure_search_index,
)
from ogcsdl.catalogue.service import prepare_catalogue
from ogcsdl.config import Settings, load_settings
from ogcsdl.db import connect
from ogcsdl.schema import create_schema
from tests.catalogue_fixtures import CATALOGUE_PYTHON, require_catalogue_env, sample_products
from tests.postgis import private_database

# pycsw's WHERE for a GetRecords with BBOX, TempExtent_end >= / TempExtent_begin <= and
# CloudCover <= (as pycsw 2.6 writes it for PostGIS), on a box around the samples.
PYCSW_WHERE = (
    "st_intersects(wkb_geometry, st_geomfromtext("
    "'POLYGON((17 59, 17 60, 19 60, 19 59, 17 59))',4326)) = 'true'"
    " and time_end >= %s and time_begin <= %s and cloudcover <= %s"
)


def _settings(directory: Path, database_url: str | None = None) -> Settings:
    config: dict[str, object] = {
        "data_dir": str(directory),
        "catalogue": {"python": str(CATALOGUE_PYTHON)},
    }
    if database_url:
        config["database"] = {"url": database_url}
    path = directory / "ogcsdl.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    settings = load_settings(path)
    create_schema(settings)
    return settings


@pytest.fixture()
def private_postgis(postgis_url: str) -> Iterator[str]:
    """A database of its own on the session's server (its records table starts empty)."""
    with private_database(postgis_url, "searchidx") as url:
        yield url


def _index_definition(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'records' AND indexname = %s",
            (SEARCH_INDEX,),
        ).fetchone()
    return str(row[0]) if row else None


@pytest.mark.postgis
def test_start_up_creates_the_search_index_and_the_planner_uses_it(
    private_postgis: str, tmp_path: Path
) -> None:
    require_catalogue_env()
    settings = _settings(tmp_path, private_postgis)
    store = product_store(settings)
    for record in sample_products():
        store.upsert(record)
    prepare_catalogue(settings)  # what `ogcsdl serve` runs: pycsw's table, then the index
    definition = _index_definition(private_postgis)
    assert definition is not None
    assert "USING gist (wkb_geometry, time_begin, time_end, cloudcover)" in definition
    assert ensure_search_index(settings) is False  # idempotent: a second start builds nothing

    window = ("2024-06-01T00:00:00Z", "2024-06-30T23:59:59Z", 50.0)
    with psycopg.connect(private_postgis) as conn:
        matched = conn.execute(f"SELECT count(*) FROM records WHERE {PYCSW_WHERE}", window)
        expected = matched.fetchone()
        assert expected == (2,)  # S2A-STHLM-0601 (5 %) and S2B-STHLM-0610 (50 %)
        # Five rows: force an index path, then see which index the planner picks for
        # pycsw's WHERE: the one that tests box, dates and cloud cover in the index.
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        plan = "\n".join(
            str(row[0])
            for row in conn.execute(
                f"EXPLAIN SELECT count(*) FROM records WHERE {PYCSW_WHERE}", window
            )
        )
        assert f"Index Scan using {SEARCH_INDEX}" in plan, plan
        assert "time_end >=" in plan and "cloudcover <=" in plan  # tested in the index
        again = conn.execute(f"SELECT count(*) FROM records WHERE {PYCSW_WHERE}", window)
        assert again.fetchone() == expected  # the index changes the plan, not the answer


@pytest.mark.postgis
def test_an_existing_catalogue_gets_the_index_at_its_next_start(
    private_postgis: str, tmp_path: Path
) -> None:
    """A catalogue made before the index existed: the next start-up adds it."""
    require_catalogue_env()
    settings = _settings(tmp_path, private_postgis)
    assert ensure_records_table(settings) is True
    with psycopg.connect(private_postgis, autocommit=True) as conn:
        conn.execute(f"DROP INDEX {SEARCH_INDEX}")
    assert _index_definition(private_postgis) is None
    assert ensure_records_table(settings) is False  # the table was there already
    assert _index_definition(private_postgis) is not None


@pytest.mark.postgis
def test_a_records_table_without_the_eo_columns_gets_no_index_and_starts(
    private_postgis: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, private_postgis)
    with psycopg.connect(private_postgis, autocommit=True) as conn:
        conn.execute("CREATE TABLE records (identifier text PRIMARY KEY, wkb_geometry geometry)")
    assert ensure_search_index(settings) is False
    assert _index_definition(private_postgis) is None
    assert "lacks ['cloudcover', 'time_begin', 'time_end']" in caplog.text


def test_sqlite_catalogues_get_no_search_index(tmp_path: Path) -> None:
    require_catalogue_env()
    settings = _settings(tmp_path)
    prepare_catalogue(settings)
    assert ensure_search_index(settings) is False
    with connect(settings.database_url) as conn:
        names = {row[0] for row in conn.query("SELECT name FROM sqlite_master")}
    assert "records" in names and SEARCH_INDEX not in names

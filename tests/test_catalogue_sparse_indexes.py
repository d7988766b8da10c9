"""pycsw's indexes on the records columns the projection never writes are partial
(``IS NOT NULL``) and the one on ``links`` (no pycsw queryable) is gone after start-up, on new and existing catalogues, SQLite and PostGIS:
nothing to maintain on a write, still chosen by the planner for a comparison on the
column, the answers unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.projection import PROJECTED_COLUMNS, RECORDS_TABLE, records_row
from ogcsdl.catalogue.pycsw_setup import ensure_records_table
from ogcsdl.catalogue.sparse_indexes import ensure_sparse_indexes, never_written
from ogcsdl.config import Settings
from ogcsdl.db import connect
from ogcsdl.schema import create_schema
from tests.catalogue_fixtures import CATALOGUE_PYTHON, require_catalogue_env, sample_products
from tests.postgis import private_database


def _settings(directory: Path, database_url: str | None = None) -> Settings:
    settings = Settings(
        data_dir=directory,
        catalogue={"python": str(CATALOGUE_PYTHON)},
        database={"url": database_url} if database_url else {},
    )
    settings.ensure_dirs()
    create_schema(settings)
    return settings


def _definitions(settings: Settings) -> dict[str, str]:
    """Index name -> its SQL, for the records table."""
    with connect(settings.database_url) as conn:
        if conn.dialect == "sqlite":
            rows = conn.query(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
                " AND sql IS NOT NULL",
                (RECORDS_TABLE,),
            )
        else:
            rows = conn.query(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ?",
                (RECORDS_TABLE,),
            )
    return {str(name): str(sql) for name, sql in rows}


def test_the_projection_writes_exactly_its_declared_columns(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    row = records_row(settings, sample_products()[0])
    assert tuple(row) == PROJECTED_COLUMNS
    assert never_written({*PROJECTED_COLUMNS, "creator", "wkb_geometry"}) == {"creator"}


def _check(settings: Settings) -> None:
    """pycsw made its table with an index on every column; start-up made the ones of
    never-written columns partial; writes and a second start-up change nothing more."""
    assert ensure_records_table(settings) is True  # pycsw's own table, then our DDL
    definitions = _definitions(settings)
    creator = definitions["ix_records_creator"]
    assert "WHERE" in creator and "creator IS NOT NULL" in creator.replace('"', ""), creator
    partial = {name for name, sql in definitions.items() if " WHERE " in sql}
    assert len(partial) >= 20, sorted(partial)  # pycsw 2.6: 28 never-written columns
    for column in ("title", "time_begin", "keywords", "cloudcover", "identifier"):
        assert not any(name.endswith(f"_{column}") for name in partial), column
    assert "ix_records_title" in definitions
    assert "ix_records_links" not in definitions  # no pycsw query filters on links
    for column in ("abstract", "keywords", "lineage", "bands"):  # free text: LIKE, anytext
        assert f"ix_records_{column}" not in definitions, column

    store = product_store(settings)
    store.upsert_many(sample_products())
    assert ensure_sparse_indexes(settings.database_url) == []  # idempotent
    create_schema(settings)  # a later start-up: nothing rebuilt
    assert _definitions(settings) == definitions

    with connect(settings.database_url) as conn:
        total = conn.query(f"SELECT count(*) FROM {RECORDS_TABLE}")[0][0]
        nulls = conn.query(f"SELECT count(*) FROM {RECORDS_TABLE} WHERE creator IS NULL")
        matched = conn.query(f"SELECT count(*) FROM {RECORDS_TABLE} WHERE creator = ?", ("x",))
    assert total == len(sample_products()) and nulls[0][0] == total and matched[0][0] == 0


def test_sqlite_start_up_makes_the_never_written_indexes_partial(tmp_path: Path) -> None:
    require_catalogue_env()
    settings = _settings(tmp_path / "var")
    _check(settings)
    with connect(settings.database_url) as conn:
        plan = conn.query(
            f"EXPLAIN QUERY PLAN SELECT identifier FROM {RECORDS_TABLE} WHERE creator = ?",
            ("x",),
        )
    assert "ix_records_creator" in " ".join(str(row[-1]) for row in plan), plan


@pytest.fixture()
def private_postgis(postgis_url: str) -> Iterator[str]:
    with private_database(postgis_url, "sparseidx") as url:
        yield url


@pytest.mark.postgis
def test_postgis_start_up_makes_them_partial_and_upgrades_an_existing_catalogue(
    private_postgis: str, tmp_path: Path
) -> None:
    require_catalogue_env()
    settings = _settings(tmp_path / "var", private_postgis)
    _check(settings)
    with psycopg.connect(private_postgis) as conn:
        conn.execute("SET enable_seqscan = off")  # five rows: see which index it would use
        plan = "\n".join(
            str(row[0])
            for row in conn.execute("EXPLAIN SELECT identifier FROM records WHERE creator = 'x'")
        )
    assert "ix_records_creator" in plan, plan

    # A catalogue made before: pycsw's full index back, the next start-up converts it.
    with psycopg.connect(private_postgis, autocommit=True) as conn:
        conn.execute("DROP INDEX ix_records_creator")
        conn.execute("CREATE INDEX ix_records_creator ON records (creator)")
    assert " WHERE " not in _definitions(settings)["ix_records_creator"]
    create_schema(settings)
    assert " WHERE " in _definitions(settings)["ix_records_creator"]

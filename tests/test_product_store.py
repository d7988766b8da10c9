"""The product store's queries on both back ends: SQLite and a real PostGIS."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.catalogue.store import ProductQuery, ProductStore
from ogcsdl.db import KeptConnection
from ogcsdl.errors import NotFound
from tests.postgis import private_database


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ProductStore:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgis_url")
    product_store = ProductStore(url)
    product_store.ensure_schema()
    return product_store


def _record(collection: str, name: str, day: int, lon: float) -> ProductRecord:
    when = datetime(2022, 3, day, 9, 0, tzinfo=UTC)
    return ProductRecord(
        identifier=f"{collection}-{name}",
        title=name,
        collection=collection,
        start=when,
        end=when,
        footprint_wkt=f"POLYGON(({lon} 50,{lon + 1} 50,{lon + 1} 51,{lon} 51,{lon} 50))",
        bbox=(lon, 50.0, lon + 1, 51.0),
        crs="EPSG:4326",
        resolution=(0.0001, 0.0001),
        width=10,
        height=10,
        bands=[Band("VV"), Band("VH")],
        file_path="/x.tif",
        file_size=1,
    )


def test_search_extents_and_delete(store: ProductStore) -> None:
    collection = f"c-{uuid.uuid4().hex[:8]}"
    for index in range(4):
        store.upsert(_record(collection, f"p{index}", day=index + 1, lon=float(index * 2)))
    store.upsert(_record(collection, "p0", day=1, lon=0.0))  # re-upsert: no duplicate

    everything, matched = store.search(ProductQuery(collections=(collection,), limit=100))
    assert matched == 4
    assert [record.identifier for record in everything][0] == f"{collection}-p3"  # newest first

    in_box, _ = store.search(ProductQuery(collections=(collection,), bbox=(1.5, 50.2, 2.5, 50.8)))
    assert [record.identifier for record in in_box] == [f"{collection}-p1"]

    window = ProductQuery(
        collections=(collection,),
        start=datetime(2022, 3, 2, tzinfo=UTC),
        end=datetime(2022, 3, 3, 23, tzinfo=UTC),
    )
    assert {record.identifier for record in store.search(window)[0]} == {
        f"{collection}-p1",
        f"{collection}-p2",
    }
    second_page, matched = store.search(ProductQuery(collections=(collection,), limit=3, offset=3))
    assert matched == 4 and [record.identifier for record in second_page] == [f"{collection}-p0"]

    extent = store.collection_extents()[collection]
    assert extent.count == 4
    assert extent.bbox == (0.0, 50.0, 7.0, 51.0)
    assert extent.start == datetime(2022, 3, 1, 9, tzinfo=UTC)

    store.delete(f"{collection}-p2")
    with pytest.raises(NotFound):
        store.get(f"{collection}-p2")
    with pytest.raises(NotFound):
        store.delete(f"{collection}-p2")
    assert store.collection_extents()[collection].count == 3


def test_change_stamp_moves_on_every_change(store: ProductStore) -> None:
    collection = f"s-{uuid.uuid4().hex[:8]}"
    first = _record(collection, "a", day=1, lon=0.0)
    stamps = [store.change_stamp()]
    store.upsert(first)
    stamps.append(store.change_stamp())
    assert store.change_stamp() == stamps[-1]  # nothing changed, same stamp
    store.upsert(_record(collection, "b", day=2, lon=2.0))
    stamps.append(store.change_stamp())
    # an update that keeps the old 'updated' time still changes the record
    store.upsert(dataclasses.replace(first, title="renamed, longer title"))
    stamps.append(store.change_stamp())
    store.delete(first.identifier)
    stamps.append(store.change_stamp())
    store.delete_many([f"{collection}-b", "not-there"])
    stamps.append(store.change_stamp())
    assert len(set(stamps)) == len(stamps), stamps
    # harvested records (no local file: not in list()) leave the stamp as it is, so a
    # harvest does not make every tile worker re-read the product list
    remote = dataclasses.replace(_record(collection, "r", day=3, lon=4.0), file_path="")
    store.upsert_many([remote])
    assert store.change_stamp() == stamps[-1]
    assert remote.identifier not in {r.identifier for r in store.list()}


def test_cloud_cover_is_a_sql_column_filtered_in_sql(store: ProductStore) -> None:
    """``eo:cloud_cover`` bounds are decided by SQL on the ``cloud_cover`` column; a
    record without a cloud cover (SAR) matches no bound; a batch upsert keeps the last
    occurrence of an identifier."""
    collection = f"cc-{uuid.uuid4().hex[:8]}"
    clear, cloudy, radar = (
        dataclasses.replace(_record(collection, name, day=day, lon=0.0), cloud_cover=cover)
        for name, day, cover in (("clear", 1, 5.0), ("cloudy", 2, 50.0), ("radar", 3, None))
    )
    store.upsert_many([dataclasses.replace(clear, cloud_cover=90.0), cloudy, radar, clear])

    def ids(*bounds: tuple[str, float]) -> list[str]:
        query = ProductQuery(collections=(collection,), cloud_cover=bounds, limit=10)
        return [record.identifier.split("-")[-1] for record in store.search(query)[0]]

    assert ids() == ["radar", "cloudy", "clear"]
    assert ids(("<=", 20.0)) == ["clear"]
    assert ids((">", 5.0)) == ["cloudy"]
    assert ids((">=", 5.0), ("<", 50.0)) == ["clear"]
    assert ids(("=", 50.0)) == ["cloudy"]
    with pytest.raises(ValueError):
        ids(("; DROP TABLE x; --", 1.0))


_OLD_SCHEMA = """CREATE TABLE ogcsdl_products (identifier TEXT PRIMARY KEY, collection TEXT NOT
    NULL, start_time TEXT NOT NULL, end_time TEXT NOT NULL, minx DOUBLE PRECISION NOT NULL,
    miny DOUBLE PRECISION NOT NULL, maxx DOUBLE PRECISION NOT NULL, maxy DOUBLE PRECISION
    NOT NULL, file_path TEXT NOT NULL, updated TEXT NOT NULL, record TEXT NOT NULL)"""


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database without the suite's tables (PostgreSQL: a new one on the session's
    server, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server_url = str(request.getfixturevalue("postgis_url"))
    with private_database(server_url, "migrate", postgis=False) as url:
        yield url


def test_start_up_adds_and_backfills_cloud_cover_on_an_older_table(empty_database: str) -> None:
    """A database made before the ``cloud_cover`` column: ``ensure_schema`` (run at
    start-up) adds it and fills it from the stored records, then SQL filters on it."""
    from ogcsdl.db import connect

    old = [
        dataclasses.replace(_record("old", name, day=day, lon=0.0), cloud_cover=cover)
        for name, day, cover in (("a", 1, 12.5), ("b", 2, None), ("c", 3, 80.0))
    ]
    with connect(empty_database) as conn:
        conn.execute(_OLD_SCHEMA)
        for record in old:
            conn.execute(
                "INSERT INTO ogcsdl_products VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.identifier,
                    record.collection,
                    record.start.isoformat(),
                    record.end.isoformat(),
                    *record.bbox,
                    record.file_path,
                    record.updated.isoformat(),
                    record.to_json(),
                ),
            )
    store = ProductStore(empty_database)
    store.ensure_schema()
    store.ensure_schema()  # idempotent
    with connect(empty_database) as conn:
        rows = conn.query("SELECT identifier, cloud_cover FROM ogcsdl_products ORDER BY 1")
    assert rows == [("old-a", 12.5), ("old-b", None), ("old-c", 80.0)]
    found, matched = store.search(ProductQuery(cloud_cover=(("<", 50.0),)))
    assert matched == 1 and [record.identifier for record in found] == ["old-a"]


@pytest.mark.postgis
def test_postgis_searches_can_use_the_indexes(postgis_url: str) -> None:
    """The bbox, time and cloud-cover predicates the store writes match its indexes
    (with sequential scans off, so a tiny table still shows which index serves them)."""
    import psycopg

    from ogcsdl.catalogue.store import TABLE, _where

    store = ProductStore(postgis_url)
    store.ensure_schema()
    query = ProductQuery(
        bbox=(10.0, 50.0, 11.0, 51.0),
        start=datetime(2022, 3, 1, tzinfo=UTC),
        end=datetime(2022, 3, 2, tzinfo=UTC),
        cloud_cover=(("<=", 20.0),),
    )
    clause, params = _where(query, postgis_url)
    with psycopg.connect(postgis_url) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            str(row[0])
            for row in conn.execute(
                f"EXPLAIN SELECT record FROM {TABLE}{clause.replace('?', '%s')}"
                " ORDER BY start_time DESC, identifier LIMIT 10",
                params,
            )
        )
        cloud_only = "\n".join(
            str(row[0])
            for row in conn.execute(
                f"EXPLAIN SELECT record FROM {TABLE} WHERE cloud_cover <= %s", (5.0,)
            )
        )
    assert f"{TABLE}_envelope_idx" in plan and "Seq Scan" not in plan, plan
    assert f"{TABLE}_cloud_idx" in cloud_only, cloud_only


@pytest.mark.postgis
def test_a_kept_connection_is_reused_idle_and_reopened_after_a_restart(postgis_url: str) -> None:
    """``change_stamp`` is polled every second by each tile worker: one backend per
    process and thread, no transaction left open between reads, and a connection the
    server dropped (a restart) is reopened by the next read."""
    kept = KeptConnection(postgis_url)
    (first,) = kept.query("SELECT pg_backend_pid()")[0]
    assert kept.query("SELECT pg_backend_pid()")[0][0] == first
    with psycopg.connect(postgis_url, autocommit=True) as admin:
        state = admin.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (first,))
        assert state.fetchone() == ("idle",)  # not "idle in transaction"
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    (again,) = kept.query("SELECT pg_backend_pid()")[0]
    assert again != first

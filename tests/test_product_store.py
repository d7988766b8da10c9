"""The product store's queries on both back ends: SQLite and a real PostGIS."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.catalogue.store import ProductQuery, ProductStore
from ogcsdl.errors import NotFound


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

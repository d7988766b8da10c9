"""STAC API over the product store, through the real gateway, with pystac-client."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from pystac_client import Client

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.stac.rfc3339 import parse_interval
from tests.live import LiveSuite

pytestmark = pytest.mark.live
COLLECTION = "stac-test-collection"


def _record(identifier: str, day: int, lon: float, cloud: float) -> ProductRecord:
    when = datetime(2023, 5, day, 10, 30, tzinfo=UTC)
    # A triangle: its envelope covers more than its footprint.
    footprint = f"POLYGON(({lon} 59,{lon + 1} 59,{lon} 60,{lon} 59))"
    return ProductRecord(
        identifier=identifier,
        title=identifier,
        collection=COLLECTION,
        start=when,
        end=when,
        footprint_wkt=footprint,
        bbox=(lon, 59.0, lon + 1, 60.0),
        crs="EPSG:32633",
        resolution=(10.0, 10.0),
        width=100,
        height=100,
        bands=[Band("B04", "Red", 0.665), Band("B08", "NIR", 0.842)],
        file_path="/nonexistent.tif",
        file_size=1234,
        platform="Sentinel-2B",
        instrument="MSI",
        cloud_cover=cloud,
    )


@pytest.fixture(scope="module")
def stac(suite: LiveSuite) -> str:
    store = product_store(suite.settings)
    for index, lon in enumerate((10.0, 12.0, 14.0, 16.0, 18.0)):
        store.upsert(_record(f"stac-item-{index}", day=index + 1, lon=lon, cloud=index * 10.0))
    return suite.url("stac/")


def test_pystac_client_searches_by_bbox_and_time(stac: str) -> None:
    client = Client.open(stac)
    assert COLLECTION in [collection.id for collection in client.get_collections()]
    search = client.search(
        collections=[COLLECTION], bbox=[11.5, 59.0, 14.5, 60.0], datetime="2023-05-02/2023-05-03"
    )
    found = sorted(item.id for item in search.items())
    assert found == ["stac-item-1", "stac-item-2"]
    item = client.get_collection(COLLECTION).get_item("stac-item-1")
    assert item is not None
    assert item.properties["eo:cloud_cover"] == 10.0
    assert item.properties["platform"] == "sentinel-2b"
    assert item.assets["data"].href.endswith("/data/stac-item-1.tif")


def test_footprint_not_envelope_decides(stac: str) -> None:
    # The north-east corner of item 0's envelope lies outside its triangular footprint.
    response = requests.get(
        stac + "search",
        params={"collections": COLLECTION, "bbox": "10.8,59.8,10.95,59.95"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["features"] == []


def test_paging_follows_next_links(stac: str) -> None:
    client = Client.open(stac)
    search = client.search(collections=[COLLECTION], limit=2)
    ids = [item.id for item in search.items()]
    assert sorted(ids) == [f"stac-item-{index}" for index in range(5)]
    assert len(ids) == len(set(ids))
    first_page = requests.get(
        stac + "search", params={"collections": COLLECTION, "limit": 2}, timeout=10
    ).json()
    assert first_page["numberMatched"] == 5 and first_page["numberReturned"] == 2
    assert [link["rel"] for link in first_page["links"]].count("next") == 1


def test_post_search(stac: str) -> None:
    response = requests.post(
        stac + "search", json={"collections": [COLLECTION], "ids": ["stac-item-3"]}, timeout=10
    )
    assert response.status_code == 200
    assert [feature["id"] for feature in response.json()["features"]] == ["stac-item-3"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("search", {"bbox": "1,2,3"}, 400),
        ("search", {"bbox": "a,b,c,d"}, 400),
        ("search", {"bbox": "0,95,1,96"}, 400),
        ("search", {"datetime": "yesterday"}, 400),
        ("search", {"datetime": "2024-01-02/2024-01-01"}, 400),
        ("search", {"limit": "0"}, 400),
        ("search", {"limit": "many"}, 400),
        ("search", {"colections": "x"}, 400),
        ("collections/no-such-collection", {}, 404),
        ("collections/no-such-collection/items", {}, 404),
        (f"collections/{COLLECTION}/items/no-such-item", {}, 404),
    ],
)
def test_bad_requests_get_problem_json(
    stac: str, path: str, params: dict[str, str], status: int
) -> None:
    response = requests.get(stac + path, params=params, timeout=10)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["detail"]


def test_malformed_post_body(stac: str) -> None:
    response = requests.post(stac + "search", data=b"{not json", timeout=10)
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_open_datetime_interval() -> None:
    start, end = parse_interval("2024-01-01T00:00:00Z/..")
    assert start == datetime(2024, 1, 1, tzinfo=UTC) and end is None

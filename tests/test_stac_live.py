"""STAC API over the product store, through the real gateway, with pystac-client."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from pystac_client import Client
from stac_api_validator.validations import QueryConfig, validate_api

from ogcsdl.catalogue.factory import product_store
from ogcsdl.stac.rfc3339 import parse_interval
from tests.catalogue_fixtures import require_gdal_cli
from tests.live import LiveSuite
from tests.required import unavailable
from tests.stac_offline import vendored_schemas
from tests.stac_support import COLLECTION, five_records

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def stac(suite: LiveSuite) -> str:
    store = product_store(suite.settings)
    for record in five_records(suite.settings.cog_dir):
        store.upsert(record)
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
        timeout=30,
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
    response = requests.get(stac + path, params=params, timeout=30)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["detail"]


def test_malformed_post_body(stac: str) -> None:
    response = requests.post(stac + "search", data=b"{not json", timeout=30)
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_open_datetime_interval() -> None:
    start, end = parse_interval("2024-01-01T00:00:00Z/..")
    assert start == datetime(2024, 1, 1, tzinfo=UTC) and end is None


def test_pystac_client_filters_by_cloud_cover_and_sorts(stac: str) -> None:
    client = Client.open(stac)
    search = client.search(
        collections=[COLLECTION],
        filter={"op": "<", "args": [{"property": "eo:cloud_cover"}, 25]},
        sortby=[{"field": "properties.eo:cloud_cover", "direction": "desc"}],
        max_items=10,
    )
    assert [item.id for item in search.items()] == ["stac-item-2", "stac-item-1"]
    text = client.search(collections=[COLLECTION], filter="eo:cloud_cover >= 30", method="GET")
    assert sorted(item.id for item in text.items()) == ["stac-item-3", "stac-item-4"]
    query = client.search(collections=[COLLECTION], query={"eo:cloud_cover": {"lt": 20}})
    assert [item.id for item in query.items()] == ["stac-item-1"]


# What stac-api-validator checks: every conformance class the API declares.
VALIDATED_CLASSES = [
    "core",
    "collections",
    "features",
    "item-search",
    "filter",
    "features#filter",
    "item-search#sort",
    "item-search#query",
    "item-search#fields",
    "features#sort",
    "features#query",
    "features#fields",
]


def test_stac_api_validator_finds_no_errors_offline(stac: str) -> None:
    footprint = {
        "type": "Polygon",
        "coordinates": [[[12.1, 59.1], [12.5, 59.1], [12.1, 59.5], [12.1, 59.1]]],
    }
    with vendored_schemas() as offline:
        warnings, errors = validate_api(
            root_url=stac.rstrip("/"),
            ccs_to_validate=VALIDATED_CLASSES,
            collection=COLLECTION,
            geometry=json.dumps(footprint),
            auth_bearer_token=None,
            auth_query_parameter=None,
            fields_nested_property="properties.eo:cloud_cover",
            validate_pagination=True,
            query_config=QueryConfig(
                query_comparison_field="eo:cloud_cover",
                query_eq_value="10",
                query_neq_value="10",
                query_lt_value="20",
                query_lte_value="20",
                query_gt_value="5",
                query_gte_value="10",
                query_substring_field="platform",
                query_starts_with_value="sentinel",
                query_ends_with_value="2b",
                query_contains_value="nel-2",
                query_in_field="instruments",
                query_in_values="msi,sar",
            ),
            transaction_collection=None,
            headers={},
        )
    print("stac-api-validator warnings:", *warnings, sep="\n- ")
    assert list(errors) == []
    assert offline.refused == [] and offline.missing == []
    # the item schemas really were validated, from the vendored copies
    assert any(url.endswith("/item-spec/json-schema/item.json") for url in offline.served)
    assert any("stac-extensions.github.io/projection" in url for url in offline.served)


def test_gdal_stacit_opens_a_search(stac: str) -> None:
    gdalinfo = require_gdal_cli("gdalinfo")
    url = f"{stac}search?collections={COLLECTION}&ids=stac-item-1,stac-item-2"
    result = subprocess.run(
        [gdalinfo, "-json", f'STACIT:"{url}"'], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    # items 1 and 2 are 1x1 degree rasters at longitudes 12 and 14: one mosaic of both
    assert info["bands"] and len(info["bands"]) == 2
    left, top = info["geoTransform"][0], info["geoTransform"][3]
    assert left == pytest.approx(12.0) and top == pytest.approx(60.0)
    assert info["size"] == [60, 20]


def test_qgis_opens_a_collection_through_its_oapif_provider(stac: str, tmp_path: Path) -> None:
    """QGIS's OGC API - Features provider refuses an endpoint without a service-desc."""
    qgis_python = "/usr/bin/python3"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update({"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)})
    env["XDG_RUNTIME_DIR"] = str(tmp_path)
    probe = subprocess.run([qgis_python, "-c", "import qgis.core"], capture_output=True, env=env)
    if probe.returncode != 0:
        unavailable("QGIS", "QGIS Python bindings absent (apt-get install python3-qgis)")
    script = Path(__file__).parent / "qgis" / "oapif_layer.py"
    completed = subprocess.run(
        [qgis_python, str(script), stac.rstrip("/"), COLLECTION, "11.9", "59.0", "12.2", "59.2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["valid"], report.get("error")
    assert report["ids"] == [f"stac-item-{index}" for index in range(5)]
    assert report["in_rectangle"] == ["stac-item-1"]  # the footprint, not the envelope, decides
    assert "eo:cloud_cover" in report["fields"] and report["crs"] == "EPSG:4326"

"""OGC API - Processes through the real suite with plain HTTP: async execution on a
catalogue product, results as a published COG, dismiss, and bad input."""

from __future__ import annotations

import dataclasses
import io
import time
from typing import Any

import numpy as np
import pytest
import rasterio
import requests

from ogcsdl.catalogue.factory import product_store
from ogcsdl.jobs.store import job_store
from tests.live import LiveSuite
from tests.processing_support import tiny_product, wait_for
from tests.view_fixtures import make_s2_product

pytestmark = pytest.mark.live


def _api(suite: LiveSuite, path: str) -> str:
    return suite.url(f"ogcapi/{path.lstrip('/')}")


def _wait(status_url: str, timeout_s: float = 60) -> dict[str, Any]:
    seen: list[str] = []

    def finished() -> dict[str, Any] | None:
        document: dict[str, Any] = requests.get(status_url, timeout=30).json()
        seen.append(document["status"])
        return document if document["status"] in ("successful", "failed", "dismissed") else None

    result: dict[str, Any] = wait_for(finished, timeout_s)
    return result


def test_async_execution_publishes_a_cog(processing_suite: LiveSuite) -> None:
    settings = processing_suite.settings
    source = tiny_product(settings, "OGCAPI_SRC")
    started = time.monotonic()
    response = requests.post(
        _api(processing_suite, "processes/scale/execution"),
        json={"inputs": {"image": source.identifier, "factor": {"value": 4}}},
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    assert response.headers["Preference-Applied"] == "respond-async"
    status_url = response.headers["Location"]
    assert response.json()["status"] in ("accepted", "running")
    final = _wait(status_url)
    assert final["status"] == "successful", final
    assert final["progress"] == 100 and final["interface"] == "ogcapi"
    results = requests.get(f"{status_url}/results", timeout=30).json()
    href = results["scaled"]["href"]
    assert results["scaled"]["type"].startswith("image/tiff")
    cog = requests.get(href, timeout=30)
    assert cog.status_code == 200
    print(f"job end-to-end incl. COG download: {time.monotonic() - started:.2f} s")
    with (
        rasterio.open(io.BytesIO(cog.content)) as published,
        rasterio.open(source.file_path) as original,
    ):
        np.testing.assert_allclose(published.read(1), original.read(1) * 4.0)
    product_id = href.rsplit("/", 1)[-1].removesuffix(".tif")
    record = product_store(settings).get(product_id)
    assert record.extra["lineage"]["job_id"] == status_url.rsplit("/", 1)[-1]
    assert record.extra["lineage"]["source_ids"] == ["OGCAPI_SRC"]
    listing = requests.get(_api(processing_suite, "jobs"), timeout=30).json()
    assert status_url.rsplit("/", 1)[-1] in [job["jobID"] for job in listing["jobs"]]


def test_sync_execution_returns_results_and_own_url_inputs(processing_suite: LiveSuite) -> None:
    source = tiny_product(processing_suite.settings, "OGCAPI_OWN_URL")
    # A WCS URL of this suite is resolved to the product, never fetched over HTTP.
    wcs = processing_suite.url(
        f"wcs?service=WCS&version=2.0.1&request=GetCoverage&coverageId={source.identifier}"
    )
    response = requests.post(
        _api(processing_suite, "processes/scale/execution"),
        json={"inputs": {"image": {"href": wcs}}},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["scaled"]["href"].endswith(".tif")


def test_dismiss_running_job(processing_suite: LiveSuite) -> None:
    response = requests.post(
        _api(processing_suite, "processes/slow/execution"),
        json={"inputs": {"seconds": 60}},
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    status_url = response.headers["Location"]
    wait_for(
        lambda: requests.get(status_url, timeout=30).json()["status"] == "running", timeout_s=60
    )
    deleted = requests.delete(status_url, timeout=30)
    assert deleted.status_code == 200 and deleted.json()["status"] == "dismissed"
    time.sleep(0.5)
    assert requests.get(status_url, timeout=30).json()["status"] == "dismissed"
    results = requests.get(f"{status_url}/results", timeout=30)
    assert results.status_code == 404 and results.json()["title"] == "result-not-ready"


@pytest.mark.parametrize(
    ("process", "inputs", "status", "title"),
    [
        ("no-such-process", {}, 404, "NoSuchProcess"),
        ("echo", {}, 400, "MissingParameterValue"),
        ("echo", {"stringInput": "x", "integerInput": "many"}, 400, "InvalidParameterValue"),
        (
            "echo",
            {
                "stringInput": "x",
                "boundingBoxInput": {"bbox": [10, 50, 11, 51], "crs": "EPSG:3857"},
            },
            400,
            "InvalidParameterValue",
        ),
        (
            "echo",
            {"stringInput": "x", "boundingBoxInput": {"bbox": [10, 51, 11, 50]}},
            400,
            "InvalidParameterValue",
        ),
        ("scale", {"image": "NO_SUCH_PRODUCT"}, 400, "InvalidParameterValue"),
        ("scale", {"image": {"href": "file:///etc/passwd"}}, 403, "InvalidParameterValue"),
        (
            "scale",
            {"image": {"href": "http://127.0.0.1:1/private.tif"}},
            403,
            "InvalidParameterValue",
        ),
        (
            "scale",
            {"image": {"href": "http://169.254.169.254/latest/meta-data"}},
            403,
            "InvalidParameterValue",
        ),
    ],
)
def test_bad_input_is_a_problem_and_no_job(
    processing_suite: LiveSuite, process: str, inputs: dict[str, Any], status: int, title: str
) -> None:
    store = job_store(processing_suite.settings.database_url)
    before = store.count()
    response = requests.post(
        _api(processing_suite, f"processes/{process}/execution"),
        json={"inputs": inputs},
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["title"] == title
    assert store.count() == before


def test_non_overlapping_grids(processing_suite: LiveSuite) -> None:
    settings = processing_suite.settings
    before = tiny_product(settings, "GRID_A", origin_x=600000)
    after = tiny_product(settings, "GRID_B", origin_x=700000)
    inputs = {"inputs": {"before": before.identifier, "after": after.identifier}}
    sync = requests.post(
        _api(processing_suite, "processes/difference/execution"), json=inputs, timeout=60
    )
    assert sync.status_code == 400 and "do not overlap" in sync.json()["detail"]
    queued = requests.post(
        _api(processing_suite, "processes/difference/execution"),
        json=inputs,
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    final = _wait(queued.headers["Location"])
    assert final["status"] == "failed" and "do not overlap" in final["message"]
    results = requests.get(f"{queued.headers['Location']}/results", timeout=30)
    assert results.status_code == 400
    # The store is unharmed: the next job runs.
    ok = requests.post(
        _api(processing_suite, "processes/echo/execution"),
        json={"inputs": {"stringInput": "ok"}},
        timeout=60,
    )
    assert ok.status_code == 200 and ok.json()["stringOutput"] == "ok"


def test_malformed_bodies(processing_suite: LiveSuite) -> None:
    url = _api(processing_suite, "processes/echo/execution")
    assert requests.post(url, data=b"{not json", timeout=30).status_code == 400
    assert requests.post(url, json=[1, 2], timeout=30).status_code == 400
    assert requests.post(url, json={"inputs": [1]}, timeout=30).status_code == 400
    assert requests.get(_api(processing_suite, "jobs/nope"), timeout=30).status_code == 404
    assert requests.get(_api(processing_suite, "nowhere"), timeout=30).status_code == 404


def test_cloud_mask_updates_the_products_cloud_cover(processing_suite: LiveSuite) -> None:
    settings = processing_suite.settings
    store = product_store(settings)
    record = make_s2_product(settings.cog_dir, "CLOUDCOVER_SRC", size=64, seed=3)
    store.upsert(dataclasses.replace(record, cloud_cover=99.0))  # a stale metadata value
    response = requests.post(
        _api(processing_suite, "processes/cloud-mask/execution"),
        json={
            "inputs": {
                "product": record.identifier,
                "method": "rules",
                # an AOI over part of the product: its cover is not the product's
                "aoi": {
                    "bbox": list(record.bbox[:2])
                    + [record.bbox[0] + 0.001, record.bbox[1] + 0.001],
                    "crs": "EPSG:4326",
                },
            }
        },
        timeout=120,
    )
    assert response.status_code == 200, response.text
    results = response.json()
    product_cover = results["product_cloud_cover"]
    assert 0.0 <= product_cover <= 100.0 and product_cover != 99.0
    assert store.get(record.identifier).cloud_cover == pytest.approx(product_cover)
    # and the catalogue answers with it: a search for clear scenes now finds the product
    found = requests.get(
        processing_suite.url("stac/search"),
        params={"ids": record.identifier},
        timeout=30,
    ).json()["features"]
    assert found[0]["properties"]["eo:cloud_cover"] == pytest.approx(product_cover)

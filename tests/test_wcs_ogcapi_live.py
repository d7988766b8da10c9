"""OGC API - Coverages (pygeoapi over the product COGs) at /coverages."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import requests
from rasterio.io import MemoryFile

from ogcsdl.catalogue.factory import product_store
from tests.view_fixtures import ViewServices, make_s1_product, make_s2_product, start_view_services

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewServices]:
    directory = tmp_path_factory.mktemp("ogcapi-coverages")
    records = [
        make_s2_product(directory / "src", "s2-api"),
        make_s1_product(directory / "src", "s1-api"),
    ]
    services = start_view_services(directory, records)
    yield services
    services.close()


def test_collections_are_the_catalogue_products(view: ViewServices) -> None:
    response = requests.get(f"{view.base_url}/coverages/collections?f=json", timeout=60)
    assert response.status_code == 200
    ids = {collection["id"] for collection in response.json()["collections"]}
    assert ids == {record.identifier for record in product_store(view.settings).list()}
    conformance = requests.get(f"{view.base_url}/coverages/conformance?f=json", timeout=60)
    assert any("ogcapi-coverages" in c for c in conformance.json()["conformsTo"])


def test_coverage_subset_by_bbox_and_band(view: ViewServices) -> None:
    response = requests.get(
        f"{view.base_url}/coverages/collections/s2-api/coverage",
        params={"f": "GTiff", "bbox": "16.77,59.30,16.80,59.32"},
        timeout=60,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/tiff; application=geotiff"
    with MemoryFile(response.content) as memory, memory.open() as dataset:
        assert dataset.count == 6 and 0 < dataset.width < 256
        assert np.count_nonzero(dataset.read(3)) > 0
    # Band subsets by name, in GeoTIFF and CoverageJSON.
    red = requests.get(
        f"{view.base_url}/coverages/collections/s2-api/coverage",
        params={"f": "GTiff", "bbox": "16.77,59.30,16.80,59.32", "properties": "B04"},
        timeout=60,
    )
    assert red.status_code == 200, red.text[:300]
    with MemoryFile(red.content) as memory, memory.open() as dataset:
        assert dataset.count == 1
        with MemoryFile(response.content) as all_memory, all_memory.open() as all_bands:
            assert np.array_equal(dataset.read(1), all_bands.read(3))
    covjson = requests.get(
        f"{view.base_url}/coverages/collections/s2-api/coverage",
        params={"f": "json", "bbox": "16.77,59.30,16.78,59.31", "properties": "B04"},
        timeout=60,
    )
    assert covjson.status_code == 200, covjson.text[:300]
    document = covjson.json()
    assert document["type"] == "Coverage" and len(document["ranges"]) == 1
    (values,) = (r["values"] for r in document["ranges"].values())
    assert len(values) > 10 and max(v for v in values if v is not None) > 0


def test_unknown_collection_and_path_are_404(view: ViewServices) -> None:
    missing = requests.get(f"{view.base_url}/coverages/collections/nope/coverage", timeout=60)
    assert missing.status_code == 404
    assert requests.get(f"{view.base_url}/coverages/nowhere", timeout=60).status_code == 404


def test_band_names_and_one_coverage_json_parameter_per_band(view: ViewServices) -> None:
    record = product_store(view.settings).get("s2-api")
    names = [band.name for band in record.bands]
    schema = requests.get(
        f"{view.base_url}/coverages/collections/s2-api/schema?f=json", timeout=60
    ).json()
    assert list(schema["properties"]) == names
    document = requests.get(
        f"{view.base_url}/coverages/collections/s2-api/coverage",
        params={"f": "json", "bbox": "16.77,59.30,16.78,59.31", "properties": "B04,B08"},
        timeout=60,
    ).json()
    assert list(document["parameters"]) == ["B04", "B08"] == list(document["ranges"])
    ranges = document["ranges"]
    assert ranges["B04"]["values"] != ranges["B08"]["values"]  # not one band copied twice
    height, width = ranges["B04"]["shape"]
    assert len(ranges["B04"]["values"]) == height * width
    axes = document["domain"]["axes"]
    assert axes["x"]["num"] == width and axes["y"]["num"] == height
    system = document["domain"]["referencing"][0]["system"]
    assert system["id"] == "http://www.opengis.net/def/crs/EPSG/0/32633"
    unknown = requests.get(
        f"{view.base_url}/coverages/collections/s2-api/coverage",
        params={"f": "json", "properties": "B99"},
        timeout=60,
    )
    assert unknown.status_code == 400


def test_every_collection_link_answers(view: ViewServices) -> None:
    collection = requests.get(
        f"{view.base_url}/coverages/collections/s2-api?f=json", timeout=60
    ).json()
    for link in collection["links"]:
        if link["href"].startswith(view.base_url) and "html" not in link.get("type", ""):
            answer = requests.get(link["href"], timeout=60)
            assert answer.status_code == 200, (link, answer.status_code)


def test_gdal_reads_the_geotiff_coverage_link(view: ViewServices, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """GDAL reads the collection's typed GeoTIFF coverage link. (GDAL 3.6's OGCAPI driver
    itself implements a pre-1.0 Coverages draft: /coverage/domainset and /rangetype, and
    EPSG:4326 grids only; that is a client limit, listed in the client matrix.)"""
    import os
    import subprocess

    from tests.catalogue_fixtures import require_gdal_cli

    require_gdal_cli()
    collection = requests.get(
        f"{view.base_url}/coverages/collections/s2-api?f=json", timeout=60
    ).json()
    (geotiff,) = [
        link["href"]
        for link in collection["links"]
        if link["rel"].endswith("/coverage") and link["type"] == "image/tiff; application=geotiff"
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    info = subprocess.run(
        ["gdalinfo", f"/vsicurl_streaming/{geotiff}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert info.returncode == 0, info.stderr[-800:]
    assert "Band 6" in info.stdout and "32633" in info.stdout

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
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/tiff"
    with MemoryFile(response.content) as memory, memory.open() as dataset:
        assert dataset.count == 6 and 0 < dataset.width < 256
        assert np.count_nonzero(dataset.read(3)) > 0
    # One band as CoverageJSON (pygeoapi's GeoTIFF writer mishandles band subsets).
    covjson = requests.get(
        f"{view.base_url}/coverages/collections/s2-api/coverage",
        params={"f": "json", "bbox": "16.77,59.30,16.78,59.31", "properties": "3"},
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

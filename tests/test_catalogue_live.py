"""The catalogue through the gateway of the real suite (``ogcsdl serve``): products
upserted into the suite's store are found at ``<base>/csw`` by OWSLib, GDAL and
OpenSearch, with the gateway's URL advertised everywhere."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest
import requests
from lxml import etree
from owslib import fes
from owslib.catalogue.csw2 import CatalogueServiceWeb as Csw2

from ogcsdl.catalogue.factory import product_store
from tests.catalogue_fixtures import CRS84, NS, require_gdal_cli, sample_products
from tests.live import LiveSuite

pytestmark = pytest.mark.live

PREFIX = "LIVE-CAT-"


@pytest.fixture(scope="module")
def live_ids(suite: LiveSuite) -> set[str]:
    store = product_store(suite.settings)
    ids = set()
    for record in sample_products():
        live = dataclasses.replace(record, identifier=PREFIX + record.identifier)
        store.upsert(live)
        ids.add(live.identifier)
    return ids


def test_health_reports_the_catalogue(suite: LiveSuite) -> None:
    report = requests.get(suite.url("health"), timeout=30).json()
    assert report["components"]["catalogue"]["status"] == "up"


def test_owslib_through_the_gateway(suite: LiveSuite, live_ids: set[str]) -> None:
    csw = Csw2(suite.url("csw"))
    get_records = csw.get_operation_by_name("GetRecords")
    assert get_records.methods[0]["url"].rstrip("/?") == suite.url("csw")
    query = fes.And(
        [
            fes.BBox([16.5, 58.5, 18.5, 60.5], crs=CRS84),
            fes.PropertyIsLessThanOrEqualTo("apiso:CloudCover", "20"),
        ]
    )
    csw.getrecords2([query], maxrecords=100)
    assert set(csw.records) & live_ids == {PREFIX + "S2A-STHLM-0601"}


def test_gdal_through_the_gateway(suite: LiveSuite, live_ids: set[str]) -> None:
    result = subprocess.run(
        [
            require_gdal_cli(),
            "-ro",
            "-q",
            f"CSW:{suite.url('csw')}",
            "records",
            "-spat",
            "10.5",
            "56.5",
            "12.5",
            "58.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = {
        line.partition(" = ")[2].strip()
        for line in result.stdout.splitlines()
        if line.strip().startswith("identifier (")
    }
    assert found & live_ids == {PREFIX + "S2A-GBG-0715"}


def test_opensearch_through_the_gateway(suite: LiveSuite, live_ids: set[str]) -> None:
    response = requests.get(
        suite.url("csw"),
        params={
            "mode": "opensearch",
            "service": "CSW",
            "version": "3.0.0",
            "request": "GetRecords",
            "typenames": "csw:Record",
            "elementsetname": "full",
            "maxrecords": "100",
            "eo:platform": "Sentinel-1A",
        },
        timeout=30,
    )
    feed = etree.fromstring(response.content)
    found = {node.text for node in feed.iterfind(".//dc:identifier", NS)}
    assert found & live_ids == {PREFIX + "S1A-STHLM-0605"}
    link = feed.find("atom:link[@rel='search']", NS)
    assert link is not None and link.get("href", "").startswith(suite.url("csw"))


def test_delete_disappears_through_the_gateway(suite: LiveSuite, live_ids: set[str]) -> None:
    store = product_store(suite.settings)
    record = dataclasses.replace(sample_products()[0], identifier=PREFIX + "TO-DELETE")
    store.upsert(record)
    params = {
        "service": "CSW",
        "version": "3.0.0",
        "request": "GetRecordById",
        "id": record.identifier,
    }
    assert requests.get(suite.url("csw"), params=params, timeout=30).status_code == 200
    store.delete(record.identifier)
    gone = requests.get(suite.url("csw"), params=params, timeout=30)
    assert gone.status_code == 404
    assert b"ExceptionReport" in gone.content


def test_iso_download_link_opens_the_cog(
    suite: LiveSuite, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The online resource of the ISO record is the gateway URL of the product's COG,
    and GDAL opens it over HTTP."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_bounds

    path = tmp_path_factory.mktemp("cog") / "tiny.tif"
    profile = {
        "driver": "COG",
        "width": 64,
        "height": 64,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:4326",
        "transform": from_bounds(17, 59, 18, 60, 64, 64),
    }
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(np.arange(64 * 64, dtype="uint16").reshape(1, 64, 64))
    record = dataclasses.replace(
        sample_products()[0],
        identifier=PREFIX + "WITH-COG",
        file_path=str(path),
        file_size=path.stat().st_size,
        crs="EPSG:4326",
    )
    product_store(suite.settings).upsert(record)
    csw = Csw2(suite.url("csw"))
    csw.getrecordbyid([record.identifier], outputschema="http://www.isotc211.org/2005/gmd")
    link = csw.records[record.identifier].distribution.online[0].url
    assert link == suite.url(f"data/{record.identifier}.tif")
    info = subprocess.run(
        [require_gdal_cli("gdalinfo"), f"/vsicurl/{link}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert info.returncode == 0, info.stderr
    assert "Size is 64, 64" in info.stdout

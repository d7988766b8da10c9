"""Real data through the processing interfaces: flood mapping on the Sen1Floods11
Sentinel-1 chip (Spain, 2019-09-17), submitted asynchronously via OGC API - Processes,
published as a COG with lineage."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import Band, ProductRecord
from tests.live import LiveSuite
from tests.processing_support import wait_for
from tests.required import unavailable

pytestmark = [pytest.mark.live, pytest.mark.realdata]


def _register_s1(suite: LiveSuite, path: Path) -> str:
    with rasterio.open(path) as src:
        minx, miny, maxx, maxy = src.bounds
        width, height, res = src.width, src.height, src.res
    when = datetime(2019, 9, 17, 18, 0, tzinfo=UTC)
    record = ProductRecord(
        identifier="S1_SPAIN_7370579",
        title="Sentinel-1 GRD, Spain flood (Sen1Floods11 chip)",
        collection="sentinel-1-grd",
        start=when,
        end=when,
        footprint_wkt=f"POLYGON(({minx} {miny},{maxx} {miny},{maxx} {maxy},{minx} {maxy},{minx} {miny}))",
        bbox=(minx, miny, maxx, maxy),
        crs="EPSG:4326",
        resolution=(abs(res[0]), abs(res[1])),
        width=width,
        height=height,
        bands=[Band("VV", unit="dB"), Band("VH", unit="dB")],
        file_path=str(path),
        file_size=path.stat().st_size,
        dtype="float32",
        platform="Sentinel-1",
        sensor_type="RADAR",
        product_type="GRD",
    )
    product_store(suite.settings).upsert(record)
    return record.identifier


def test_flood_mapping_on_real_sentinel1(processing_suite: LiveSuite, shared_data: Path) -> None:
    s1 = shared_data / "sen1floods11" / "Spain_7370579_S1Hand.tif"
    if not s1.exists():
        unavailable("SHARED_DATA", f"{s1} is missing (set OGCSDL_SHARED_DATA)")
    product_id = _register_s1(processing_suite, s1)
    response = requests.post(
        processing_suite.url("ogcapi/processes/flood-mapping/execution"),
        json={"inputs": {"s1": product_id}},
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    status_url = response.headers["Location"]
    final = wait_for(
        lambda: (
            (doc := requests.get(status_url, timeout=30).json())["status"]
            in ("successful", "failed")
            and doc
        ),
        timeout_s=300,
    )
    assert final["status"] == "successful", final["message"]
    results = requests.get(f"{status_url}/results", timeout=30).json()
    cog = requests.get(results["water"]["href"], timeout=60)
    with rasterio.open(io.BytesIO(cog.content)) as water:
        assert water.crs.to_epsg() == 4326 and (water.width, water.height) == (512, 512)
        classes = water.read(1)
    water_fraction = float(np.isin(classes, [2, 3]).mean())
    print(f"flood-mapping water fraction: {water_fraction:.3f}")
    assert 0.001 < water_fraction < 0.9  # classes 2 water, 3 new water: some, not all
    assert set(np.unique(classes)) <= {0, 1, 2, 3}
    output_id = results["water"]["href"].rsplit("/", 1)[-1].removesuffix(".tif")
    record = product_store(processing_suite.settings).get(output_id)
    assert record.extra["lineage"]["source_ids"] == [product_id]
    assert record.start == datetime(2019, 9, 17, 18, 0, tzinfo=UTC)

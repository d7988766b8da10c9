"""Real Sentinel-1/-2 chips (sen1floods11, EPSG:4326) through WCS and the tile services:
Lat/Long axis order end to end with GDAL's WCS client, and real reflectance rendered."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
import requests
from PIL import Image
from rasterio.windows import Window

from ogcsdl.catalogue.record import SENTINEL1_GRD, SENTINEL2_L1C, Band, ProductRecord
from ogcsdl.ingest.bands import S2_BANDS as S2_BAND_INFO
from tests.required import unavailable
from tests.view_fixtures import ViewServices, start_view_services

pytestmark = [pytest.mark.live, pytest.mark.realdata]
S2_NAMES = tuple(info.name for info in S2_BAND_INFO)  # the 13 MSI bands, product order


def _record(
    source: Path,
    target: Path,
    identifier: str,
    collection: str,
    bands: tuple[str, ...],
    start: datetime,
) -> ProductRecord:
    rasterio.shutil.copy(source, target, driver="COG", compress="deflate")
    with rasterio.open(target) as dataset:
        west, south, east, north = dataset.bounds
        return ProductRecord(
            identifier=identifier,
            title=identifier,
            collection=collection,
            start=start,
            end=start,
            footprint_wkt=f"POLYGON(({west} {south},{east} {south},{east} {north},"
            f"{west} {north},{west} {south}))",
            bbox=(west, south, east, north),
            crs="EPSG:4326",
            resolution=(abs(dataset.res[0]), abs(dataset.res[1])),
            width=dataset.width,
            height=dataset.height,
            bands=[Band(name) for name in bands],
            file_path=str(target),
            file_size=target.stat().st_size,
            dtype=dataset.dtypes[0],
            nodata=dataset.nodata,
        )


@pytest.fixture(scope="module")
def view(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewServices]:
    chips = shared_data / "sen1floods11"
    if not (chips / "Spain_7370579_S1Hand.tif").exists():
        unavailable(
            "SHARED_DATA", f"sen1floods11 chips absent from {chips} (set OGCSDL_SHARED_DATA)"
        )
    directory = tmp_path_factory.mktemp("realdata")
    (directory / "cogs").mkdir()
    records = [
        _record(
            chips / "Spain_7370579_S1Hand.tif",
            directory / "cogs" / "s1.tif",
            "spain-s1-20190917",
            SENTINEL1_GRD,
            ("VV", "VH"),
            datetime(2019, 9, 17, tzinfo=UTC),
        ),
        _record(
            chips / "Spain_7370579_S2Hand.tif",
            directory / "cogs" / "s2.tif",
            "spain-s2-20190918",
            SENTINEL2_L1C,
            S2_NAMES,
            datetime(2019, 9, 18, tzinfo=UTC),
        ),
    ]
    services = start_view_services(directory, records)
    yield services
    services.close()


def test_lat_long_coverage_through_gdal_equals_the_cog_window(
    view: ViewServices, tmp_path: Path
) -> None:
    wcs = f"{view.base_url}/wcs"
    described = requests.get(
        wcs,
        params={
            "SERVICE": "WCS",
            "VERSION": "2.0.1",
            "REQUEST": "DescribeCoverage",
            "COVERAGEID": "spain-s1-20190917",
        },
        timeout=60,
    )
    assert b'axisLabels="Lat Long"' in described.content
    out = tmp_path / "s1.tif"
    subprocess.run(
        [
            "gdal_translate",
            "-q",
            "-srcwin",
            "100",
            "60",
            "200",
            "150",
            f"WCS:{wcs}?version=2.0.1&coverage=spain-s1-20190917",
            str(out),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    cog = view.settings.data_dir / "cogs" / "s1.tif"
    with rasterio.open(out) as got, rasterio.open(cog) as source:
        expected = source.read(window=Window(100, 60, 200, 150))
        assert np.array_equal(got.read(), expected, equal_nan=True)


def test_real_scene_renders_in_wms_and_wmts(view: ViewServices) -> None:
    with rasterio.open(view.settings.data_dir / "cogs" / "s2.tif") as dataset:
        west, south, east, north = dataset.bounds
    response = requests.get(
        f"{view.base_url}/maps/service",
        params={
            "SERVICE": "WMS",
            "VERSION": "1.3.0",
            "REQUEST": "GetMap",
            "LAYERS": "sentinel-2-l1c",
            "STYLES": "",
            "CRS": "EPSG:4326",
            "BBOX": f"{south},{west},{north},{east}",
            "WIDTH": "128",
            "HEIGHT": "128",
            "FORMAT": "image/png",
            "TIME": "2019-09-18T00:00:00Z",
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text[:300]
    rgba = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))
    assert (rgba[..., 3] == 255).mean() > 0.9 and rgba[..., :3].std() > 5  # real texture

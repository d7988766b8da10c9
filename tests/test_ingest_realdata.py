"""Ingest of the real Sentinel samples in ../shared/data (skipped when absent)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import rasterio
from shapely import wkt
from shapely.geometry import box, shape

from ogcsdl.config import Settings, load_settings
from ogcsdl.ingest import ingest_product
from ogcsdl.schema import create_schema

pytestmark = pytest.mark.realdata


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(None, data_dir=tmp_path / "var")
    settings.ensure_dirs()
    create_schema(settings)
    return settings


def test_oscd_rennes_band_folder(shared_data: Path, settings: Settings) -> None:
    city = shared_data / "oscd" / "rennes"
    record = ingest_product(settings, city / "imgs_1")
    assert record.platform == "Sentinel-2A"
    assert record.collection == "sentinel-2-l1c" and record.processing_level == "Level-1C"
    assert record.start == datetime(2015, 8, 21, tzinfo=UTC)  # dates.txt, not the file names
    assert len(record.bands) == 13 and record.band_names[8] == "B8A"
    assert record.crs == "EPSG:4326"
    with rasterio.open(next((city / "imgs_1").glob("*_B02.tif"))) as b02:
        assert (record.width, record.height) == (b02.width, b02.height)
    geojson = json.loads((city / "rennes.geojson").read_text(encoding="utf-8"))
    published = shape(geojson["features"][0]["geometry"])
    footprint = wkt.loads(record.footprint_wkt)
    assert published.buffer(1e-4).contains(footprint)
    assert footprint.area > 0.95 * published.area
    assert box(*record.bbox).equals_exact(box(*published.bounds), 1e-4)
    with rasterio.open(record.file_path) as cog:
        assert cog.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert cog.overviews(1)

    second = ingest_product(settings, city / "imgs_2")
    assert second.start == datetime(2017, 6, 21, 11, 6, 51, tzinfo=UTC)
    assert second.identifier != record.identifier


def test_sen1floods11_s1_chip(shared_data: Path, settings: Settings) -> None:
    path = shared_data / "sen1floods11" / "Spain_7370579_S1Hand.tif"
    # The chip carries no date; the dataset documents 2019-09-17.
    record = ingest_product(settings, path, acquired=datetime(2019, 9, 17, tzinfo=UTC))
    assert record.collection == "sentinel-1-grd" and record.instrument == "C-SAR"
    assert record.band_names == ["VV", "VH"]
    assert {band.unit for band in record.bands} == {"dB"}
    assert record.start.date().isoformat() == "2019-09-17"
    assert record.extra["datetime_source"] == "given at ingest (--datetime)"
    minx, miny, maxx, maxy = record.bbox
    assert -0.79 < minx < maxx < -0.73 and 38.08 < miny < maxy < 38.13

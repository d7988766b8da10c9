"""Ingest end to end on generated products: the COG, the record, the footprint, re-ingest."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from shapely import wkt
from shapely.geometry import box

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import Settings, load_settings
from ogcsdl.errors import IngestError
from ogcsdl.ingest import find_products, ingest_product
from ogcsdl.schema import create_schema
from tests import rasters


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Small blocks so the small test rasters get overview levels as a full tile does.
    settings = load_settings(None, data_dir=tmp_path / "var", ingest={"blocksize": 64})
    settings.ensure_dirs()
    create_schema(settings)
    return settings


def _assert_cog(path: str) -> None:
    with rasterio.open(path) as src:
        assert src.driver == "GTiff"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.profile["tiled"]


def test_l2a_safe_becomes_one_cog_on_the_10m_grid(tmp_path: Path, settings: Settings) -> None:
    safe = rasters.write_s2_safe_product(tmp_path / "in", "L2A", size=120)
    record = ingest_product(settings, safe)

    _assert_cog(record.file_path)
    b04 = next(safe.glob("GRANULE/*/IMG_DATA/R10m/*_B04_10m.jp2"))
    scl = next(safe.glob("GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2"))
    with (
        rasterio.open(b04) as ten,
        rasterio.open(record.file_path) as cog,
        rasterio.open(scl) as classes,
    ):
        assert (cog.width, cog.height, cog.transform, cog.crs) == (
            ten.width,
            ten.height,
            ten.transform,
            ten.crs,
        )
        assert cog.count == 13 and cog.nodata == 0
        assert list(cog.descriptions) == record.band_names
        assert cog.overviews(1), "internal overviews"
        assert cog.compression is not None
        # 10 m bands are copied exactly; nodata (outside the swath) stays 0.
        np.testing.assert_array_equal(cog.read(4), ten.read(1))
        # SCL is resampled with nearest: only real classes, same histogram shape.
        cog_scl = cog.read(13)
        assert set(np.unique(cog_scl)) <= set(np.unique(classes.read(1)))
        np.testing.assert_array_equal(cog_scl[::2, ::2], classes.read(1))
        assert cog.tags(1)["WAVELENGTH_UM"] == "0.443"

    assert record.crs == "EPSG:32633" and record.resolution == (10.0, 10.0)
    assert (record.width, record.height) == (120, 120)
    assert record.platform == "Sentinel-2A" and record.instrument == "MSI"
    assert record.processing_level == "Level-2A" and record.product_type == "S2MSI2A"
    assert record.cloud_cover is not None
    assert record.file_size == Path(record.file_path).stat().st_size
    assert record.extra["cog_href"] == settings.url(f"data/{record.identifier}.tif")
    assert record.extra["overview_resampling"] == "NEAREST"  # a class band is inside
    assert "SCL nearest" in (record.lineage or "")


def test_footprint_follows_valid_data_not_the_bbox(tmp_path: Path, settings: Settings) -> None:
    path = rasters.write_partial_valid(tmp_path / "triangle.tif")
    record = ingest_product(settings, path)
    footprint = wkt.loads(record.footprint_wkt)
    assert footprint.geom_type == "Polygon" and footprint.is_valid
    bbox_area = box(*record.bbox).area
    assert 0.4 < footprint.area / bbox_area < 0.6  # a triangle: half its bounding box
    lon, lat = footprint.centroid.x, footprint.centroid.y
    assert 17 < lon < 19 and 59 < lat < 60  # UTM 33N metres became WGS84 degrees


def test_s2_safe_footprint_excludes_the_swath_edge(tmp_path: Path, settings: Settings) -> None:
    safe = rasters.write_s2_safe_product(tmp_path / "in", "L1C", size=120)
    record = ingest_product(settings, safe)
    footprint = wkt.loads(record.footprint_wkt)
    assert footprint.area < 0.95 * box(*record.bbox).area


def test_s1_float_nodata_becomes_a_finite_value(tmp_path: Path, settings: Settings) -> None:
    path = rasters.write_s1_product(tmp_path / "in")
    with rasterio.open(path) as src:
        source = src.read(1)
    record = ingest_product(settings, path)
    with rasterio.open(record.file_path) as cog:
        data = cog.read(1)
        assert cog.nodata == -9999.0 and cog.dtypes[0] == "float32"
    np.testing.assert_array_equal(np.isnan(source), data == -9999.0)
    np.testing.assert_allclose(data[~np.isnan(source)], source[~np.isnan(source)])
    assert record.nodata == -9999.0 and record.collection == "sentinel-1-grd"
    assert record.sensor_type == "RADAR"


def test_reingest_updates_one_record_and_one_file(tmp_path: Path, settings: Settings) -> None:
    folder = rasters.write_s2_band_folder(tmp_path / "imgs_2")
    first = ingest_product(settings, folder)
    second = ingest_product(settings, folder)
    records = product_store(settings).list()
    assert [r.identifier for r in records] == [first.identifier]
    assert second.updated >= first.updated
    assert sorted(p.name for p in settings.cog_dir.iterdir()) == [f"{first.identifier}.tif"]


def test_band_folder_in_wgs84_is_resampled_to_the_finest_band(
    tmp_path: Path, settings: Settings
) -> None:
    folder = rasters.write_s2_band_folder(tmp_path / "imgs_1", crs="EPSG:4326")
    record = ingest_product(settings, folder, collection="my-collection")
    assert record.collection == "my-collection"
    assert record.crs == "EPSG:4326" and (record.width, record.height) == (60, 60)
    assert record.resolution == pytest.approx((1e-4, 1e-4))
    with rasterio.open(record.file_path) as cog:
        b01 = cog.read(1)
    assert b01.min() > 0  # bilinear from 60 m, no holes


def test_netcdf_ingests_with_time_from_the_file(tmp_path: Path, settings: Settings) -> None:
    path = rasters.write_netcdf(tmp_path / "indices.nc")
    record = ingest_product(settings, path)
    assert record.crs == "EPSG:4326" and record.start.year == 2021
    assert record.extra["crs_source"].startswith("CF latitude/longitude")
    with rasterio.open(record.file_path) as cog:
        assert cog.count == 4
        assert cog.bounds.left == pytest.approx(18.0) and cog.bounds.top == pytest.approx(59.4)


def test_zipped_safe_is_read_in_place_as_the_same_product(
    tmp_path: Path, settings: Settings
) -> None:
    safe = rasters.write_s2_safe_product(tmp_path / "in", "L2A", size=60)
    archive = shutil.make_archive(str(tmp_path / "zips" / safe.stem), "zip", safe.parent, safe.name)
    from_zip = ingest_product(settings, Path(archive))
    with rasterio.open(from_zip.file_path) as cog:
        zipped_pixels = cog.read()
    from_folder = ingest_product(settings, safe)
    assert from_zip.identifier == from_folder.identifier
    assert from_zip.extra["layout"] == "SAFE (zip)"
    # the sun angles of GRANULE/*/MTD_TL.xml reach the record from the zip too
    assert from_zip.extra["sun_azimuth"] == from_folder.extra["sun_azimuth"] > 0
    with rasterio.open(from_folder.file_path) as cog:
        np.testing.assert_array_equal(cog.read(), zipped_pixels)
    assert len(product_store(settings).list()) == 1
    assert list(find_products(tmp_path / "zips")) == [Path(archive)]


def test_zip_without_a_safe_is_refused(tmp_path: Path, settings: Settings) -> None:
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(IngestError, match="no Sentinel-2 SAFE"):
        ingest_product(settings, other)

"""Each product layout is recognised and described correctly (metadata only, no COG)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ogcsdl.errors import IngestError
from ogcsdl.ingest import detect, find_products
from tests import rasters


def test_safe_l2a_metadata_comes_from_the_mtd_xml(tmp_path: Path) -> None:
    safe = rasters.write_s2_safe_product(tmp_path, "L2A")
    reader = detect(safe)
    product = reader.read(safe)
    assert reader.name == "sentinel-2-safe"
    assert product.identifier == safe.name.removesuffix(".SAFE")
    assert product.collection == "sentinel-2-l2a"
    assert product.platform == "Sentinel-2A"
    assert product.product_type == "S2MSI2A"
    assert product.processing_level == "Level-2A"
    assert product.start == datetime(2021, 8, 14, 10, 20, 31, tzinfo=UTC)
    assert product.end > product.start
    assert product.cloud_cover is not None and 5 < product.cloud_cover < 40
    names = [band.band.name for band in product.bands]
    # L2A has no B10; SCL is kept; each band at its native resolution.
    assert names == [
        "B01",
        "B02",
        "B03",
        "B04",
        "B05",
        "B06",
        "B07",
        "B08",
        "B8A",
        "B09",
        "B11",
        "B12",
        "SCL",
    ]
    by_name = {band.band.name: band for band in product.bands}
    assert "_10m" in by_name["B02"].dataset  # not the 20 m copy Sen2Cor also ships
    assert by_name["SCL"].categorical and not by_name["B04"].categorical
    assert by_name["B04"].band.center_wavelength_um == pytest.approx(0.665)
    assert product.extra["tile_id"] == "33VXF"
    assert product.extra["relative_orbit"] == 65
    # MTD_TL.xml's mean sun angles (cloud shadows): mid-August, ~10:20 UTC, 59 N
    assert 140 < product.extra["sun_azimuth"] < 175 and 40 < product.extra["sun_zenith"] < 55


def test_safe_l1c_has_13_bands_and_accepts_the_mtd_file_itself(tmp_path: Path) -> None:
    safe = rasters.write_s2_safe_product(tmp_path, "L1C")
    product = detect(safe / "MTD_MSIL1C.xml").read(safe / "MTD_MSIL1C.xml")
    assert product.collection == "sentinel-2-l1c"
    assert len(product.bands) == 13 and product.bands[10].band.name == "B10"


def test_safe_metadata_is_parsed_without_resolving_entities(tmp_path: Path) -> None:
    safe = rasters.write_s2_safe_product(tmp_path, "L1C")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    mtd = safe / "MTD_MSIL1C.xml"
    text = mtd.read_text(encoding="utf-8")
    text = text.replace(
        "<?xml version='1.0' encoding='UTF-8'?>",
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]>',
    ).replace("<DATATAKE_TYPE>INS-NOBS</DATATAKE_TYPE>", "<DATATAKE_TYPE>&s;</DATATAKE_TYPE>")
    mtd.write_text(text, encoding="utf-8")
    product = detect(safe).read(safe)
    assert "TOPSECRET" not in repr(product)


def test_band_folder_with_oper_names_takes_the_date_from_dates_txt(tmp_path: Path) -> None:
    folder = rasters.write_s2_band_folder(
        tmp_path / "city" / "imgs_1",
        prefix="S2A_OPER_MSI_L1C_TL_EPA__20160706T155721_A000849_T30UWU",
        dates_txt="date_1: 20150821\ndate_2: 20170621\n",
    )
    reader = detect(folder)
    product = reader.read(folder)
    assert reader.name == "sentinel-2-band-folder"
    assert product.start == datetime(2015, 8, 21, tzinfo=UTC)  # not the 2016 production time
    assert product.platform == "Sentinel-2A"
    assert product.collection == "sentinel-2-l1c"
    assert product.extra["tile_id"] == "30UWU"
    assert product.extra["absolute_orbit"] == 849
    assert [b.band.name for b in product.bands][-4:] == ["B09", "B10", "B11", "B12"]


def test_band_folder_with_compact_names_uses_the_sensing_time(tmp_path: Path) -> None:
    folder = rasters.write_s2_band_folder(tmp_path / "imgs_2", prefix="T40QBM_20180328T065919")
    product = detect(folder).read(folder)
    assert product.start == datetime(2018, 3, 28, 6, 59, 19, tzinfo=UTC)
    assert product.platform == "Sentinel-2"  # the name does not say A or B
    assert product.identifier == "S2_MSIL1C_20180328T065919_T40QBM"


def test_band_folder_without_any_date_is_refused_with_advice(tmp_path: Path) -> None:
    folder = rasters.write_s2_band_folder(tmp_path / "bands", prefix="scene")
    with pytest.raises(IngestError, match="acquisition date"):
        detect(folder).read(folder)


def test_s1_product_name_gives_platform_and_times(tmp_path: Path) -> None:
    path = rasters.write_s1_product(tmp_path)
    reader = detect(path)
    product = reader.read(path)
    assert reader.name == "sentinel-1-geotiff"
    assert product.collection == "sentinel-1-grd"
    assert product.platform == "Sentinel-1A"
    assert product.start == datetime(2021, 8, 18, 5, 23, 13, tzinfo=UTC)
    assert product.extra["absolute_orbit"] == 39298
    assert [band.band.name for band in product.bands] == ["VV", "VH"]
    assert {band.band.unit for band in product.bands} == {"dB"}


@pytest.mark.parametrize(("linear", "unit"), [(False, "dB"), (True, "linear")])
def test_s1_chip_scale_is_detected_from_the_values(tmp_path: Path, linear: bool, unit: str) -> None:
    path = rasters.write_s1_chip(tmp_path / "Spain_1_S1Hand.tif", linear=linear)
    product = detect(path).read(path)
    assert product.extra["backscatter_scale"] == unit
    assert product.bands[0].band.unit == unit
    assert "modification time" in product.extra["datetime_source"]  # honest about the date


def test_generic_geotiff_identifier_is_stem_plus_content_hash(tmp_path: Path) -> None:
    one = rasters.write_geotiff(tmp_path / "a" / "image.tif", rasters.reflectance_dn(32)[:3])
    two = rasters.write_geotiff(tmp_path / "b" / "image.tif", rasters.reflectance_dn(32, 5)[:3])
    first, second = detect(one).read(one), detect(two).read(two)
    assert detect(one).name == "generic-raster"
    assert first.identifier.startswith("image-") and first.identifier != second.identifier
    assert first.identifier == detect(one).read(one).identifier  # stable
    assert first.collection == "raster"


def test_netcdf_variables_with_a_time_axis_become_bands(tmp_path: Path) -> None:
    path = rasters.write_netcdf(tmp_path / "indices.nc")
    product = detect(path).read(path)
    names = [band.band.name for band in product.bands]
    assert sorted(names) == ["lst_1", "lst_2", "ndvi_1", "ndvi_2"]
    assert product.start == datetime(2021, 8, 6, 10, tzinfo=UTC)
    assert product.end == datetime(2021, 8, 18, 10, tzinfo=UTC)
    assert product.title == "Test NDVI and LST" and product.platform == "Sentinel-3A"
    assert {band.band.unit for band in product.bands} == {"1", "K"}


def test_find_products_scans_a_tree_like_shared_data(tmp_path: Path) -> None:
    rasters.write_s2_band_folder(tmp_path / "oscd" / "x" / "imgs_1", dates_txt="date_1: 20200101\n")
    rasters.write_geotiff(
        tmp_path / "oscd" / "x" / "cm" / "x-cm.tif", rasters.reflectance_dn(8)[0], crs=None
    )
    safe = rasters.write_s2_safe_product(tmp_path / "safes")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    found = sorted(str(path.relative_to(tmp_path)) for path in find_products(tmp_path))
    assert found == [
        "oscd/x/cm/x-cm.tif",
        "oscd/x/imgs_1",
        str(safe.relative_to(tmp_path)),
    ]


def test_detect_explains_what_fits(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(IngestError, match="SAFE folder .* GeoTIFF/COG/NetCDF"):
        detect(tmp_path / "readme.txt")
    with pytest.raises(IngestError, match="no such file"):
        detect(tmp_path / "missing.tif")

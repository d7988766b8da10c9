"""Processors on small synthetic scenes with known answers: planted clouds and shadows,
a planted lake; chunked (dask) runs equal in-memory runs. Change detection has its own
tests in test_change_detection.py."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from pyproj import Geod

from processes import classes
from processes.base import BoundingBox, Raster
from processes.cloud_mask import CloudMask
from processes.errors import MissingProcessInput, ProcessInputError
from processes.flood_mapping import FloodMapping
from processes.raster_ops import area_km2, otsu_threshold, pixel_area_km2
from processes.registry import validate_inputs

UTM = "EPSG:32633"
ORIGIN = Affine(10, 0, 500000, 0, -10, 6500000)  # 10 m pixels
GENERIC = ["Blue", "Green", "Red", "NIR", "SWIR1", "SWIR2"]
S2_SIX = ["B02", "B03", "B04", "B08", "B11", "B12"]
VEGETATION = (0.05, 0.08, 0.05, 0.35, 0.18, 0.09)
CLOUD = (0.55, 0.52, 0.50, 0.50, 0.45, 0.35)
SHADOW = (0.03, 0.03, 0.02, 0.08, 0.05, 0.03)


class Context:
    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[tuple[float, str]] = []
        self.fail_after = fail_after

    def progress(self, percent: float, message: str = "") -> None:
        self.calls.append((percent, message))
        if self.fail_after is not None and len(self.calls) > self.fail_after:
            raise RuntimeError("job dismissed")


def raster(
    values: np.ndarray,
    names: list[str],
    *,
    chunks: int | None = None,
    nodata=None,
    crs=UTM,
    transform=ORIGIN,
    ids=("src",),
) -> Raster:
    data = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": names})
    if chunks:
        data = data.chunk({"band": 1, "y": chunks, "x": chunks})
    return Raster(data=data, crs=crs, transform=transform, nodata=nodata, source_ids=ids)


def cloudy_scene(size: int = 192) -> np.ndarray:
    rng = np.random.default_rng(1)
    img = np.empty((6, size, size), dtype=np.float32)
    for i, value in enumerate(VEGETATION):
        img[i] = value + rng.normal(0, 0.004, (size, size))
    img[:, 40:80, 50:90] = np.array(CLOUD, dtype=np.float32)[:, None, None]  # 40 x 40 cloud
    img[:, 85:105, 60:100] = np.array(SHADOW, dtype=np.float32)[:, None, None]  # 20 x 40 shadow
    return img


def run(processor, raw, context=None):
    return processor.run(validate_inputs(processor.description, raw), context or Context())


def test_rule_based_cloud_mask_finds_planted_cloud_and_shadow():
    out = run(CloudMask(), {"product": raster(cloudy_scene(), GENERIC), "method": "rules"})
    mask = out["mask"].data.values[0]
    assert (mask[40:80, 50:90] == classes.CLOUD).all()
    assert (mask[85:105, 60:100] == classes.SHADOW).all()
    ring = (mask == classes.THIN_CLOUD).sum()
    assert ring == 4 * 40  # the one-pixel (4-connected) buffer around the thick cloud
    assert (mask == classes.CLEAR).sum() == 192 * 192 - 1600 - 160 - 800
    assert out["cloud_cover"] == pytest.approx(100 * (1600 + 160) / 192**2, abs=1e-3)
    assert out["statistics"]["class_percent"]["shadow"] == pytest.approx(
        100 * 800 / 192**2, abs=1e-3
    )
    assert "probability" not in out
    assert out["mask"].crs == UTM and out["mask"].transform == ORIGIN and out["mask"].nodata == 0
    assert out["mask"].source_ids == ("src",)
    assert out["mask"].metadata["classes"] == {
        "0": "nodata",
        "1": "clear",
        "2": "cloud",
        "3": "thin cloud",
        "4": "shadow",
    }


def test_cloud_mask_takes_sentinel2_digital_numbers_nodata_and_an_aoi():
    dn = (cloudy_scene() * 10000).astype(np.uint16)
    dn[:, :10, :] = 0  # a no-data strip
    product = raster(dn, S2_SIX, nodata=0)
    out = run(CloudMask(), {"product": product})  # auto -> rules (6 bands only)
    mask = out["mask"].data.values[0]
    assert out["statistics"]["method"] == "rules"
    assert (mask[:10] == classes.NODATA).all()
    assert (mask[40:80, 50:90] == classes.CLOUD).all() and (
        mask[85:105, 60:100] == classes.SHADOW
    ).all()
    assert out["cloud_cover"] == pytest.approx(100 * 1760 / (182 * 192), abs=1e-3)
    # an AOI (WGS84) around the cloud only: pixel centres inside are all cloud
    x0, y0 = ORIGIN @ (52, 78)
    x1, y1 = ORIGIN @ (88, 42)
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    (lon0, lon1), (lat0, lat1) = to_wgs84.transform([x0, x1], [y0, y1])
    aoi = BoundingBox(min(lon0, lon1), min(lat0, lat1), max(lon0, lon1), max(lat0, lat1))
    assert run(CloudMask(), {"product": product, "aoi": aoi})["cloud_cover"] == pytest.approx(100.0)


def test_rule_based_cloud_mask_chunked_equals_in_memory():
    img = cloudy_scene()
    inputs = {"method": "rules", "shadow_distance": 300.0}
    eager = run(CloudMask(), {"product": raster(img, GENERIC), **inputs})
    context = Context()
    lazy = run(CloudMask(), {"product": raster(img, GENERIC, chunks=64), **inputs}, context)
    np.testing.assert_array_equal(eager["mask"].data.values, lazy["mask"].data.values)
    percents = [p for p, _ in context.calls]
    assert percents == sorted(percents) and percents[-1] == 100


def test_progress_raising_aborts_the_run():
    context = Context(fail_after=2)  # start and "5 %" pass; the first dask task report raises
    with pytest.raises(RuntimeError, match="dismissed"):
        run(
            CloudMask(),
            {"product": raster(cloudy_scene(), GENERIC, chunks=64), "method": "rules"},
            context,
        )
    assert len(context.calls) == 3
    percent, message = context.calls[-1]
    assert 5 < percent <= 95 and message == "cloud detection (rules)"


def s2_ten_band_scene(size: int = 96) -> tuple[np.ndarray, list[str]]:
    names = ["B01", "B02", "B03", "B04", "B05", "B08", "B8A", "B09", "B10", "B11", "B12"]
    veg = {
        "B01": 0.12,
        "B02": 0.09,
        "B03": 0.08,
        "B04": 0.05,
        "B05": 0.1,
        "B08": 0.35,
        "B8A": 0.37,
        "B09": 0.12,
        "B10": 0.003,
        "B11": 0.18,
        "B12": 0.09,
    }
    rng = np.random.default_rng(2)
    img = np.stack([veg[n] + rng.normal(0, 0.003, (size, size)) for n in names]).astype(np.float32)
    cloud = {n: 0.55 for n in names} | {"B10": 0.05, "B11": 0.4, "B12": 0.3}
    img[:, 30:60, 30:60] = np.array([cloud[n] for n in names], dtype=np.float32)[:, None, None]
    return img, names


def test_s2cloudless_gives_probability_and_chunked_equals_in_memory():
    img, names = s2_ten_band_scene()
    eager = run(CloudMask(), {"product": raster(img, names), "method": "s2cloudless"})
    mask, probability = eager["mask"].data.values[0], eager["probability"].data.values[0]
    assert (mask[35:55, 35:55] == classes.CLOUD).all()
    assert (mask[:20, :20] == classes.CLEAR).all() and (mask[80:, 80:] == classes.CLEAR).all()
    assert probability[35:55, 35:55].min() > 0.5 > probability[:20, :20].max()
    lazy = run(
        CloudMask(),
        {"product": raster(img, names, chunks=48), "method": "s2cloudless", "shadow_distance": 100},
    )
    again = run(
        CloudMask(),
        {"product": raster(img, names), "method": "s2cloudless", "shadow_distance": 100},
    )
    np.testing.assert_array_equal(again["mask"].data.values, lazy["mask"].data.values)
    np.testing.assert_allclose(
        again["probability"].data.values, lazy["probability"].data.values, atol=1e-6
    )


def test_s2cloudless_at_a_coarser_processing_resolution():
    img, names = s2_ten_band_scene()
    raw = {"method": "s2cloudless", "processing_resolution": 40.0, "shadow_distance": 100.0}
    eager = run(CloudMask(), {"product": raster(img, names), **raw})
    mask = eager["mask"].data.values[0]
    assert mask.shape == (96, 96) and eager["probability"].data.values.shape == (1, 96, 96)
    assert (mask[32:56, 32:56] == classes.CLOUD).all() and (mask[:16, :16] == classes.CLEAR).all()
    blocks = eager["probability"].data.values[0].reshape(24, 4, 24, 4)
    assert (blocks == blocks[:, :1, :, :1]).all()  # one value per 4 x 4 block (40 m / 10 m)
    lazy = run(
        CloudMask(), {"product": raster(img, names, chunks=30), **raw}
    )  # 30: not a multiple of 4
    np.testing.assert_array_equal(lazy["mask"].data.values, eager["mask"].data.values)
    np.testing.assert_allclose(
        lazy["probability"].data.values, eager["probability"].data.values, atol=1e-6
    )


def test_scl_classes_and_missing_bands():
    scl = np.array([[[0, 1, 3, 4], [8, 9, 10, 11]]], dtype=np.uint8)
    out = run(CloudMask(), {"product": raster(scl, ["SCL"]), "method": "scl"})
    expected = [
        [classes.NODATA, classes.NODATA, classes.SHADOW, classes.CLEAR],
        [classes.CLOUD, classes.CLOUD, classes.THIN_CLOUD, classes.CLEAR],
    ]
    np.testing.assert_array_equal(out["mask"].data.values[0], expected)
    assert out["cloud_cover"] == pytest.approx(100 * 3 / 6)
    with pytest.raises(ProcessInputError, match="needs the bands"):
        run(CloudMask(), {"product": raster(scl, ["SCL"]), "method": "rules"})
    with pytest.raises(ProcessInputError, match="neither an SCL band"):
        run(CloudMask(), {"product": raster(np.zeros((2, 4, 4), "float32"), ["B02", "B03"])})


def flood_s1(
    size: int = 128, lake: tuple[slice, slice] = (slice(20, 60), slice(30, 90))
) -> np.ndarray:
    rng = np.random.default_rng(5)
    vv = -8 + rng.normal(0, 0.5, (size, size))
    vh = -15 + rng.normal(0, 0.5, (size, size))
    vv[lake], vh[lake] = (
        -21 + rng.normal(0, 0.5, vv[lake].shape),
        -27 + rng.normal(0, 0.5, vh[lake].shape),
    )
    return np.stack([vv, vh]).astype(np.float32)


def test_flood_mapping_from_sentinel1_with_polygons_and_area():
    filtered = run(FloodMapping(), {"s1": raster(flood_s1(), ["VV", "VH"])})["water"].data.values[0]
    assert (filtered[22:58, 32:88] == classes.WATER).all()  # boxcar: edges blur by 2 pixels
    assert 36 * 56 <= (filtered == classes.WATER).sum() <= 40 * 60
    out = run(FloodMapping(), {"s1": raster(flood_s1(), ["VV", "VH"]), "speckle_window": 1})
    water = out["water"].data.values[0]
    assert (water == classes.WATER).sum() == 40 * 60 and (
        water[20:60, 30:90] == classes.WATER
    ).all()
    assert (
        out["water_area"] == pytest.approx(2400 * 100 / 1e6)
        and out["flooded_area"] == out["water_area"]
    )
    stats = out["statistics"]
    assert (
        -21 < stats["s1_thresholds_db"]["vv_db"] < -8
        and -27 < stats["s1_thresholds_db"]["vh_db"] < -15
    )
    assert out["polygons"]["type"] == "FeatureCollection" and len(out["polygons"]["features"]) == 1
    ring = out["polygons"]["features"][0]["geometry"]["coordinates"][0]
    lons, lats = zip(*ring, strict=True)
    area, _ = Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)
    assert abs(area) == pytest.approx(2400 * 100, rel=0.01)  # WGS84 polygon of the lake
    assert 14 < min(lons) < max(lons) < 16 and 58 < min(lats) < 59  # UTM 33N -> lon/lat


def test_flood_mapping_with_pre_event_gives_new_water():
    before = flood_s1(lake=(slice(20, 60), slice(30, 50)))  # a smaller permanent lake
    out = run(
        FloodMapping(),
        {
            "s1": raster(flood_s1(), ["VV", "VH"]),
            "pre_s1": raster(before, ["VV", "VH"]),
            "speckle_window": 1,
        },
    )
    water = out["water"].data.values[0]
    assert (water[20:60, 30:50] == classes.WATER).all() and (
        water[20:60, 50:90] == classes.NEW_WATER
    ).all()
    assert (water == classes.NEW_WATER).sum() == 40 * 40
    assert out["flooded_area"] == pytest.approx(1600 * 100 / 1e6) and out[
        "water_area"
    ] == pytest.approx(0.24)
    assert out["polygons"]["features"][0]["properties"] == {"class": "new water"}


def test_flood_mapping_from_sentinel2_and_chunked_equals_in_memory():
    img = cloudy_scene(128)
    img[:, 100:120, 10:50] = np.array((0.06, 0.08, 0.05, 0.03, 0.01, 0.005), dtype=np.float32)[
        :, None, None
    ]
    out = run(FloodMapping(), {"s2": raster(img, S2_SIX)})
    water = out["water"].data.values[0]
    assert (water[100:120, 10:50] == classes.WATER).all() and (water == classes.WATER).sum() == 800
    assert (water[40:80, 50:90] == classes.NODATA).all()  # cloud: not classified
    eager = run(FloodMapping(), {"s1": raster(flood_s1(), ["VV", "VH"])})
    lazy = run(FloodMapping(), {"s1": raster(flood_s1(), ["VV", "VH"], chunks=32)})
    np.testing.assert_array_equal(eager["water"].data.values, lazy["water"].data.values)
    with pytest.raises(MissingProcessInput):
        run(FloodMapping(), {})
    with pytest.raises(ProcessInputError, match=r"lacks band\(s\) VV"):
        run(FloodMapping(), {"s1": raster(img, S2_SIX)})


def test_otsu_and_geographic_pixel_area():
    rng = np.random.default_rng(6)
    values = np.concatenate([rng.normal(-20, 1, 5000), rng.normal(-8, 1, 20000)])
    assert -17 < otsu_threshold(values, (-25, -10)) < -11
    assert otsu_threshold(np.full(100, -30.0), (-25, -10)) == pytest.approx(-25, abs=0.1)
    # 0.0001 degree pixels at 60 N: about 11.13 m x 5.58 m
    transform = Affine(1e-4, 0, 10, 0, -1e-4, 60)
    per_row = pixel_area_km2("EPSG:4326", transform, 3)
    assert per_row[0] == pytest.approx(11.1 * 5.58e-6, rel=0.01)
    assert area_km2(np.ones((3, 4), bool), "EPSG:4326", transform) == pytest.approx(
        per_row.sum() * 4
    )

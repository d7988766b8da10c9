"""Accuracy of the processors on real Sentinel/Landsat data (OGCSDL_SHARED_DATA).

Run with ``-s`` to see the measured figures; the asserted bounds are sanity floors a
broken change would fall below, not the figures themselves. Note: the rule-based cloud
thresholds were chosen on the Landsat 7 scene and the cloud-free Sentinel-2 scenes used
here, so those two checks guard against regressions rather than measure generalisation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling

from ogcsdl.ingest.bands import S2_BANDS as S2_BAND_INFO
from processes import classes
from processes.base import Raster
from processes.change_detection import ChangeDetection
from processes.change_training import scores
from processes.cloud_mask import CloudMask
from processes.flood_mapping import FloodMapping
from processes.registry import validate_inputs

pytestmark = pytest.mark.realdata

S2_BANDS = [info.name for info in S2_BAND_INFO]  # the 13 MSI bands (a list: xarray coords)
SIX = ["Blue", "Green", "Red", "NIR", "SWIR1", "SWIR2"]
CITIES = {  # city: minimum F1 of the change class (measured values are printed)
    "rennes": 0.35,
    "hongkong": 0.25,
    "abudhabi": 0.12,
    "bercy": 0.01,  # 0.7 % of the pixels changed: unsupervised CVA finds little of it
}


class Context:
    def progress(self, percent: float, message: str = "") -> None:
        pass


def run(processor, raw):
    return processor.run(validate_inputs(processor.description, raw), Context())


def f1_scores(predicted: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    p, t = predicted & valid, truth & valid
    tp, fp, fn = int((p & t).sum()), int((p & ~t).sum()), int((~p & t & valid).sum())
    return scores(np.array([tp, fp, fn, int(valid.sum()) - tp - fp - fn]))


def npz_raster(path: Path, pixel_m: float) -> tuple[Raster, np.lib.npyio.NpzFile]:
    archive = np.load(path)
    img = archive["img"].transpose(2, 0, 1).astype(np.float32)
    data = xr.DataArray(img, dims=("band", "y", "x"), coords={"band": SIX})
    return Raster(data, "EPSG:32633", Affine(pixel_m, 0, 500000, 0, -pixel_m, 6500000)), archive


def geotiff(path: Path, names: list[str], shape: tuple[int, int] | None = None) -> Raster:
    with rasterio.open(path) as src:
        out_shape = (src.count, *shape) if shape else None
        values = src.read(out_shape=out_shape, resampling=Resampling.bilinear)
        return Raster(
            xr.DataArray(values, dims=("band", "y", "x"), coords={"band": names}),
            src.crs.to_string(),
            src.transform,
            nodata=src.nodata,
        )


def oscd_date(city_dir: Path, folder: str, shape: tuple[int, int]) -> Raster:
    """The 13 L1C bands of one OSCD date, each resampled to the 10 m label grid."""
    bands = []
    for name in S2_BANDS:
        (path,) = (city_dir / folder).glob(f"*_{name}.tif")
        with rasterio.open(path) as src:
            bands.append(src.read(1, out_shape=shape, resampling=Resampling.bilinear))
    (b02,) = (city_dir / "imgs_1").glob("*_B02.tif")
    with rasterio.open(b02) as ref:
        crs, transform = ref.crs.to_string(), ref.transform
    data = xr.DataArray(np.stack(bands), dims=("band", "y", "x"), coords={"band": S2_BANDS})
    return Raster(data, crs, transform, nodata=0)


def test_rule_based_cloud_and_shadow_on_landsat7(shared_data):
    product, archive = npz_raster(shared_data / "ukis" / "landsat7.npz", 30.0)
    label = archive["msk"][..., 0]
    out = run(CloudMask(), {"product": product, "method": "rules"})
    mask = out["mask"].data.values[0]
    valid = np.ones(mask.shape, dtype=bool)
    cloud = f1_scores(np.isin(mask, [classes.CLOUD, classes.THIN_CLOUD]), label == 4, valid)
    shadow = f1_scores(mask == classes.SHADOW, label == 0, valid)
    predicted3 = np.select([np.isin(mask, [2, 3]), mask == 4], [2, 0], 1)
    truth3 = np.select([label == 4, label == 0], [2, 0], 1)
    accuracy = float((predicted3 == truth3).mean())
    print(f"\nlandsat7 rules: cloud {cloud}\n  shadow {shadow}\n  3-class accuracy {accuracy:.3f}")
    assert cloud["f1"] > 0.7 and cloud["precision"] > 0.8
    assert shadow["f1"] > 0.55
    assert accuracy > 0.75


def test_rule_based_cloud_fraction_on_a_cloudy_sentinel2_scene(shared_data):
    product, _ = npz_raster(shared_data / "ukis" / "sentinel2_image_only.npz", 10.0)
    out = run(CloudMask(), {"product": product, "method": "rules"})
    print(
        f"\nsentinel2_image_only rules: cloud cover {out['cloud_cover']:.1f} %, {out['statistics']}"
    )
    assert out["statistics"]["method"] == "rules"
    assert 8 < out["cloud_cover"] < 50  # scattered thick cumulus over fields
    assert 1 < out["statistics"]["class_percent"]["shadow"] < 25


def test_s2cloudless_and_rules_on_the_clear_sen1floods11_scene(shared_data):
    product = geotiff(shared_data / "sen1floods11" / "Spain_7370579_S2Hand.tif", S2_BANDS)
    auto = run(CloudMask(), {"product": product, "method": "s2cloudless"})
    probability = auto["probability"].data.values[0]
    rules = run(CloudMask(), {"product": product, "method": "rules"})
    print(
        f"\nS2Hand: s2cloudless cover {auto['cloud_cover']:.2f} %, rules cover {rules['cloud_cover']:.2f} %"
    )
    assert auto["statistics"]["method"] == "s2cloudless"
    assert np.nanmin(probability) >= 0 and np.nanmax(probability) <= 1
    assert auto["cloud_cover"] < 5 and rules["cloud_cover"] < 15  # a cloud-free scene


@pytest.mark.parametrize("city", sorted(CITIES))
def test_change_detection_on_oscd(shared_data, city):
    city_dir = shared_data / "oscd" / city
    with rasterio.open(city_dir / "cm" / f"{city}-cm.tif") as src:
        label = src.read(1)
    before = oscd_date(city_dir, "imgs_1", label.shape)
    after = oscd_date(city_dir, "imgs_2", label.shape)
    # the classic method (the learned default is scored leave-one-city-out in
    # test_change_detection_realdata.py: the shipped model saw every city)
    out = run(ChangeDetection(), {"before": before, "after": after, "method": "cva"})
    change = out["change"].data.values[0]
    valid = change != classes.NODATA
    scores = f1_scores(change == classes.CHANGE, label == 2, valid)
    unmasked = run(
        ChangeDetection(),
        {"before": before, "after": after, "mask_clouds": False, "method": "cva"},
    )
    plain = f1_scores(
        unmasked["change"].data.values[0] == classes.CHANGE, label == 2, np.ones_like(valid)
    )
    print(
        f"\nOSCD {city}: "
        + " ".join(f"{k} {v:.3f}" for k, v in scores.items())
        + f" valid {valid.mean():.3f} threshold {out['statistics']['threshold']:.2f}"
        + f" changed {out['changed_area']:.3f} km2 | without cloud mask F1 {plain['f1']:.3f}"
    )
    assert scores["f1"] >= CITIES[city] and scores["kappa"] > 0
    assert valid.mean() > 0.8


def test_flood_on_sen1floods11_agrees_with_sentinel2(shared_data):
    s1 = geotiff(shared_data / "sen1floods11" / "Spain_7370579_S1Hand.tif", ["VV", "VH"])
    s2 = geotiff(shared_data / "sen1floods11" / "Spain_7370579_S2Hand.tif", S2_BANDS)
    radar = run(FloodMapping(), {"s1": s1})
    optical = run(FloodMapping(), {"s2": s2})
    both = run(FloodMapping(), {"s1": s1, "s2": s2})
    w1, w2 = radar["water"].data.values[0], optical["water"].data.values[0]
    common = (w1 != classes.NODATA) & (w2 != classes.NODATA)
    agreement = float(((w1 == w2) & common).sum() / common.sum())
    stats = radar["statistics"]
    print(
        f"\nSpain S1: water {stats['water_fraction']:.3f} ({radar['water_area']:.2f} km2), thresholds "
        f"{stats['s1_thresholds_db']}, {stats['polygons']} polygons; S2 water "
        f"{optical['statistics']['water_fraction']:.3f}; S1/S2 agreement {agreement:.3f}; "
        f"combined {both['water_area']:.2f} km2"
    )
    assert 0.03 < stats["water_fraction"] < 0.4
    assert -25 <= stats["s1_thresholds_db"]["vv_db"] <= -10
    assert agreement > 0.8
    assert both["statistics"]["s1_s2_agreement"] == pytest.approx(agreement, abs=1e-9)
    # 512 x 512 pixels of ~10 m: the whole chip is about 26 km2
    assert 20 < stats["valid_pixels"] * radar["water_area"] / stats["water_pixels"] < 30
    assert radar["polygons"]["features"] and all(
        -1 < lon < 0 and 37.5 < lat < 38.5
        for feature in radar["polygons"]["features"][:5]
        for lon, lat in feature["geometry"]["coordinates"][0]
    )

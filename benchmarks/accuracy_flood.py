"""Flood-mapping accuracy beside the classic baseline (global Otsu on VV) in the same run.

1. Synthetic flooded fields with known truth (gamma speckle, 4.4 looks as S1 GRD): IoU of
   the baseline, of ``flood-mapping`` on S1, on S2 (a cloud hides part of it) and on both.
2. sen1floods11 Spain (no label here): S1 maps scored against S2 MNDWI water (S2 is clear
   that day, one day later, 20 m SWIR: agreement has a ceiling well below 1); the fusion
   is scored with a synthetic cloud pasted into S2, against the map of the clear S2.
Quicklooks go to ``benchmarks/out/``.

    .venv/bin/python -m benchmarks.accuracy_flood [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine

from processes import classes
from processes.base import Raster
from processes.flood_mapping import FloodMapping
from processes.raster_ops import otsu_threshold
from processes.registry import validate_inputs

OUT = Path(__file__).parent / "out"
LOOKS = 4.4  # equivalent number of looks of Sentinel-1 IW GRD
S2_SIX = ["B02", "B03", "B04", "B08", "B11", "B12"]
S2_LAND = (0.06, 0.09, 0.07, 0.30, 0.22, 0.13)
S2_WATER = (0.07, 0.07, 0.05, 0.03, 0.015, 0.01)
S2_CLOUD = (0.55, 0.52, 0.50, 0.50, 0.45, 0.35)


class Context:
    def progress(self, percent: float, message: str = "") -> None:
        pass


def run_process(raw: dict[str, Any]) -> dict[str, Any]:
    processor = FloodMapping()
    return processor.run(validate_inputs(processor.description, raw), Context())


def water_of(out: dict[str, Any]) -> np.ndarray:
    values = out["water"].data.values[0]
    return np.isin(values, (classes.WATER, classes.NEW_WATER))


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float((predicted & truth).sum() / max((predicted | truth).sum(), 1))


def otsu_vv_baseline(vv_db: np.ndarray) -> np.ndarray:
    """What a user does in one line: Otsu on the (unfiltered) VV dB image."""
    finite = vv_db[np.isfinite(vv_db)]
    low, high = float(finite.min()), float(finite.max())
    return np.asarray(vv_db < otsu_threshold(finite, (low, high)))


def flooded_fields(
    seed: int, size: int = 512, water_share: float = 0.06
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s1 VV/VH dB, s2 six bands reflectance, truth): fields of 12-40 px with their own
    backscatter (some smooth, dark dry fields too), a river 2-4 px wide, flooded fields
    until ``water_share`` of the scene is water; multiplicative gamma speckle."""
    rng = np.random.default_rng(seed)
    field_db = np.empty((size, size), dtype=np.float32)
    truth = np.zeros((size, size), dtype=bool)
    fields = []
    y = 0
    while y < size:
        h = int(rng.integers(12, 41))
        x = 0
        while x < size:
            w = int(rng.integers(12, 41))
            fields.append((slice(y, y + h), slice(x, x + w)))
            x += w
        y += h
    for field in fields:  # dry land: -9 dB typical, a tail of smooth dark fields
        field_db[field] = rng.normal(-9.0, 2.0) if rng.random() > 0.08 else rng.normal(-14.5, 1)
    yy = np.arange(size)
    centre = size / 2 + size / 6 * np.sin(yy / size * 2 * np.pi * 1.5 + rng.random() * 6)
    width = rng.integers(2, 5)
    for row in range(size):
        start = int(centre[row])
        truth[row, start : start + width] = True
    for index in rng.permutation(len(fields)):
        if truth.mean() >= water_share:
            break
        truth[fields[index]] = True
    water_db = rng.normal(-20.0, 1.5, (size, size)).astype(np.float32)
    vv = np.where(truth, water_db, field_db)
    vh = vv - np.where(truth, 6.0, 7.0) + rng.normal(0, 1.0, (size, size))
    speckle = rng.gamma(LOOKS, 1 / LOOKS, (2, size, size))
    s1 = (np.stack([vv, vh]) + 10 * np.log10(speckle)).astype(np.float32)
    s2 = np.where(truth, np.array(S2_WATER)[:, None, None], np.array(S2_LAND)[:, None, None])
    s2 = s2 * rng.normal(1.0, 0.08, (6, size, size))
    return s1, s2.astype(np.float32), truth


def with_cloud(s2: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A thick cloud (a disc of ~1/4 of the scene) pasted into a six-band S2 scene."""
    rng = np.random.default_rng(seed)
    size = s2.shape[1]
    cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
    yy, xx = np.ogrid[:size, :size]
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < (size * 0.28) ** 2
    cloudy = s2.copy()
    cloudy[:, disc] = np.array(S2_CLOUD, dtype=np.float32)[:, None]
    return cloudy, disc


def utm_raster(values: np.ndarray, names: list[str]) -> Raster:
    data = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": names})
    return Raster(data, "EPSG:32630", Affine(10, 0, 700000, 0, -10, 4200000))


def synthetic_scores(seeds: range, water_shares: tuple[float, ...]) -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {"otsu-vv": [], "s1": [], "s2 (cloudy)": [], "s1+s2": []}
    for seed in seeds:
        for share in water_shares:
            s1, s2, truth = flooded_fields(seed, water_share=share)
            cloudy, _ = with_cloud(s2, seed)
            scores["otsu-vv"].append(iou(otsu_vv_baseline(s1[0]), truth))
            scores["s1"].append(
                iou(water_of(run_process({"s1": utm_raster(s1, ["VV", "VH"])})), truth)
            )
            optical = run_process({"s2": utm_raster(cloudy, S2_SIX)})
            scores["s2 (cloudy)"].append(iou(water_of(optical), truth))
            fused = run_process(
                {"s1": utm_raster(s1, ["VV", "VH"]), "s2": utm_raster(cloudy, S2_SIX)}
            )
            scores["s1+s2"].append(iou(water_of(fused), truth))
    return scores


def spain(data: Path) -> dict[str, Any]:
    """S1 maps and the fusion on sen1floods11 Spain against S2 MNDWI water."""
    import rasterio

    from ogcsdl.ingest.bands import S2_BANDS

    folder = data / "sen1floods11"
    with rasterio.open(folder / "Spain_7370579_S1Hand.tif") as src:
        s1 = src.read().astype(np.float32)
        crs, transform = src.crs.to_string(), src.transform
    with rasterio.open(folder / "Spain_7370579_S2Hand.tif") as src:
        s2 = src.read()
    names = [info.name for info in S2_BANDS]

    def grid(values: np.ndarray, bands: list[str]) -> Raster:
        array = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": bands})
        return Raster(array, crs, transform)

    optical = run_process({"s2": grid(s2, names)})
    reference = water_of(optical)
    radar = run_process({"s1": grid(s1, ["VV", "VH"])})
    baseline = otsu_vv_baseline(s1[0])
    cloudy = s2.copy()
    _, disc = with_cloud(np.zeros((6, *s2.shape[1:]), np.float32), 3)
    bright = {"B01": 5000, "B02": 5500, "B03": 5200, "B04": 5000, "B10": 300, "B11": 4500}
    for i, name in enumerate(names):
        cloudy[i][disc] = bright.get(name, 4500 if name != "B12" else 3500)
    s2_cloudy = water_of(run_process({"s2": grid(cloudy, names)}))
    fused = water_of(run_process({"s1": grid(s1, ["VV", "VH"]), "s2": grid(cloudy, names)}))
    union = water_of(radar) | s2_cloudy
    results = {
        "reference_water_share": float(reference.mean()),
        "s1 threshold": radar["statistics"]["s1_thresholds_db"],
        "s1 split": radar["statistics"]["s1_details"].get("vv_split"),
        "iou vs S2: otsu-vv": iou(baseline, reference),
        "iou vs S2: s1": iou(water_of(radar), reference),
        "cloud-pasted S2 (28 % radius disc): s2 alone": iou(s2_cloudy, reference),
        "cloud-pasted S2: s1 alone": iou(water_of(radar), reference),
        "cloud-pasted S2: s1 OR s2": iou(union, reference),
        "cloud-pasted S2: s1+s2 fused": iou(fused, reference),
        "under the cloud: s1 vs S2": iou(water_of(radar) & disc, reference & disc),
    }
    OUT.mkdir(exist_ok=True)
    quicklook(
        OUT / "flood_spain.png",
        [
            gray(s1[0], -25, 0),
            rgb(s2, names),
            mask_rgb(baseline, reference),
            mask_rgb(water_of(radar), reference),
            mask_rgb(fused, reference),
        ],
    )
    return results


def gray(values: np.ndarray, low: float, high: float) -> np.ndarray:
    scaled = np.clip((np.nan_to_num(values, nan=low) - low) / (high - low), 0, 1) * 255
    return np.repeat(scaled.astype(np.uint8)[..., None], 3, axis=2)


def rgb(s2: np.ndarray, names: list[str]) -> np.ndarray:
    bands = [s2[names.index(n)].astype(np.float32) / 10000 for n in ("B04", "B03", "B02")]
    return (np.clip(np.stack(bands, axis=2) / 0.3, 0, 1) * 255).astype(np.uint8)


def mask_rgb(predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Agreement colours: blue both water, red only predicted, yellow only reference."""
    out = np.full((*predicted.shape, 3), 230, dtype=np.uint8)
    out[predicted & reference] = (30, 90, 200)
    out[predicted & ~reference] = (220, 40, 40)
    out[~predicted & reference] = (240, 200, 0)
    return out


def quicklook(path: Path, panels: list[np.ndarray]) -> None:
    from PIL import Image

    gap = np.full((panels[0].shape[0], 6, 3), 255, dtype=np.uint8)
    row = [p for panel in panels for p in (panel, gap)][:-1]
    Image.fromarray(np.concatenate(row, axis=1)).save(path)


def run(data: Path | None = None) -> dict[str, Any]:
    data = data or Path(os.environ.get("OGCSDL_SHARED_DATA", "../shared/data"))
    synthetic = synthetic_scores(range(3), (0.02, 0.06, 0.15))
    print("flood, synthetic flooded fields (3 seeds x water 2/6/15 %), IoU vs truth:")
    for name, values in synthetic.items():
        print(f"  {name:12s} mean {np.mean(values):.3f}  min {np.min(values):.3f}")
    s1, s2, truth = flooded_fields(0, water_share=0.06)
    out = run_process({"s1": utm_raster(s1, ["VV", "VH"])})
    OUT.mkdir(exist_ok=True)
    quicklook(
        OUT / "flood_synthetic.png",
        [
            gray(s1[0], -25, 0),
            mask_rgb(otsu_vv_baseline(s1[0]), truth),
            mask_rgb(water_of(out), truth),
        ],
    )
    results: dict[str, Any] = {"synthetic": {k: float(np.mean(v)) for k, v in synthetic.items()}}
    if (data / "sen1floods11").is_dir():
        results["spain"] = spain(data)
        print("flood, sen1floods11 Spain (no label; S2 MNDWI water as reference):")
        for name, value in results["spain"].items():
            print(f"  {name}: {value if not isinstance(value, float) else round(value, 3)}")
    else:
        print(f"flood: {data / 'sen1floods11'} missing, real-scene figures skipped")
    print(f"quicklooks in {OUT}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data directory")
    run(parser.parse_args().data)


if __name__ == "__main__":
    main()

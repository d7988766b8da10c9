"""Change-detection accuracy on the labelled OSCD cities, leave-one-city-out.

    .venv/bin/python -m benchmarks.accuracy_change [--data ../shared/data/oscd]

For each city X the learned default runs exactly as the service runs it
(``ChangeDetection().run`` on the 13 L1C bands, s2cloudless cloud mask, model threshold)
but with a model fitted — threshold included — on the other three cities only. Beside it,
in the same run: the classic baseline (change-vector magnitude over standardised
B02/B03/B04/B08, Otsu threshold, no cloud mask), the previous default (CVA over all
common bands, rule-based cloud/shadow mask, Otsu) and the learned method without its cloud
mask (the mask must not cost F1 on these clear scenes: "masked (change ...)" is the share of
true change pixels it removed). Prints per-city and pooled (summed
confusion counts) F1, precision, recall and kappa of the change class, and writes
quicklooks (RGB date 1, RGB date 2, label, learned prediction) to ``benchmarks/out/``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import xarray as xr
from PIL import Image

from ogcsdl.ingest.bands import S2_BANDS as S2_BAND_TABLE
from processes import classes
from processes.base import Raster
from processes.change_detection import OTSU_BOUNDS, ChangeDetection
from processes.change_training import (
    OSCD_CITIES,
    counts,
    leave_one_city_out,
    load_oscd_city,
    read_oscd_date,
    read_oscd_label,
    scores,
)
from processes.cloud_detectors import RULE_BANDS, rule_classes_lazy
from processes.raster_ops import otsu_threshold, pixel_size_m, to_reflectance, valid_mask
from processes.validation import validate_inputs

S2_BANDS = [band.name for band in S2_BAND_TABLE]  # all 13 bands, product order
OUT = Path(__file__).resolve().parent / "out"
METHODS = (
    "learned (default)",
    "learned, no cloud mask",
    "CVA+Otsu B02-B08 (baseline)",
    "old default (CVA+rules mask)",
    "learned, block-wise (as full tiles)",
)


class Context:
    def progress(self, percent: float, message: str = "") -> None:
        pass


def oscd_raster(city_dir: Path, folder: str, shape: tuple[int, int]) -> Raster:
    """The 13 L1C bands of one date as the service would receive them (uint16 DN, 10 m)."""
    reflectance = read_oscd_date(city_dir, folder, S2_BANDS, shape)
    dn = np.nan_to_num(reflectance * 1e4, nan=0).round().astype(np.uint16)
    (b02,) = (city_dir / "imgs_1").glob("*_B02.tif")
    with rasterio.open(b02) as ref:
        crs, transform = ref.crs.to_string(), ref.transform
    data = xr.DataArray(dn, dims=("band", "y", "x"), coords={"band": S2_BANDS})
    return Raster(data, crs, transform, nodata=0)


def run_processor(processor: ChangeDetection, raw: dict[str, Any]) -> np.ndarray:
    out = processor.run(validate_inputs(processor.description, raw), Context())
    return np.asarray(out["change"].data.values[0])


def chunked(raster: Raster, size: int = 128) -> Raster:
    """The same raster, dask-backed in chunks small enough that the statistics come from
    a sample of 4 x 4 of them, as on a full tile (4 x 4 of its 11 x 11 chunks)."""
    data = raster.data.chunk({"band": -1, "y": size, "x": size})
    return Raster(data, raster.crs, raster.transform, nodata=raster.nodata)


def four_bands(raster: Raster) -> Raster:
    data = raster.data.sel(band=["B02", "B03", "B04", "B08"])
    return Raster(data, raster.crs, raster.transform, nodata=raster.nodata)


def old_default(before: Raster, after: Raster) -> np.ndarray:
    """The previous default: CVA on every common band, rule-based cloud/shadow mask on
    both dates, Otsu threshold."""
    bands = ["B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"]
    first = to_reflectance(before.data.sel(band=bands)).values
    second = to_reflectance(after.data.sel(band=bands)).values
    valid = np.asarray(
        valid_mask(before.data.sel(band=bands), 0) & valid_mask(after.data.sel(band=bands), 0)
    )
    pixel_m = pixel_size_m(before.crs, before.transform, first.shape[1])
    rule = ["B02", "B03", "B04", "B08", "B11", "B12"]
    for image in (first, second):
        six = xr.DataArray(
            np.where(valid, image[[bands.index(b) for b in rule]], np.nan),
            dims=("band", "y", "x"),
            coords={"band": list(RULE_BANDS)},
        )
        valid &= np.asarray(rule_classes_lazy(six, pixel_m)) == classes.CLEAR
    z = []
    for image in (first, second):
        values = image[:, valid]
        mean, std = values.mean(axis=1), values.std(axis=1)
        z.append((image - mean[:, None, None]) / np.where(std > 0, std, 1)[:, None, None])
    magnitude = np.sqrt(((z[1] - z[0]) ** 2).mean(axis=0))
    threshold = otsu_threshold(magnitude[valid], OTSU_BOUNDS["optical"])
    change = np.where(magnitude > threshold, classes.CHANGE, classes.NO_CHANGE).astype(np.uint8)
    change[~valid] = classes.NODATA
    return change


def rgb(raster: Raster) -> np.ndarray:
    values = raster.data.sel(band=["B04", "B03", "B02"]).values.astype(np.float32)
    low, high = np.percentile(values[values > 0], [2, 98])
    return (
        (np.clip((values - low) / max(high - low, 1), 0, 1) * 255)
        .astype(np.uint8)
        .transpose(1, 2, 0)
    )


def quicklook(city: str, before: Raster, after: Raster, label: np.ndarray, change: np.ndarray):
    """RGB date 1 | RGB date 2 | label (white = change) | prediction (green: true
    positive, red: false positive, blue: missed, grey: nodata)."""
    truth, predicted = label == 2, change == classes.CHANGE
    label_img = np.stack([truth * 255] * 3, axis=-1).astype(np.uint8)
    pred_img = np.zeros((*label.shape, 3), np.uint8)
    pred_img[predicted & truth] = (0, 200, 0)
    pred_img[predicted & ~truth] = (230, 30, 30)
    pred_img[~predicted & truth] = (40, 90, 255)
    pred_img[change == classes.NODATA] = (128, 128, 128)
    gap = np.full((label.shape[0], 6, 3), 255, np.uint8)
    panels = [rgb(before), gap, rgb(after), gap, label_img, gap, pred_img]
    OUT.mkdir(exist_ok=True)
    path = OUT / f"change_{city}.png"
    Image.fromarray(np.concatenate(panels, axis=1)).save(path)
    return path


def line(name: str, c: np.ndarray) -> str:
    s = scores(c)
    return (
        f"  {name:<32} F1 {s['f1']:.3f}  precision {s['precision']:.3f}  "
        f"recall {s['recall']:.3f}  kappa {s['kappa']:.3f}"
    )


def run(data: Path | None = None) -> dict[str, float]:
    """Prints the table; returns the pooled F1 per method."""
    root = data or Path(os.environ.get("OGCSDL_SHARED_DATA", "../shared/data")) / "oscd"
    start = time.perf_counter()
    cities = [load_oscd_city(root / name) for name in OSCD_CITIES]
    models = leave_one_city_out(cities)
    print(
        f"change detection, leave-one-city-out on OSCD {', '.join(OSCD_CITIES)} "
        f"(features and trainings: {time.perf_counter() - start:.0f} s)"
    )
    pooled = {m: np.zeros(4, np.int64) for m in METHODS}
    for city in cities:
        city_dir = root / city.name
        label = read_oscd_label(city_dir)
        before = oscd_raster(city_dir, "imgs_1", label.shape)
        after = oscd_raster(city_dir, "imgs_2", label.shape)
        labelled = np.isin(label, (1, 2))
        maps = {
            METHODS[0]: run_processor(
                ChangeDetection(models[city.name]), {"before": before, "after": after}
            ),
            METHODS[1]: run_processor(
                ChangeDetection(models[city.name]),
                {"before": before, "after": after, "mask_clouds": False},
            ),
            METHODS[2]: run_processor(
                ChangeDetection(),
                {
                    "before": four_bands(before),
                    "after": four_bands(after),
                    "method": "cva",
                    "mask_clouds": False,
                },
            ),
            METHODS[3]: old_default(before, after),
            # dask chunks: statistics from a chunk sample, features per block with halo
            METHODS[4]: run_processor(
                ChangeDetection(models[city.name]),
                {"before": chunked(before), "after": chunked(after)},
            ),
        }
        model = models[city.name]
        print(
            f"{city.name}: smoothing {model.smoothing}, threshold {model.threshold:.2f} "
            "(inner CV on the other cities)"
        )
        for method, change in maps.items():
            # nodata (masked) pixels count as "no change": a mask that eats change is penalised
            c = counts(change == classes.CHANGE, label == 2, labelled)
            pooled[method] += c
            masked = float(((change == classes.NODATA) & labelled).mean())
            eaten = float(((change == classes.NODATA) & (label == 2)).sum() / (label == 2).sum())
            print(line(method, c) + f"  masked {masked:.3f} (change {eaten:.3f})")
        print(f"  quicklook {quicklook(city.name, before, after, label, maps[METHODS[0]])}")
    print("pooled over the 4 cities:")
    for method in METHODS:
        print(line(method, pooled[method]))
    figures = {m: scores(pooled[m])["f1"] for m in METHODS}
    ratio = figures[METHODS[0]] / max(figures[METHODS[2]], 1e-9)
    print(f"learned / baseline pooled F1: {ratio:.2f}x  ({time.perf_counter() - start:.0f} s)")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=None)
    run(parser.parse_args().data)

"""``change-detection``: two products of the same area at two dates -> change magnitude,
change mask (0 nodata, 1 no change, 2 change) and statistics.

- optical: change vector analysis (CVA). Each band of each date is standardised over the
  pixels valid on both dates (removes illumination / calibration differences between the
  dates), magnitude = root-mean-square difference over the bands; clouds and shadows found
  by the rule-based detector on either date are masked when the bands allow.
- sar: log-ratio. VV (and VH) are speckle-filtered (boxcar mean in linear power),
  magnitude = the largest |10 log10(after / before)| over the polarisations, in dB.

The threshold is Otsu's on the magnitude unless given. Both rasters must be on the same
grid (CRS, shape, transform): the job system reprojects the second onto the first before
calling when the request asks for it; this processor raises ProcessInputError instead
of resampling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from processes import classes
from processes.base import (
    ComplexOutput,
    LiteralInput,
    LiteralOutput,
    ProcessContext,
    ProcessDescription,
    Raster,
    RasterInput,
    RasterOutput,
)
from processes.cloud_detectors import RULE_BANDS, rule_classes_lazy
from processes.errors import ProcessInputError
from processes.raster_ops import (
    area_km2,
    class_raster,
    compute,
    find_band,
    float_raster,
    map_pixels,
    otsu_threshold,
    pixel_size_m,
    require_same_grid,
    select_bands,
    to_reflectance,
    valid_mask,
)

OPTICAL_BANDS = (
    "blue",
    "green",
    "red",
    "rededge1",
    "rededge2",
    "rededge3",
    "nir",
    "nir08",
    "swir1",
    "swir2",
)
SAR_BANDS = ("vv", "vh")
OTSU_BOUNDS = {"optical": (0.0, 6.0), "sar": (0.0, 12.0)}


def linear_to_db(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (10.0 * np.log10(values)).astype(np.float32)


def boxcar_db(block_db: np.ndarray, window: int) -> np.ndarray:
    """Boxcar mean of a (band, y, x) dB block in linear power, ignoring NaNs; back to dB."""
    if window <= 1:
        return block_db.astype(np.float32)
    linear = np.power(10.0, block_db / 10.0)
    valid = np.isfinite(linear)
    summed = ndimage.uniform_filter(
        np.where(valid, linear, 0.0), size=(1, window, window), mode="nearest"
    )
    counts = ndimage.uniform_filter(
        valid.astype(np.float64), size=(1, window, window), mode="nearest"
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(valid & (counts > 0), summed / counts, np.nan)
    return linear_to_db(mean)


def sar_in_db(raster: Raster, names: tuple[str, ...], locator: str, units: str) -> xr.DataArray:
    """The polarisations in dB; ``auto`` takes data with a negative central median as dB."""
    data = select_bands(raster, names, locator).astype("float32")
    data = data.where(valid_mask(data, raster.nodata))
    if units == "auto":
        h, w = data.sizes["y"], data.sizes["x"]
        sample = data.isel(
            y=slice(max(h // 2 - 128, 0), h // 2 + 128), x=slice(max(w // 2 - 128, 0), w // 2 + 128)
        )
        units = "dB" if float(np.nanmedian(np.asarray(sample.values))) < 0 else "linear"
    if units == "linear":
        data = data.where(data > 0)
        data = xr.apply_ufunc(linear_to_db, data, dask="allowed")
    return data


def detect_kind(before: Raster, after: Raster, kind: str) -> str:
    if kind != "auto":
        return kind
    if find_band(before, "vv") and find_band(after, "vv"):
        return "sar"
    return "optical"


def _common(before: Raster, after: Raster, candidates: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(b for b in candidates if find_band(before, b) and find_band(after, b))


def optical_magnitude(
    before: Raster, after: Raster, mask_clouds: bool, context: ProcessContext
) -> tuple[np.ndarray, dict[str, Any]]:
    bands = _common(before, after, OPTICAL_BANDS)
    if len(bands) < 2:
        raise ProcessInputError(
            "Optical change detection needs at least two reflectance bands present in both "
            f"products (e.g. B02/B03/B04/B08); before has {', '.join(before.band_names)}, "
            f"after has {', '.join(after.band_names)}.",
            locator="after",
        )
    first = to_reflectance(select_bands(before, bands, "before"))
    second = to_reflectance(select_bands(after, bands, "after"))
    valid = valid_mask(select_bands(before, bands, "before"), before.nodata) & valid_mask(
        select_bands(after, bands, "after"), after.nodata
    )
    cloud_masked = mask_clouds and all(b in bands for b in RULE_BANDS)
    if cloud_masked:
        pixel_m = pixel_size_m(before.crs, before.transform, before.data.sizes["y"])
        for image in (first, second):
            codes = rule_classes_lazy(image.sel(band=list(RULE_BANDS)).where(valid), pixel_m)
            valid = valid & (codes == classes.CLEAR)
    # Held in memory (1 byte/pixel) so the statistics and the magnitude passes below do not
    # both recompute the cloud masks.
    (valid_values,) = compute(context, 5, 20, "valid pixels", valid)
    valid = xr.DataArray(valid_values, dims=("y", "x"))
    first, second = first.where(valid), second.where(valid)
    mean1, mean2, std1, std2 = compute(
        context,
        20,
        35,
        "band statistics",
        *(image.astype("float64").mean(("y", "x")) for image in (first, second)),
        *(image.astype("float64").std(("y", "x")) for image in (first, second)),
    )
    scale1 = xr.DataArray(np.where(std1 > 0, std1, 1.0), dims="band", coords={"band": list(bands)})
    scale2 = xr.DataArray(np.where(std2 > 0, std2, 1.0), dims="band", coords={"band": list(bands)})
    z1 = (first - xr.DataArray(mean1, dims="band", coords={"band": list(bands)})) / scale1
    z2 = (second - xr.DataArray(mean2, dims="band", coords={"band": list(bands)})) / scale2
    magnitude_lazy = np.sqrt(((z2 - z1) ** 2).mean("band", skipna=False)).astype("float32")
    (magnitude,) = compute(context, 35, 85, "change vector analysis", magnitude_lazy)
    return magnitude, {
        "bands": list(bands),
        "clouds_masked": cloud_masked,
        "units": "standardised RMS difference",
    }


def sar_magnitude(
    before: Raster, after: Raster, units: str, window: int, context: ProcessContext
) -> tuple[np.ndarray, dict[str, Any]]:
    pols = _common(before, after, SAR_BANDS)
    if "vv" not in pols and "vh" not in pols:
        raise ProcessInputError(
            "SAR change detection needs VV or VH in both products; before has "
            f"{', '.join(before.band_names)}, after has {', '.join(after.band_names)}.",
            locator="after",
        )
    filtered = [
        map_pixels(
            lambda b: boxcar_db(b, window),
            sar_in_db(r, pols, loc, units),
            depth=window,
            dtype=np.float32,
            n_out=len(pols),
        )
        for r, loc in ((before, "before"), (after, "after"))
    ]
    ratio = abs(filtered[1] - filtered[0]).max("out", skipna=False).astype("float32")
    (magnitude,) = compute(context, 5, 85, "log-ratio", ratio)
    return magnitude, {
        "polarisations": [p.upper() for p in pols],
        "units": "dB",
        "speckle_window": window,
    }


class ChangeDetection:
    description = ProcessDescription(
        id="change-detection",
        version="1.0.0",
        title="Change detection between two dates",
        abstract=(
            "Two co-registered products of the same area at two dates (same grid: CRS, size, "
            "transform). Optical: change vector analysis on standardised reflectance with clouds "
            "masked; SAR (VV/VH): log-ratio in dB after speckle filtering. Threshold: Otsu unless "
            "given. Change classes: 0 nodata, 1 no change, 2 change."
        ),
        keywords=("change detection", "CVA", "log-ratio", "Sentinel-1", "Sentinel-2"),
        inputs=(
            RasterInput("before", "Earlier product"),
            RasterInput("after", "Later product, on the grid of 'before'"),
            LiteralInput(
                "kind",
                "optical, sar or auto (sar when both have VV)",
                "string",
                default="auto",
                min_occurs=0,
                allowed_values=("auto", "optical", "sar"),
            ),
            LiteralInput(
                "threshold",
                "Change threshold on the magnitude (default: Otsu)",
                "float",
                min_occurs=0,
                minimum=0.0,
            ),
            LiteralInput(
                "mask_clouds",
                "Mask clouds and shadows (optical)",
                "boolean",
                default=True,
                min_occurs=0,
            ),
            LiteralInput(
                "sar_units",
                "Units of SAR inputs",
                "string",
                default="auto",
                min_occurs=0,
                allowed_values=("auto", "dB", "linear"),
            ),
            LiteralInput(
                "speckle_window",
                "Boxcar window for SAR speckle (pixels, 1 = off)",
                "integer",
                default=5,
                min_occurs=0,
                minimum=1,
                maximum=15,
            ),
        ),
        outputs=(
            RasterOutput(
                "magnitude",
                "Change magnitude",
                "change-magnitude",
                style="magnitude",
                abstract="optical: standardised RMS difference; SAR: |log-ratio| in dB",
            ),
            RasterOutput(
                "change",
                "Change classes",
                "change-mask",
                style="change-classes",
                abstract="uint8: 0 nodata, 1 no change, 2 change",
            ),
            LiteralOutput("changed_area", "Changed area", "float", uom="km2"),
            ComplexOutput(
                "statistics", "Changed pixels, fraction, area, threshold", ("application/json",)
            ),
        ),
    )

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        before: Raster = inputs["before"]
        after: Raster = inputs["after"]
        require_same_grid(before, after, "before", "after")
        kind = detect_kind(before, after, str(inputs.get("kind", "auto")))
        context.progress(2, f"{kind} change detection")
        if kind == "sar":
            magnitude, details = sar_magnitude(
                before,
                after,
                str(inputs.get("sar_units", "auto")),
                int(inputs.get("speckle_window", 5)),
                context,
            )
        else:
            magnitude, details = optical_magnitude(
                before, after, bool(inputs.get("mask_clouds", True)), context
            )
        valid = np.isfinite(magnitude)
        if not valid.any():
            raise ProcessInputError("The two products share no valid pixel.", locator="after")
        given = inputs.get("threshold")
        threshold = (
            float(given)
            if given is not None
            else otsu_threshold(magnitude[valid], OTSU_BOUNDS[kind])
        )
        changed = valid & (magnitude > threshold)
        change = np.where(changed, classes.CHANGE, classes.NO_CHANGE).astype(np.uint8)
        change[~valid] = classes.NODATA
        changed_km2 = area_km2(changed, before.crs, before.transform)
        statistics = {
            "kind": kind,
            "threshold": round(threshold, 6),
            "threshold_method": "given" if given is not None else "otsu",
            "valid_pixels": int(valid.sum()),
            "changed_pixels": int(changed.sum()),
            "changed_fraction": float(changed.sum() / valid.sum()),
            "changed_area_km2": round(changed_km2, 6),
            "valid_area_km2": round(area_km2(valid, before.crs, before.transform), 6),
            **details,
        }
        context.progress(100, "done")
        return {
            "magnitude": float_raster(magnitude, before, "change_magnitude", after),
            "change": class_raster(change, before, "change_class", classes.CHANGE_CLASSES, after),
            "changed_area": round(changed_km2, 6),
            "statistics": statistics,
        }

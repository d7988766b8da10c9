"""``change-detection``: two products of the same area at two dates -> change magnitude
(or probability), change mask (0 nodata, 1 no change, 2 change) and statistics.

- optical, method ``learned`` (default): a LightGBM classifier over per-pixel features
  with spatial context (:mod:`processes.change_features`: standardised band differences,
  log-ratios, indices of both dates, multi-scale neighbourhood means and texture), trained
  on the labelled OSCD Sentinel-2 city pairs (:mod:`processes.change_training`) and
  shipped in the package. The probability is averaged over a small window and
  thresholded; window and threshold are chosen by cross-validation over the training cities.
- optical, method ``cva``: classic change vector analysis. Each band of each date is
  standardised over the pixels valid on both dates, magnitude = root-mean-square
  difference over the bands, threshold = Otsu's.
- sar: log-ratio. VV (and VH) are speckle-filtered (boxcar mean in linear power); per
  polarisation the log-ratio 10 log10(after / before) in dB is compared with its own
  no-change spread (median and 1.4826 x MAD over the scene, where change is a minority):
  change where any polarisation departs by more than SAR_SIGMAS robust standard deviations
  and at least SAR_MIN_DB (a constant false-alarm rate under a Gaussian no-change
  log-ratio; no labels exist here to train on). ``cva`` uses Otsu on |log-ratio| instead.

Clouds and shadows are masked with s2cloudless (L1C: the 10 bands it needs) or the SCL band
(L2A), never with the spectral rules, which take bright new buildings for cloud. 'after'
is put onto the grid of 'before' first (:mod:`processes.alignment`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr
from scipy import ndimage

from processes import classes
from processes.alignment import align_to_grid
from processes.base import (
    ComplexOutput,
    LiteralInput,
    LiteralOutput,
    ProcessContext,
    ProcessDescription,
    Raster,
    RasterInput,
    RasterOutput,
    hand_over,
)
from processes.blocks import compute_tasks, persist
from processes.change_features import (
    FEATURE_BANDS,
    FEATURE_REACH,
    block_features,
    every_nth_valid,
    feature_statistics,
    normalise,
    quartiles,
    quartiles_of_values,
    sample_chunks,
    sample_stride,
    sample_tiles,
    scene_statistics,
    tile_feature_values,
)
from processes.change_model import CLEANUP_REACH, ChangeModel, shipped_model
from processes.cloud_detectors import S2CloudlessDetector, SclDetector
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
METHODS = ("auto", "learned", "cva")
# Above this many pixels an in-memory pair is still processed in blocks of BLOCK_PIXELS.
IN_MEMORY_PIXELS = 2048 * 2048
BLOCK_PIXELS = 1024
CLOUD_PROCESSING_M = 160.0  # s2cloudless on 160 m block means, as its authors run it
SAR_SIGMAS = 4.0  # robust standard deviations of the no-change log-ratio
SAR_MIN_DB = 1.5  # below this, calibration and incidence differences dominate


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


def _cloud_free(
    raster: Raster, valid: xr.DataArray, locator: str, pixel_m: float
) -> tuple[xr.DataArray, str]:
    """``valid`` without cloud, thin cloud and shadow as found by s2cloudless (L1C: all
    the bands it needs present) or else the SCL band (L2A); unchanged when neither applies.
    Never the spectral rules: they take bright new roofs for cloud and eat real change."""
    detectors = (S2CloudlessDetector(processing_m=CLOUD_PROCESSING_M), SclDetector())
    for detector in detectors:
        if detector.applicable(raster):
            codes, _ = detector.detect(raster, pixel_m, locator)
            cloudy = codes.isin([classes.CLOUD, classes.THIN_CLOUD, classes.SHADOW])
            return valid & ~cloudy.data, detector.name
    return valid, "none (neither the s2cloudless bands nor SCL present)"


def optical_inputs(
    before: Raster, after: Raster, bands: tuple[str, ...], mask_clouds: bool
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray, xr.DataArray, dict[str, Any]]:
    """Reflectance of both dates, the pixels with data on both, those of them free of
    cloud (lazy), and what masked the clouds."""
    first = to_reflectance(select_bands(before, bands, "before"))
    second = to_reflectance(select_bands(after, bands, "after"))
    has_data = valid_mask(select_bands(before, bands, "before"), before.nodata) & valid_mask(
        select_bands(after, bands, "after"), after.nodata
    )
    valid, masks = has_data, {}
    if mask_clouds:
        pixel_m = pixel_size_m(before.crs, before.transform, before.data.sizes["y"])
        for raster, locator in ((before, "before"), (after, "after")):
            valid, masks[locator] = _cloud_free(raster, valid, locator, pixel_m)
    return first, second, has_data, valid, {"cloud_mask": masks or "off"}


def require_bands(raster: Raster, bands: tuple[str, ...], locator: str, hint: str) -> None:
    missing = [b for b in bands if find_band(raster, b) is None]
    if missing:
        raise ProcessInputError(
            f"Input '{locator}' lacks the band(s) {', '.join(missing)} ({hint}); it has "
            f"{', '.join(raster.band_names)}.",
            locator=locator,
        )


def _scene_statistics(stack: np.ndarray) -> np.ndarray:
    """Per-band statistics of a (12, y, x) stack of both dates."""
    dims = ("band", "y", "x")
    half = len(stack) // 2
    return scene_statistics(
        xr.DataArray(stack[:half], dims=dims), xr.DataArray(stack[half:], dims=dims)
    )


def sample_statistics(
    sample: dsa.Array, sample_valid: dsa.Array, context: ProcessContext
) -> tuple[np.ndarray, np.ndarray]:
    """(scene statistics, feature statistics) of a lazy (12, y, x) chunk sample (NaN where
    a date has no data) and its (1, y, x) cloud-free mask: exactly what
    :func:`_scene_statistics` of the gathered sample and :func:`sampled_feature_statistics`
    of it, cloud pixels NaN, give, computed where the chunks are. The sample is read
    once and kept on the workers; the job gathers only the values the statistics take
    (every n-th pixel valid on both dates, ranked by a count of valid pixels per row;
    the strided features of each tile, computed in parallel) and takes their quartiles
    in the same order and precision."""
    sample, sample_valid = persist(
        context, 4, 6, "scene statistics", sample.astype(np.float32), sample_valid
    )
    (per_row,) = compute(
        context, 6, 6, "scene statistics", dsa.isfinite(sample).all(axis=0).sum(axis=1)
    )
    before = np.concatenate(([0], np.cumsum(per_row)))
    select = dask.delayed(every_nth_valid, pure=True)
    strips = np.cumsum((0, *sample.chunks[1]))
    parts = compute_tasks(
        context,
        (6, 7),
        "scene statistics",
        [
            select(sample[:, r0:r1], int(before[r0]), int(before[-1]))
            for r0, r1 in zip(strips[:-1], strips[1:], strict=True)
        ],
    )
    stats = quartiles(np.concatenate(parts, axis=1))
    masked = dsa.where(sample_valid, sample, np.nan).astype(np.float32)
    stride = sample_stride(masked.shape)
    tile_values = dask.delayed(tile_feature_values, pure=True)
    kept = compute_tasks(
        context,
        (7, 10),
        "feature statistics",
        [
            tile_values(masked[:, rows, cols], stats, stride)
            for rows, cols in sample_tiles(masked.shape)
        ],
    )
    return stats, quartiles_of_values(list(kept), iqr_only=True)


def learned_probability(
    before: Raster, after: Raster, mask_clouds: bool, model: ChangeModel, context: ProcessContext
) -> tuple[np.ndarray, dict[str, Any]]:
    hint = (
        "the learned method needs blue, green, red, NIR, SWIR1, SWIR2 = B02, B03, B04, B08, "
        "B11, B12 in both products; method=cva works with any two common bands"
    )
    for raster, locator in ((before, "before"), (after, "after")):
        require_bands(raster, FEATURE_BANDS, locator, hint)
    first, second, has_data, valid, details = optical_inputs(
        before, after, FEATURE_BANDS, mask_clouds
    )
    context.progress(4, "scene statistics")
    with_data = xr.concat([first, second], dim="band").where(has_data)
    if not isinstance(with_data.data, dsa.Array) and valid.size > IN_MEMORY_PIXELS:
        # 62 float32 features of a whole 4096 x 4096 scene would take ~4 GiB: block by block
        with_data = with_data.chunk({"band": -1, "y": BLOCK_PIXELS, "x": BLOCK_PIXELS})
        valid = valid.chunk({"y": BLOCK_PIXELS, "x": BLOCK_PIXELS})
    stack = with_data.where(valid)
    if not isinstance(stack.data, dsa.Array):  # in memory: features once, whole scene
        stats = _scene_statistics(np.asarray(with_data.values))
        features = block_features(np.asarray(stack.values), stats)
        normalise(features, feature_statistics(features))
        context.progress(30, "learned change detection")
        probability = model.decide(model.probability(features))
        context.progress(90, "learned change detection")
    else:  # chunked: statistics from one sample of chunks, then block by block
        data = with_data.data.rechunk({0: -1})
        # the cloud mask may come in other chunks (s2cloudless runs on a coarser grid):
        # sample the same windows of both
        valid_data = dsa.asarray(valid.data).rechunk(data.chunks[1:])[np.newaxis]
        stats, feature_stats = sample_statistics(
            sample_chunks(data), sample_chunks(valid_data), context
        )

        def block(b: np.ndarray) -> np.ndarray:
            features = normalise(block_features(b, stats), feature_stats)
            return model.decide(model.probability(features))

        lazy = map_pixels(block, stack, depth=FEATURE_REACH + CLEANUP_REACH, dtype=np.float32)
        (probability,) = compute(context, 10, 90, "learned change detection", lazy)
    return probability.astype(np.float32, copy=False), {  # no second full-tile copy
        "bands": list(FEATURE_BANDS),
        "units": "change probability",
        "model": {
            "training_cities": model.metadata.get("training_cities"),
            "loco_pooled_f1": model.metadata.get("loco_pooled_f1"),
        },
        **details,
    }


def cva_magnitude(
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
    first, second, _, valid, details = optical_inputs(before, after, bands, mask_clouds)
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
    return magnitude, {"bands": list(bands), "units": "standardised RMS difference", **details}


def _robust_spread(ratio: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Per polarisation: median and 1.4826 x MAD of the log-ratio (a sample of chunks
    when dask-backed)."""
    data = ratio.data
    if not isinstance(data, np.ndarray):
        data = sample_chunks(data).compute()
    flat = np.asarray(data, dtype=np.float32).reshape(data.shape[0], -1)
    medians, sigmas = [], []
    for values in flat:
        values = values[np.isfinite(values)]
        if values.size == 0:
            medians.append(0.0)
            sigmas.append(0.0)
            continue
        median = float(np.median(values))
        medians.append(median)
        sigmas.append(1.4826 * float(np.median(np.abs(values - median))))
    return np.asarray(medians, np.float32), np.asarray(sigmas, np.float32)


def sar_change(
    before: Raster,
    after: Raster,
    units: str,
    window: int,
    robust: bool,
    context: ProcessContext,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """|log-ratio| magnitude in dB and, when ``robust``, the change decided per
    polarisation against its robust no-change spread (else None: the caller thresholds)."""
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
    ratio = (filtered[1] - filtered[0]).astype("float32")
    magnitude_lazy = abs(ratio).max("out", skipna=False).astype("float32")
    details: dict[str, Any] = {
        "polarisations": [p.upper() for p in pols],
        "units": "dB",
        "speckle_window": window,
    }
    if not robust:
        (magnitude,) = compute(context, 5, 85, "log-ratio", magnitude_lazy)
        return magnitude, None, details
    context.progress(4, "no-change spread of the log-ratio")
    medians, sigmas = _robust_spread(ratio)
    low = xr.DataArray(medians - np.maximum(SAR_SIGMAS * sigmas, SAR_MIN_DB), dims="out")
    high = xr.DataArray(medians + np.maximum(SAR_SIGMAS * sigmas, SAR_MIN_DB), dims="out")
    changed_lazy = ((ratio < low) | (ratio > high)).any("out")
    magnitude, changed = compute(context, 5, 85, "log-ratio", magnitude_lazy, changed_lazy)
    details["no_change_db"] = {
        p.upper(): {"median": round(float(m), 4), "sigma": round(float(s), 4)}
        for p, m, s in zip(pols, medians, sigmas, strict=True)
    }
    details["sigmas"] = SAR_SIGMAS
    return magnitude, changed.astype(bool), details


class ChangeDetection:
    description = ProcessDescription(
        id="change-detection",
        version="2.0.0",
        title="Change detection between two dates",
        abstract=(
            "Two products of the same area at two dates. 'after' is aligned onto the grid of "
            "'before' (the first input): when CRS, pixel size or extent differ it is "
            "reprojected with GDAL (bilinear; nearest for the SCL class band) over the extent "
            "of 'before', and pixels it does not cover are nodata. Optical (default method "
            "'learned'): a LightGBM classifier over multi-scale spatial features of both dates "
            "(band differences and log-ratios, NDVI/NDBI/MNDWI/brightness, neighbourhood means "
            "and texture), trained on the labelled OSCD Sentinel-2 city pairs; the probability is "
            "averaged over a window and thresholded, both chosen by leave-one-city-out "
            "cross-validation; needs B02, B03, "
            "B04, B08, B11, B12 (L1C or L2A, ~10 m pixels); magnitude = change probability. "
            "Method 'cva': change vector analysis on standardised reflectance with an Otsu "
            "threshold. Clouds and shadows are masked with s2cloudless (L1C) or SCL (L2A). SAR "
            "(VV/VH): log-ratio in dB after speckle filtering, change where it departs from its "
            "own no-change spread by more than 4 robust standard deviations (method 'cva': "
            "Otsu). Change classes: 0 nodata, 1 no change, 2 change."
        ),
        keywords=("change detection", "LightGBM", "CVA", "log-ratio", "Sentinel-1", "Sentinel-2"),
        inputs=(
            RasterInput("before", "Earlier product (its grid is the output grid)"),
            RasterInput("after", "Later product, aligned onto the grid of 'before'"),
            LiteralInput(
                "kind",
                "optical, sar or auto (sar when both have VV)",
                "string",
                default="auto",
                min_occurs=0,
                allowed_values=("auto", "optical", "sar"),
            ),
            LiteralInput(
                "method",
                "auto (learned for optical, robust log-ratio for SAR), learned, or cva "
                "(classic: CVA / log-ratio with an Otsu threshold)",
                "string",
                default="auto",
                min_occurs=0,
                allowed_values=METHODS,
            ),
            LiteralInput(
                "threshold",
                "Change threshold on the magnitude (default: the model's for 'learned', the "
                "robust log-ratio rule for SAR, Otsu for 'cva')",
                "float",
                min_occurs=0,
                minimum=0.0,
            ),
            LiteralInput(
                "mask_clouds",
                "Mask clouds and shadows (optical; s2cloudless or SCL)",
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
                abstract="learned: change probability 0..1; cva: standardised RMS difference; "
                "SAR: |log-ratio| in dB",
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

    def __init__(self, model: ChangeModel | None = None) -> None:
        # None: the shipped model, loaded on first use (leave-one-city-out scoring passes
        # a model that never saw the scored city).
        self._model = model

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        before: Raster = inputs["before"]
        after = align_to_grid(inputs["after"], before, "after", "before")
        kind = detect_kind(before, after, str(inputs.get("kind", "auto")))
        method = str(inputs.get("method", "auto"))
        given = inputs.get("threshold")
        mask_clouds = bool(inputs.get("mask_clouds", True))
        context.progress(2, f"{kind} change detection")
        changed: np.ndarray | None = None
        if kind == "sar":
            if method == "learned":
                raise ProcessInputError(
                    "There is no learned SAR change model; use method auto or cva.",
                    locator="method",
                )
            magnitude, changed, details = sar_change(
                before,
                after,
                str(inputs.get("sar_units", "auto")),
                int(inputs.get("speckle_window", 5)),
                method == "auto" and given is None,
                context,
            )
            method_name = "robust log-ratio" if changed is not None else "log-ratio"
        elif method == "cva":
            magnitude, details = cva_magnitude(before, after, mask_clouds, context)
            method_name = "cva"
        else:
            model = self._model or shipped_model()
            magnitude, details = learned_probability(before, after, mask_clouds, model, context)
            method_name = "learned"
        valid = np.isfinite(magnitude)
        if not valid.any():
            raise ProcessInputError("The two products share no valid pixel.", locator="after")
        magnitude_raster = float_raster(magnitude, before, "change_magnitude", after)
        if method_name == "learned":  # drawn on the 0-1 ramp, not the 0-6 magnitude one
            magnitude_raster.metadata["style"] = "probability"
        hand_over(context, "magnitude", magnitude_raster)  # written while the rest is found
        if given is not None:
            threshold, threshold_method = float(given), "given"
        elif changed is not None:
            threshold, threshold_method = float("nan"), "robust no-change spread"
        elif method_name == "learned":
            threshold, threshold_method = (self._model or shipped_model()).threshold, "model"
        else:
            threshold = otsu_threshold(magnitude[valid], OTSU_BOUNDS[kind])
            threshold_method = "otsu"
        changed = valid & (changed if changed is not None else magnitude > threshold)
        change = np.where(changed, classes.CHANGE, classes.NO_CHANGE).astype(np.uint8)
        change[~valid] = classes.NODATA
        change_raster = class_raster(change, before, "change_class", classes.CHANGE_CLASSES, after)
        hand_over(context, "change", change_raster)
        changed_km2 = area_km2(changed, before.crs, before.transform)
        statistics = {
            "kind": kind,
            "method": method_name,
            "threshold": None if threshold != threshold else round(threshold, 6),
            "threshold_method": threshold_method,
            "valid_pixels": int(valid.sum()),
            "changed_pixels": int(changed.sum()),
            "changed_fraction": float(changed.sum() / valid.sum()),
            "changed_area_km2": round(changed_km2, 6),
            "valid_area_km2": round(area_km2(valid, before.crs, before.transform), 6),
            **details,
        }
        context.progress(100, "done")
        return {
            "magnitude": magnitude_raster,
            "change": change_raster,
            "changed_area": round(changed_km2, 6),
            "statistics": statistics,
        }

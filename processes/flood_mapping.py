"""``flood-mapping``: Sentinel-1 VV/VH (dB) and/or Sentinel-2 -> water extent raster
(0 nodata, 1 dry, 2 water, 3 new water), polygons (GeoJSON, WGS84) and areas in km².

- S1: calm open water is a specular reflector, dark in VV (and VH). After a boxcar speckle
  filter (linear power), water = VV below Otsu's threshold, searched within [-25, -10] dB
  so an image with little water still gets a sane threshold; with VH, also VH below its
  Otsu threshold within [-32, -18] dB (both must agree: fewer false positives from dry,
  smooth surfaces that are dark in one polarisation only).
- S2: MNDWI = (green - swir1) / (green + swir1) (NDWI with NIR when SWIR1 is missing)
  above Otsu's threshold searched within [0, 0.5]: 0 is the textbook surface-reflectance
  threshold, but L1C top-of-atmosphere green carries path radiance that lifts the index
  of wet soil above 0 (on sen1floods11 Spain, Otsu's ~0.14 agrees with S1 on 86 % of the
  pixels against 75 % for 0); cloudy pixels (rule-based detector, when the bands allow) are not classified.
- Both given: water where either says water, nodata only where neither is valid.
- With a pre-event image (same sensor types, same grid): water now and dry before is
  new water (3); water at both dates stays 2 (permanent water).
Inputs not on the grid of the first given one are aligned onto it (processes/alignment.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

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
)
from processes.change_detection import boxcar_db, sar_in_db
from processes.cloud_detectors import RULE_BANDS, rule_classes_lazy
from processes.errors import MissingProcessInput, ProcessInputError
from processes.raster_ops import (
    area_km2,
    class_raster,
    compute,
    feature_collection,
    find_band,
    map_pixels,
    otsu_threshold,
    pixel_size_m,
    polygons,
    select_bands,
    to_reflectance,
    valid_mask,
)

VV_BOUNDS = (-25.0, -10.0)
VH_BOUNDS = (-32.0, -18.0)
INDEX_BOUNDS = (0.0, 0.5)


def s1_water(
    raster: Raster,
    locator: str,
    use_vh: bool,
    window: int,
    vv_threshold: float | None,
    context: ProcessContext,
    span: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """(water, valid, thresholds) from a VV[/VH] dB (or linear) raster."""
    if find_band(raster, "vv") is None:
        raise ProcessInputError(
            f"Input '{locator}' has no VV band; it has {', '.join(raster.band_names)}.",
            locator=locator,
        )
    pols = ("vv", "vh") if use_vh and find_band(raster, "vh") is not None else ("vv",)
    db = sar_in_db(raster, pols, locator, "auto")
    filtered = map_pixels(
        lambda b: boxcar_db(b, window), db, depth=window, dtype=np.float32, n_out=len(pols)
    )
    (values,) = compute(context, span[0], span[1], f"speckle filter ({locator})", filtered)
    valid = np.isfinite(values).all(axis=0)
    thresholds = {
        "vv_db": vv_threshold
        if vv_threshold is not None
        else otsu_threshold(values[0][valid], VV_BOUNDS)
    }
    water = valid & (values[0] < thresholds["vv_db"])
    if len(pols) == 2:
        thresholds["vh_db"] = otsu_threshold(values[1][valid], VH_BOUNDS)
        water &= values[1] < thresholds["vh_db"]
    return water, valid, thresholds


def s2_water(
    raster: Raster, locator: str, context: ProcessContext, span: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, float]:
    """(water, valid, threshold): MNDWI (or NDWI) above Otsu's threshold within
    INDEX_BOUNDS, clouds and shadows left unclassified."""
    second = "swir1" if find_band(raster, "swir1") else "nir"
    needed = ("green", second)
    bands = to_reflectance(select_bands(raster, needed, locator))
    valid = valid_mask(select_bands(raster, needed, locator), raster.nodata)
    green, other = bands.sel(band="green"), bands.sel(band=second)
    index = (green - other) / (green + other)
    arrays: list[xr.DataArray] = [index, valid]
    if all(find_band(raster, b) for b in RULE_BANDS):
        pixel_m = pixel_size_m(raster.crs, raster.transform, raster.data.sizes["y"])
        six = to_reflectance(select_bands(raster, RULE_BANDS, locator)).where(valid)
        arrays.append(rule_classes_lazy(six, pixel_m))
    computed = compute(context, span[0], span[1], f"water index ({locator})", *arrays)
    ok = computed[1].astype(bool) & np.isfinite(computed[0])
    if len(computed) == 3:
        ok &= computed[2] == classes.CLEAR
    threshold = otsu_threshold(computed[0][ok], INDEX_BOUNDS)
    return ok & (computed[0] > threshold), ok, threshold


class FloodMapping:
    description = ProcessDescription(
        id="flood-mapping",
        version="1.0.0",
        title="Flood / water extent mapping",
        abstract=(
            "Sentinel-1 VV/VH (dB or linear) and/or Sentinel-2 -> water classes 0 nodata, 1 dry, "
            "2 water, 3 new water (water now, dry in the pre-event image), polygons of the "
            "(new) water in WGS84 GeoJSON and areas in km². S1: Otsu threshold on speckle-filtered "
            "VV within [-25, -10] dB (and VH); S2: Otsu on MNDWI within [0, 0.5], clouds masked. "
            "Inputs not on the grid of the first given one (s1, else s2) are reprojected onto "
            "it (GDAL, bilinear) over its extent; uncovered pixels are nodata."
        ),
        keywords=("flood", "water", "Sentinel-1", "Sentinel-2", "Otsu"),
        inputs=(
            RasterInput(
                "s1", "Sentinel-1 VV/VH after the event", required_bands=("VV",), min_occurs=0
            ),
            RasterInput("s2", "Sentinel-2 after the event", required_bands=("B03",), min_occurs=0),
            RasterInput(
                "pre_s1", "Sentinel-1 before the event", required_bands=("VV",), min_occurs=0
            ),
            RasterInput(
                "pre_s2", "Sentinel-2 before the event", required_bands=("B03",), min_occurs=0
            ),
            LiteralInput("use_vh", "Also require low VH", "boolean", default=True, min_occurs=0),
            LiteralInput(
                "vv_threshold",
                "VV water threshold in dB (default: Otsu)",
                "float",
                min_occurs=0,
                minimum=-40.0,
                maximum=5.0,
            ),
            LiteralInput(
                "speckle_window",
                "Boxcar window (pixels, 1 = off)",
                "integer",
                default=5,
                min_occurs=0,
                minimum=1,
                maximum=15,
            ),
            LiteralInput(
                "min_polygon_pixels",
                "Drop water patches smaller than this",
                "integer",
                default=10,
                min_occurs=0,
                minimum=1,
                maximum=100000,
            ),
        ),
        outputs=(
            RasterOutput(
                "water",
                "Water classes",
                "flood-extent",
                style="flood-classes",
                abstract="uint8: 0 nodata, 1 dry, 2 water, 3 new water",
            ),
            ComplexOutput(
                "polygons",
                "Flood polygons (new water with a pre-event image, else water)",
                ("application/geo+json",),
            ),
            LiteralOutput("water_area", "Water area", "float", uom="km2"),
            LiteralOutput(
                "flooded_area",
                "Flooded area (new water; all water without a pre-event image)",
                "float",
                uom="km2",
            ),
            ComplexOutput("statistics", "Thresholds, fractions and areas", ("application/json",)),
        ),
    )

    def _water(
        self,
        inputs: Mapping[str, Any],
        s1_id: str,
        s2_id: str,
        context: ProcessContext,
        span: tuple[float, float],
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        water: np.ndarray | None = None
        valid: np.ndarray | None = None
        details: dict[str, Any] = {}
        middle = (span[0] + span[1]) / 2
        if inputs.get(s1_id) is not None:
            water, valid, thresholds = s1_water(
                inputs[s1_id],
                s1_id,
                bool(inputs.get("use_vh", True)),
                int(inputs.get("speckle_window", 5)),
                inputs.get("vv_threshold"),
                context,
                (span[0], middle),
            )
            details[f"{s1_id}_thresholds_db"] = {k: round(v, 3) for k, v in thresholds.items()}
        if inputs.get(s2_id) is not None:
            water2, valid2, index_threshold = s2_water(
                inputs[s2_id], s2_id, context, (middle, span[1])
            )
            details[f"{s2_id}_index_threshold"] = round(index_threshold, 4)
            details[f"{s2_id}_water_fraction"] = float(water2.sum() / max(valid2.sum(), 1))
            if water is None or valid is None:
                water, valid = water2, valid2
            else:
                details["s1_s2_agreement"] = float(
                    ((water == water2) & valid & valid2).sum() / max((valid & valid2).sum(), 1)
                )
                water, valid = (water & valid) | water2, valid | valid2
        assert water is not None and valid is not None
        return water, valid, details

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        given = [k for k in ("s1", "s2") if inputs.get(k) is not None]
        if not given:
            raise MissingProcessInput(
                "Give a Sentinel-1 ('s1') and/or a Sentinel-2 ('s2') image.", locator="s1"
            )
        reference: Raster = inputs[given[0]]
        inputs = dict(inputs)  # every other input onto the first one's grid
        for key in ("s1", "s2", "pre_s1", "pre_s2"):
            if inputs.get(key) is not None and key != given[0]:
                inputs[key] = align_to_grid(inputs[key], reference, key, given[0])
        pre_given = [k for k in ("pre_s1", "pre_s2") if inputs.get(k) is not None]
        water, valid, details = self._water(
            inputs, "s1", "s2", context, (2, 45 if pre_given else 85)
        )
        out = np.where(water, classes.WATER, classes.DRY).astype(np.uint8)
        flood = water
        if pre_given:
            water_before, valid_before, details_before = self._water(
                inputs, "pre_s1", "pre_s2", context, (45, 85)
            )
            details.update(details_before)
            flood = water & valid_before & ~water_before
            out[flood] = classes.NEW_WATER
        out[~valid] = classes.NODATA
        context.progress(88, "polygons")
        crs, transform = reference.crs, reference.transform
        min_pixels = int(inputs.get("min_polygon_pixels", 10))
        kind = "new water" if pre_given else "water"
        features = polygons(flood, crs, transform, {"class": kind}, min_pixels=min_pixels)
        water_km2, flood_km2 = (
            area_km2(water & valid, crs, transform),
            area_km2(flood, crs, transform),
        )
        sources = [inputs[k] for k in ("s1", "s2", "pre_s1", "pre_s2") if inputs.get(k) is not None]
        statistics = {
            **details,
            "valid_pixels": int(valid.sum()),
            "water_pixels": int((water & valid).sum()),
            "water_fraction": float((water & valid).sum() / max(valid.sum(), 1)),
            "water_area_km2": round(water_km2, 6),
            "flooded_area_km2": round(flood_km2, 6),
            "polygons": len(features),
            "pre_event": bool(pre_given),
        }
        context.progress(100, "done")
        return {
            "water": class_raster(out, reference, "water_class", classes.FLOOD_CLASSES, *sources),
            "polygons": feature_collection(features),
            "water_area": round(water_km2, 6),
            "flooded_area": round(flood_km2, 6),
            "statistics": statistics,
        }

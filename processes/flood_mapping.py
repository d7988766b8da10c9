"""``flood-mapping``: Sentinel-1 VV/VH (dB) and/or Sentinel-2 -> water extent raster
(0 nodata, 1 dry, 2 water, 3 new water), polygons (GeoJSON, WGS84) and areas in km².

- S1: calm open water is a specular reflector, dark in VV. A 3x3 boxcar (linear power)
  calms speckle; thresholds come from split-based thresholding (Martinis et al. 2009,
  2015): the pooled histogram of the tiles whose VV histogram is clearly bimodal
  (Ashman's D), so a scene with a few % water still shows its water mode. Pixels below
  its minimum-error (Kittler-Illingworth) threshold are confident seeds; they grow into
  connected pixels up to 1 dB above its Otsu threshold (vegetated or wind-roughened parts
  of flooded fields), while dark dry fields away from water stay dry. VH is optional
  (``use_vh``): on sen1floods11 Spain it changed agreement with S2 by < 0.01 IoU, and the
  old AND with VH lost true water, so it is off by default.
- S2: MNDWI = (green - swir1) / (green + swir1) (NDWI with NIR when SWIR1 is missing)
  above Otsu's threshold searched within [0, 0.5]: 0 is the textbook surface-reflectance
  threshold, but L1C top-of-atmosphere green carries path radiance that lifts the index
  of wet soil above 0; cloudy, thin-cloud and shadow pixels are not classified.
- Both given: S2 decides where S2 is clear, S1 where S2 is cloudy, in shadow or missing
  (optical water indices are the more accurate where they see the ground; radar sees
  through clouds). Not a union: a union adds S1's false alarms to S2's clear pixels.
- With a pre-event image (same sensor types, same grid): water now and dry before is
  new water (3); water at both dates stays 2 (permanent water).
Inputs not on the grid of the first given one are aligned onto it (processes/alignment.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import dask.array as dsa
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
    hand_over,
)
from processes.blocks import as_blocks, block_reduce, keep_seeded_components, persist
from processes.change_detection import sar_in_db
from processes.cloud_detectors import RULE_BANDS, rule_classes_lazy
from processes.errors import MissingProcessInput, ProcessInputError
from processes.flood_thresholds import (
    block_histograms,
    bounded_histograms,
    dilate_cross,
    speckle_filter,
    thresholds_from_histograms,
    tile_histograms,
    tile_side,
)
from processes.raster_ops import (
    bounded_histogram,
    class_raster,
    compute,
    feature_collection,
    find_band,
    map_pixels,
    otsu_of_histogram,
    pixel_size_m,
    polygons_by_block,
    rows_area_km2,
    select_bands,
    to_reflectance,
    valid_mask,
)

VV_BOUNDS = (-25.0, -10.0)
VH_BOUNDS = (-32.0, -18.0)
INDEX_BOUNDS = (0.0, 0.5)
# A confident seed is dark in absolute terms too: smooth dry soil reaches -15 dB in VV,
# open water is below ~-18 dB (VH ~7 dB lower); seeds are capped here whatever the
# histogram says, so a scene of dark dry fields and little water seeds little.
VV_SEED_MAX_DB = -16.0
VH_SEED_MAX_DB = -23.0
# Region growing stays within this many px of a seed: no walking into a dark dry field.
GROW_REACH_PX = 8
GROW_MARGIN_DB = 1.0  # region growing reaches connected pixels up to Otsu + this
BLOCK_PX = 2048  # block side for full tiles (see coarser_blocks)


def _s1_codes(
    block: np.ndarray, seed_db: float, grow_db: float, vh_seed_db: float | None
) -> np.ndarray:
    """Per pixel of a filtered (pol, y, x) block: 0 nodata, 1 dry, 2 may grow (below the
    growing threshold and within GROW_REACH_PX of a seed), 3 seed. Needs a halo of
    GROW_REACH_PX."""
    valid = np.isfinite(block).all(axis=0)
    vv = block[0]
    seeds = valid & (vv < seed_db)
    if vh_seed_db is not None:
        seeds &= block[1] < vh_seed_db
    near = dilate_cross(seeds, GROW_REACH_PX)
    codes = valid.astype(np.uint8)
    codes[valid & (vv < grow_db) & near] = 2
    codes[seeds] = 3
    return codes


def coarser_blocks(data: xr.DataArray) -> xr.DataArray:
    """A dask-backed image larger than 2 x BLOCK_PX, in blocks of whole read chunks up
    to BLOCK_PX: the flood steps are cheap per pixel, so with 1024 px chunks dask's own
    per-task work was about a third of the job's CPU; 2048 px blocks quarter it."""
    if (
        not isinstance(data.data, dsa.Array)
        or max(data.sizes["y"], data.sizes["x"]) <= 2 * BLOCK_PX
    ):
        return data
    chunks = data.data.chunks
    sizes = {}
    for axis, dim in ((1, "y"), (2, "x")):
        sizes[dim] = max(BLOCK_PX // chunks[axis][0], 1) * chunks[axis][0]
    return data.chunk(sizes)


def s1_water(
    raster: Raster,
    locator: str,
    use_vh: bool,
    window: int,
    vv_threshold: float | None,
    context: ProcessContext,
    span: tuple[float, float],
) -> tuple[dsa.Array, dsa.Array, dict[str, Any]]:
    """Lazy (water, valid) and details from a VV[/VH] dB (or linear) raster:
    split-based thresholds on speckle-filtered VV; pixels below the strict
    (minimum-error) one seed region growing into connected pixels up to GROW_MARGIN_DB
    above the relaxed (Otsu) one: flooded fields are brighter than open water at their
    vegetated or wind-roughened parts, but dark dry fields away from water stay dry. A
    given ``vv_threshold`` is used as it is (no growing). With ``use_vh`` seeds must
    also be below VH's strict threshold.

    Block by block: the filtered image is computed once and kept (where the blocks
    were read), the tile histograms are summed from per-block parts, each pixel is
    coded (seed / may grow / dry) per block with a halo, and the growing keeps the
    connected regions holding a seed across block edges."""
    if find_band(raster, "vv") is None:
        raise ProcessInputError(
            f"Input '{locator}' has no VV band; it has {', '.join(raster.band_names)}.",
            locator=locator,
        )
    pols = ("vv", "vh") if use_vh and find_band(raster, "vh") is not None else ("vv",)
    db = coarser_blocks(sar_in_db(raster, pols, locator, "auto"))
    filtered = map_pixels(
        lambda b: speckle_filter(b, window), db, depth=window, dtype=np.float32, n_out=len(pols)
    )
    # progress: filtering (reading) the bulk, then histograms, codes, growing
    steps = [span[0] + (span[1] - span[0]) * f for f in (0.0, 0.55, 0.65, 0.8, 1.0)]
    (filtered,) = persist(context, steps[0], steps[1], f"speckle filter ({locator})", filtered)
    bands = [as_blocks(filtered[i]) for i in range(len(pols))]
    valid = dsa.isfinite(as_blocks(filtered)).all(axis=0)
    details: dict[str, Any] = {}
    thresholds: dict[str, float] = {}
    vh_seed: float | None = None
    if vv_threshold is not None:
        seed_db = relaxed_db = grow_db = float(vv_threshold)
    else:
        shape = (int(filtered.sizes["y"]), int(filtered.sizes["x"]))
        tile = tile_side(shape)
        parts = block_reduce(
            context,
            (steps[1], steps[2]),
            f"tile histograms ({locator})",
            partial(block_histograms, tile=tile),
            valid,
            *bands,
        )

        def whole(band: int) -> np.ndarray:
            bounded = partial(bounded_histograms, bounds=((VV_BOUNDS, VH_BOUNDS)[band],))
            found = block_reduce(
                context, (steps[2], steps[2]), "image histogram", bounded, valid, bands[band]
            )
            return np.sum([counts for (counts,) in found], axis=0)

        hists = [tile_histograms([p[k] for p in parts], shape, tile) for k in range(len(pols))]
        seed_db, relaxed_db, details["vv_split"] = thresholds_from_histograms(
            hists[0], partial(whole, 0), tile, VV_BOUNDS, VV_SEED_MAX_DB
        )
        grow_db = relaxed_db + GROW_MARGIN_DB
        if len(pols) == 2:
            vh_seed, thresholds["vh_db"], details["vh_split"] = thresholds_from_histograms(
                hists[1], partial(whole, 1), tile, VH_BOUNDS, VH_SEED_MAX_DB
            )
            thresholds["vh_seed_db"] = vh_seed
    thresholds.update({"vv_db": relaxed_db, "vv_seed_db": seed_db, "vv_grow_db": grow_db})
    codes = map_pixels(
        lambda b: _s1_codes(b, seed_db, grow_db, vh_seed),
        filtered,
        depth=GROW_REACH_PX,
        dtype=np.uint8,
    )
    (codes,) = persist(context, steps[2], steps[3], f"seeds ({locator})", codes)
    code_blocks = as_blocks(codes)
    water = keep_seeded_components(
        code_blocks >= 2, code_blocks == 3, context, (steps[3], steps[4])
    )
    details["thresholds_db"] = {k: round(v, 3) for k, v in thresholds.items()}
    return water, code_blocks > 0, details


def _clear_histogram(_: tuple[int, int], index: np.ndarray, clear: np.ndarray) -> np.ndarray:
    return bounded_histogram(index[clear], INDEX_BOUNDS)


def s2_water(
    raster: Raster, locator: str, context: ProcessContext, span: tuple[float, float]
) -> tuple[dsa.Array, dsa.Array, float]:
    """Lazy (water, valid) and the threshold: MNDWI (or NDWI) above Otsu's threshold
    within INDEX_BOUNDS, clouds and shadows left unclassified. The index is computed
    once and kept; its histogram is summed from per-block parts."""
    second = "swir1" if find_band(raster, "swir1") else "nir"
    needed = ("green", second)
    bands = to_reflectance(select_bands(raster, needed, locator))
    valid = valid_mask(select_bands(raster, needed, locator), raster.nodata)
    green, other = bands.sel(band="green"), bands.sel(band=second)
    index = ((green - other) / (green + other)).astype("float32")
    ok = valid & np.isfinite(index)
    if all(find_band(raster, b) for b in RULE_BANDS):
        pixel_m = pixel_size_m(raster.crs, raster.transform, raster.data.sizes["y"])
        six = to_reflectance(select_bands(raster, RULE_BANDS, locator)).where(valid)
        ok = ok & (rule_classes_lazy(six, pixel_m) == classes.CLEAR)
    middle = (span[0] + span[1]) / 2
    index, ok = persist(context, span[0], middle, f"water index ({locator})", index, ok)
    index_blocks, ok_blocks = as_blocks(index), as_blocks(ok)
    parts = block_reduce(
        context,
        (middle, span[1]),
        f"index histogram ({locator})",
        _clear_histogram,
        index_blocks,
        ok_blocks,
    )
    threshold = otsu_of_histogram(np.sum(parts, axis=0), INDEX_BOUNDS)
    return ok_blocks & (index_blocks > np.float32(threshold)), ok_blocks, threshold


class FloodMapping:
    description = ProcessDescription(
        id="flood-mapping",
        version="1.0.0",
        title="Flood / water extent mapping",
        abstract=(
            "Sentinel-1 VV/VH (dB or linear) and/or Sentinel-2 -> water classes 0 nodata, 1 dry, "
            "2 water, 3 new water (water now, dry in the pre-event image), polygons of the "
            "(new) water in WGS84 GeoJSON and areas in km². S1: split-based thresholds (over the "
            "tiles with a bimodal VV histogram, within [-25, -10] dB) on 3x3-filtered VV: seeds "
            "below the minimum-error threshold grow into connected pixels up to 1 dB above "
            "Otsu's; S2: Otsu on MNDWI within [0, 0.5], clouds and shadows masked; both: S2 "
            "where it is clear, S1 elsewhere. Inputs not on the grid of the first given one "
            "(s1, else s2) are reprojected onto it (GDAL, bilinear) over its extent; uncovered "
            "pixels are nodata."
        ),
        keywords=("flood", "water", "Sentinel-1", "Sentinel-2", "split-based threshold"),
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
            LiteralInput(
                "use_vh",
                "Seeds must also be dark in VH (split-based VH threshold)",
                "boolean",
                default=False,
                min_occurs=0,
            ),
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
                default=3,
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
    ) -> tuple[dsa.Array, dsa.Array, dict[str, Any], dict[str, dsa.Array]]:
        """Lazy (water, valid), details, and lazy figures for the details (computed with
        the map in one pass)."""
        water: dsa.Array | None = None
        valid: dsa.Array | None = None
        details: dict[str, Any] = {}
        figures: dict[str, dsa.Array] = {}
        middle = (span[0] + span[1]) / 2 if inputs.get(s2_id) is not None else span[1]
        if inputs.get(s1_id) is not None:
            water, valid, s1_details = s1_water(
                inputs[s1_id],
                s1_id,
                bool(inputs.get("use_vh", False)),
                int(inputs.get("speckle_window", 3)),
                inputs.get("vv_threshold"),
                context,
                (span[0], middle),
            )
            details[f"{s1_id}_thresholds_db"] = s1_details.pop("thresholds_db")
            details[f"{s1_id}_details"] = s1_details
        if inputs.get(s2_id) is not None:
            start = middle if water is not None else span[0]
            water2, clear2, index_threshold = s2_water(
                inputs[s2_id], s2_id, context, (start, span[1])
            )
            details[f"{s2_id}_index_threshold"] = round(index_threshold, 4)
            figures[f"{s2_id}_water_fraction"] = water2.sum() / dsa.maximum(clear2.sum(), 1)
            if water is None or valid is None:
                water, valid = water2, clear2
            else:
                both = valid & clear2
                figures["s1_s2_agreement"] = ((water == water2) & both).sum() / dsa.maximum(
                    both.sum(), 1
                )
                figures["s2_clear_fraction"] = clear2.sum() / dsa.maximum((valid | clear2).sum(), 1)
                water = dsa.where(clear2, water2, water & valid)
                valid = valid | clear2
        assert water is not None and valid is not None
        return water, valid, details, figures

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
        water, valid, details, figures = self._water(
            inputs, "s1", "s2", context, (2, 40 if pre_given else 75)
        )
        # water lies inside valid (every source classifies valid pixels only)
        out = dsa.where(water, classes.WATER, classes.DRY).astype(np.uint8)
        if pre_given:
            water_before, valid_before, details_before, figures_before = self._water(
                inputs, "pre_s1", "pre_s2", context, (40, 75)
            )
            details.update(details_before)
            figures.update(figures_before)
            flood = water & valid_before & ~water_before
            out = dsa.where(flood, classes.NEW_WATER, out)
        out = dsa.where(valid, out, classes.NODATA).astype(np.uint8)
        # the map (and the figures sharing its graph) once, kept where its blocks were
        # computed: polygons, sums and the gathered raster all read it
        names = list(figures)
        sources = [inputs[k] for k in ("s1", "s2", "pre_s1", "pre_s2") if inputs.get(k) is not None]
        out, *figure_values = persist(context, 75, 84, "water map", out, *figures.values())
        crs, transform = reference.crs, reference.transform
        kind = "new water" if pre_given else "water"
        flood_mask = out == (classes.NEW_WATER if pre_given else classes.WATER)
        water_mask = (out == classes.WATER) | (out == classes.NEW_WATER)
        computed = compute(
            context,
            84,
            88,
            "water map",
            out,
            water_mask.sum(axis=1),
            flood_mask.sum(axis=1),
            (out != classes.NODATA).sum(),
            *figure_values,
        )
        water_raster = class_raster(
            computed[0], reference, "water_class", classes.FLOOD_CLASSES, *sources
        )
        hand_over(context, "water", water_raster)  # written while the polygons are traced
        water_rows, flood_rows, valid_count = computed[1:4]
        details.update({name: float(v) for name, v in zip(names, computed[4:], strict=True)})
        features = polygons_by_block(
            flood_mask,
            crs,
            transform,
            {"class": kind},
            int(inputs.get("min_polygon_pixels", 10)),
            context,
            (88, 98),
        )
        water_km2 = rows_area_km2(water_rows, crs, transform)
        flood_km2 = rows_area_km2(flood_rows, crs, transform)
        valid_pixels = int(valid_count)
        water_pixels = int(water_rows.sum())
        statistics = {
            **details,
            "valid_pixels": valid_pixels,
            "water_pixels": water_pixels,
            "water_fraction": float(water_pixels / max(valid_pixels, 1)),
            "water_area_km2": round(water_km2, 6),
            "flooded_area_km2": round(flood_km2, 6),
            "polygons": len(features),
            "pre_event": bool(pre_given),
        }
        context.progress(100, "done")
        return {
            "water": water_raster,
            "polygons": feature_collection(features),
            "water_area": round(water_km2, 6),
            "flooded_area": round(flood_km2, 6),
            "statistics": statistics,
        }

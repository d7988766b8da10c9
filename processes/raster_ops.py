"""Shared raster helpers of the processors: band aliases, reflectance scaling, block-wise
(dask) evaluation with halo, Otsu thresholds, pixel areas and polygons (putting inputs on
one grid: :mod:`processes.alignment`).

Everything here works on in-memory (numpy-backed) and dask-backed DataArrays alike: a
per-pixel or neighbourhood function written for one numpy block is run on the whole array
when it is small, and chunk by chunk with an overlap ("halo") when it is dask-backed, so
both paths give the same answer and a 10980 x 10980 tile never sits in memory as float.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr
from affine import Affine
from dask.callbacks import Callback
from pyproj import CRS, Geod, Transformer
from rasterio import features
from rasterio.warp import transform_geom

from processes.base import BoundingBox, ProcessContext, Raster
from processes.errors import ProcessInputError

# Canonical band name -> accepted names (case-insensitive). Sentinel-2 names first, then
# the generic names used by ukis-csmask / Landsat-style 6-band stacks.
BAND_ALIASES: dict[str, tuple[str, ...]] = {
    "coastal": ("B01", "B1", "coastal"),
    "blue": ("B02", "B2", "blue"),
    "green": ("B03", "B3", "green"),
    "red": ("B04", "B4", "red"),
    "rededge1": ("B05", "B5", "rededge1"),
    "rededge2": ("B06", "B6", "rededge2"),
    "rededge3": ("B07", "B7", "rededge3"),
    "nir": ("B08", "B8", "nir"),
    "nir08": ("B8A", "nir08", "narrownir"),
    "watervapour": ("B09", "B9", "watervapour"),
    "cirrus": ("B10", "cirrus"),
    "swir1": ("B11", "swir1", "swir16"),
    "swir2": ("B12", "swir2", "swir22"),
    "scl": ("SCL", "scl"),
    "vv": ("VV", "vv"),
    "vh": ("VH", "vh"),
}


_CANONICAL = {
    alias.lower(): canonical for canonical, aliases in BAND_ALIASES.items() for alias in aliases
}


def find_band(raster: Raster, name: str) -> str | None:
    """The raster's own name of the band known as ``name`` or any alias of it (so "B03",
    "green" and "Green" all find a band called "Green" or "B03")."""
    canonical = _CANONICAL.get(name.lower(), name.lower())
    accepted = {alias.lower() for alias in BAND_ALIASES.get(canonical, (name,))}
    for name in raster.band_names:
        if name.lower() in accepted:
            return name
    return None


def has_bands(raster: Raster, canonical: Iterable[str]) -> bool:
    return all(find_band(raster, name) is not None for name in canonical)


def select_bands(raster: Raster, canonical: Sequence[str], locator: str) -> xr.DataArray:
    """A (band, y, x) array of the requested bands, relabelled with canonical names."""
    names, missing = [], []
    for name in canonical:
        own = find_band(raster, name)
        (missing.append(name) if own is None else names.append(own))
    if missing:
        wanted = ", ".join(f"{m} ({'/'.join(BAND_ALIASES.get(m, (m,)))})" for m in missing)
        raise ProcessInputError(
            f"Input '{locator}' lacks the band(s) {wanted}; it has {', '.join(raster.band_names)}.",
            locator=locator,
        )
    return raster.data.sel(band=names).assign_coords(band=list(canonical))


def valid_mask(data: xr.DataArray, nodata: float | None) -> xr.DataArray:
    """True where every band holds a value (not NaN and not the nodata value)."""
    ok = xr.ones_like(data, dtype=bool)
    if data.dtype.kind == "f":
        ok = data.notnull() & (abs(data) != np.inf)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        ok = ok & (data != nodata)
    return ok.all("band")


def to_reflectance(data: xr.DataArray, scale: str | float = "auto") -> xr.DataArray:
    """Float32 reflectance (0..~1). ``auto``: integer inputs are Sentinel-2 digital numbers
    (reflectance x 10000); float inputs are taken as reflectance unless a small central
    sample has a median above 2 (then they are DN too). Only that sample is computed."""
    if scale == "auto":
        if data.dtype.kind in "iu":
            factor = 1e-4
        else:
            h, w = data.sizes["y"], data.sizes["x"]
            cy, cx = h // 2, w // 2
            sample = data.isel(
                y=slice(max(cy - 128, 0), cy + 128), x=slice(max(cx - 128, 0), cx + 128)
            )
            median = float(np.nanmedian(np.asarray(sample.values, dtype="float64")))
            factor = 1e-4 if median > 2 else 1.0
    else:
        factor = float(scale)
    return (data.astype("float32") * np.float32(factor)).astype("float32")


def map_pixels(
    func: Callable[[np.ndarray], np.ndarray],
    data: xr.DataArray,
    *,
    depth: int = 0,
    dtype: Any = np.uint8,
    n_out: int | None = None,
) -> xr.DataArray:
    """Apply ``func`` (a (band, y, x) numpy block -> (y, x) or (n_out, y, x) block) to the
    whole image. Dask-backed data is processed chunk by chunk with ``depth`` pixels of halo
    and no padding at the image border, so results equal the in-memory run as long as
    ``func``'s neighbourhood reach is at most ``depth``."""
    dims = ("y", "x") if n_out is None else ("out", "y", "x")
    coords = {"y": data["y"], "x": data["x"]} if "y" in data.coords and "x" in data.coords else {}
    if not isinstance(data.data, dsa.Array):
        return xr.DataArray(func(np.asarray(data.values)), dims=dims, coords=coords)
    arr = data.data.rechunk({0: -1})
    # A halo cannot exceed a neighbouring chunk: merge chunks smaller than the halo; an
    # axis held in one chunk needs no halo at all.
    halo = {
        0: 0,
        1: depth if len(arr.chunks[1]) > 1 else 0,
        2: depth if len(arr.chunks[2]) > 1 else 0,
    }
    if halo[1] or halo[2]:
        arr = arr.rechunk(
            {axis: _merge_small_chunks(halo[axis], arr.chunks[axis]) for axis in (1, 2)}
        )
        halo = {
            0: 0,
            1: halo[1] if len(arr.chunks[1]) > 1 else 0,
            2: halo[2] if len(arr.chunks[2]) > 1 else 0,
        }

    def block(b: np.ndarray) -> np.ndarray:
        out = func(b)
        return out if n_out is not None else out[np.newaxis]

    if halo[1] or halo[2]:
        arr = dsa.overlap.overlap(arr, depth=halo, boundary="none")
    result = arr.map_blocks(block, dtype=dtype, chunks=((n_out or 1),) + arr.chunks[1:])
    if halo[1] or halo[2]:
        result = dsa.overlap.trim_internal(result, halo, boundary="none")
    return xr.DataArray(result if n_out is not None else result[0], dims=dims, coords=coords)


def _merge_small_chunks(halo: int, chunks: tuple[int, ...]) -> tuple[int, ...]:
    if halo >= sum(chunks):
        return (sum(chunks),)
    return tuple(dsa.overlap.ensure_minimum_chunksize(max(halo, 1), chunks))


class _DaskProgress(Callback):
    """Forward dask's local-scheduler task progress to the job's context (which raises
    when the job was dismissed: the exception aborts the computation)."""

    def __init__(self, context: ProcessContext, start: float, end: float, message: str):
        super().__init__()
        self._context, self._from, self._to, self._message = context, start, end, message
        self._last = 0.0

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        now = time.monotonic()
        if now - self._last < 0.5:
            return
        self._last = now
        done = len(state["finished"])
        total = done + sum(len(state[k]) for k in ("ready", "waiting", "running"))
        fraction = done / total if total else 1.0
        self._context.progress(self._from + (self._to - self._from) * fraction, self._message)


def compute(context: ProcessContext, start: float, end: float, message: str, *arrays: Any) -> tuple:
    """Compute (xarray/dask/numpy) values, reporting progress from ``start`` to ``end`` %."""
    context.progress(start, message)
    with _DaskProgress(context, start, end, message):
        values = dask.compute(*[a.data if isinstance(a, xr.DataArray) else a for a in arrays])
    context.progress(end, message)
    return tuple(np.asarray(v) for v in values)


def otsu_threshold(values: np.ndarray, bounds: tuple[float, float], bins: int = 256) -> float:
    """Otsu's between-class-variance threshold of the finite values clipped to ``bounds``
    (the bounds keep a one-class image from producing a nonsense threshold). Callers
    compute the (2-D, uint8/float32) values first: one histogram pass in memory."""
    low, high = bounds
    flat = np.asarray(values).ravel()
    hist_counts, edges = np.histogram(
        flat[np.isfinite(flat)].clip(low, high), bins=bins, range=(low, high)
    )
    hist = hist_counts.astype("float64")
    if hist.sum() == 0:
        return (low + high) / 2
    centers = (edges[:-1] + edges[1:]) / 2
    weight1 = np.cumsum(hist)
    weight2 = hist.sum() - weight1
    mean1 = np.cumsum(hist * centers) / np.maximum(weight1, 1e-12)
    mean2 = (np.sum(hist * centers) - np.cumsum(hist * centers)) / np.maximum(weight2, 1e-12)
    between = weight1 * weight2 * (mean1 - mean2) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def pixel_area_km2(crs: str, transform: Affine, height: int) -> np.ndarray:
    """Area of one pixel in km² for each row (rows differ only in geographic CRSs, where
    the geodesic area of the pixel on the CRS's ellipsoid is used)."""
    crs_obj = CRS.from_user_input(crs)
    if crs_obj.is_geographic:
        geod = crs_obj.get_geod() or Geod(ellps="WGS84")
        areas = np.empty(height, dtype="float64")
        for row in range(height):
            corners = [
                transform @ (0, row),
                transform @ (1, row),
                transform @ (1, row + 1),
                transform @ (0, row + 1),
            ]
            lons, lats = zip(*corners, strict=True)
            area, _ = geod.polygon_area_perimeter(lons, lats)
            areas[row] = abs(area) / 1e6
        return areas
    unit = crs_obj.axis_info[0].unit_conversion_factor if crs_obj.axis_info else 1.0
    return np.full(
        height, abs(transform.a * transform.e - transform.b * transform.d) * unit**2 / 1e6
    )


def area_km2(mask: np.ndarray, crs: str, transform: Affine) -> float:
    """Total area in km² of the True pixels of a (y, x) boolean mask."""
    per_row = np.count_nonzero(mask, axis=1)
    return float(np.dot(per_row, pixel_area_km2(crs, transform, mask.shape[0])))


def pixel_size_m(crs: str, transform: Affine, height: int) -> float:
    """Approximate ground pixel size in metres (for distances given in metres)."""
    return float(math.sqrt(pixel_area_km2(crs, transform, height)[height // 2] * 1e6))


def polygons(
    mask: np.ndarray, crs: str, transform: Affine, properties: dict[str, Any], min_pixels: int = 1
) -> list[dict[str, Any]]:
    """GeoJSON features (WGS84 lon/lat, RFC 7946) of the connected True regions; regions
    smaller than ``min_pixels`` are sieved out first."""
    raster = mask.astype(np.uint8)
    if min_pixels > 1:
        raster = features.sieve(raster, size=min_pixels, connectivity=8)
    out = []
    for geometry, value in features.shapes(
        raster, mask=raster == 1, transform=transform, connectivity=8
    ):
        if value != 1:
            continue
        geometry = transform_geom(crs, "EPSG:4326", geometry)
        out.append({"type": "Feature", "geometry": geometry, "properties": dict(properties)})
    return out


def feature_collection(features_: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features_}


def aoi_mask(
    aoi: BoundingBox | None, crs: str, transform: Affine, shape: tuple[int, int]
) -> np.ndarray:
    """Boolean (y, x) mask of pixels whose centres fall inside the area of interest."""
    if aoi is None:
        return np.ones(shape, dtype=bool)
    src = "OGC:CRS84" if aoi.crs.upper() in ("EPSG:4326", "OGC:CRS84", "CRS84") else aoi.crs
    to_raster = Transformer.from_crs(src, crs, always_xy=True)
    xs, ys = to_raster.transform(
        [aoi.minx, aoi.maxx, aoi.maxx, aoi.minx], [aoi.miny, aoi.miny, aoi.maxy, aoi.maxy]
    )
    inverse = ~transform
    cols, rows = zip(*(inverse @ (x, y) for x, y in zip(xs, ys, strict=True)), strict=True)
    r0, r1 = (
        max(int(math.floor(min(rows) + 0.5)), 0),
        min(int(math.floor(max(rows) + 0.5)), shape[0]),
    )
    c0, c1 = (
        max(int(math.floor(min(cols) + 0.5)), 0),
        min(int(math.floor(max(cols) + 0.5)), shape[1]),
    )
    out = np.zeros(shape, dtype=bool)
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = True
    return out


def class_raster(
    classes: np.ndarray, like: Raster, name: str, class_names: dict[int, str], *sources: Raster
) -> Raster:
    """A single-band uint8 class raster on ``like``'s grid (nodata 0) with lineage and
    its class table in ``metadata["classes"]`` (code -> name, for COG tags and legends)."""
    data = xr.DataArray(
        classes[np.newaxis].astype(np.uint8), dims=("band", "y", "x"), coords={"band": [name]}
    )
    return Raster(
        data=data,
        crs=like.crs,
        transform=like.transform,
        nodata=0,
        source_ids=_lineage(like, *sources),
        metadata={"classes": {str(code): label for code, label in class_names.items()}},
    )


def float_raster(values: np.ndarray, like: Raster, name: str, *sources: Raster) -> Raster:
    data = xr.DataArray(
        values[np.newaxis].astype(np.float32), dims=("band", "y", "x"), coords={"band": [name]}
    )
    return Raster(
        data=data,
        crs=like.crs,
        transform=like.transform,
        nodata=float("nan"),
        source_ids=_lineage(like, *sources),
    )


def _lineage(*rasters: Raster) -> tuple[str, ...]:
    ids: list[str] = []
    for raster in rasters:
        ids.extend(i for i in raster.source_ids if i not in ids)
    return tuple(ids)

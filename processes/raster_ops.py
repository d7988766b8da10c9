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
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import dask.array as dsa
import numpy as np
import shapely
import shapely.geometry
import xarray as xr
from affine import Affine
from pyproj import CRS, Geod, Transformer
from rasterio import features
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import transform_geom
from shapely.geometry import mapping

from processes.base import BoundingBox, ProcessContext, Raster
from processes.blocks import as_blocks, block_reduce, compute
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


def otsu_threshold(values: np.ndarray, bounds: tuple[float, float], bins: int = 256) -> float:
    """Otsu's between-class-variance threshold of the finite values clipped to ``bounds``
    (the bounds keep a one-class image from producing a nonsense threshold). Callers
    compute the (2-D, uint8/float32) values first: one histogram pass in memory; for
    dask-backed values, sum :func:`bounded_histogram` per block and use
    :func:`otsu_of_histogram`."""
    return otsu_of_histogram(bounded_histogram(values, bounds, bins), bounds)


def bounded_histogram(
    values: np.ndarray, bounds: tuple[float, float], bins: int = 256
) -> np.ndarray:
    """Counts of the finite values clipped to ``bounds`` in ``bins`` equal bins: additive
    over blocks, so a block-wise sum is the histogram of the whole image."""
    flat = np.asarray(values).ravel()
    counts, _ = np.histogram(flat[np.isfinite(flat)].clip(*bounds), bins=bins, range=bounds)
    return counts


def otsu_of_histogram(counts: np.ndarray, bounds: tuple[float, float]) -> float:
    """Otsu's threshold (the upper edge of the last bin of the lower class) of a
    :func:`bounded_histogram`."""
    low, high = bounds
    hist = np.asarray(counts, dtype="float64")
    if hist.sum() == 0:
        return (low + high) / 2
    edges = np.linspace(low, high, len(hist) + 1)
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
    return rows_area_km2(np.count_nonzero(mask, axis=1), crs, transform)


def rows_area_km2(per_row: np.ndarray, crs: str, transform: Affine) -> float:
    """Area in km² of ``per_row[r]`` pixels in each row ``r`` (block-wise: the row sums
    of a dask mask)."""
    return float(np.dot(per_row, pixel_area_km2(crs, transform, len(per_row))))


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


SIEVE_HALO_MAX = 256  # larger sieves need the whole mask in one piece (one worker)


def polygons_by_block(
    mask: Any,
    crs: str,
    transform: Affine,
    properties: dict[str, Any],
    min_pixels: int,
    context: ProcessContext,
    span: tuple[float, float],
) -> list[dict[str, Any]]:
    """:func:`polygons` of a (dask) mask, block by block on the workers: each block is
    sieved with a halo of ``min_pixels`` (a region smaller than that lies wholly inside
    the halo, a larger one reaches its edge, so the sieve decides as on the whole
    mask), its core polygonised; the pieces that touch an inner block edge are joined
    (one union of those pieces). The one difference to the whole mask: two pieces
    meeting only at a corner across a block edge stay two polygons."""
    blocks = as_blocks(mask)
    halo = max(int(min_pixels), 1)
    if halo > SIEVE_HALO_MAX:
        (whole,) = compute(context, span[0], span[1], "polygons", blocks)
        return polygons(whole, crs, transform, properties, min_pixels)
    blocks = blocks.rechunk(
        {axis: _merge_small_chunks(halo, blocks.chunks[axis]) for axis in (0, 1)}
    )
    cores = [blocks.chunks[0], blocks.chunks[1]]
    depth = {axis: halo if len(cores[axis]) > 1 else 0 for axis in (0, 1)}
    haloed = (
        dsa.overlap.overlap(blocks, depth=depth, boundary="none") if any(depth.values()) else blocks
    )
    shape = blocks.shape
    pieces = block_reduce(
        context,
        span,
        "polygons",
        partial(
            _block_polygons,
            cores=cores,
            depth=depth,
            shape=shape,
            min_pixels=int(min_pixels),
            crs=crs,
            transform=transform,
        ),
        haloed,
    )
    inner: list[Any] = []
    geographic: list[dict[str, Any]] = []
    for block_pieces in pieces:
        for geometry, touches_inner_edge in block_pieces:
            if touches_inner_edge:
                inner.append(shapely.geometry.shape(geometry))
            else:
                geographic.append(geometry)
    if inner:  # pixel coordinates are whole numbers: pieces meet exactly at block edges
        joined = shapely.union_all(inner)
        geographic.extend(
            _to_wgs84([mapping(g) for g in getattr(joined, "geoms", [joined])], crs, transform)
        )
    return [
        {"type": "Feature", "geometry": geometry, "properties": dict(properties)}
        for geometry in geographic
    ]


def _to_wgs84(
    pixel_geometries: list[dict[str, Any]], crs: str, transform: Affine
) -> list[dict[str, Any]]:
    """GeoJSON polygons in pixel (col, row) coordinates -> WGS84 lon/lat."""
    in_crs = [_pixel_to_crs(geometry, transform) for geometry in pixel_geometries]
    return list(transform_geom(crs, "EPSG:4326", in_crs)) if in_crs else []


def _pixel_to_crs(geometry: dict[str, Any], transform: Affine) -> dict[str, Any]:
    """A GeoJSON polygon in pixel (col, row) coordinates mapped by the raster's
    transform."""
    rings = []
    for ring in geometry["coordinates"]:
        cols, rows = np.asarray(ring, dtype=np.float64).T
        xs = transform.a * cols + transform.b * rows + transform.c
        ys = transform.d * cols + transform.e * rows + transform.f
        rings.append(list(zip(xs.tolist(), ys.tolist(), strict=True)))
    return {"type": "Polygon", "coordinates": rings}


def _block_polygons(
    offset: tuple[int, int],
    block: np.ndarray,
    *,
    cores: list[tuple[int, ...]],
    depth: dict[int, int],
    shape: tuple[int, ...],
    min_pixels: int,
    crs: str,
    transform: Affine,
) -> list[tuple[Any, bool]]:
    """(polygon, touches an inner block edge) of the sieved core of one haloed block:
    in pixel coordinates of the image where it touches one (to be joined), else
    already in WGS84 (so the workers, not the job, transform most of them). ``offset``
    is in the haloed array: the block's place in the image comes from ``cores``."""
    i = _block_index(offset[0], cores[0], depth[0])
    j = _block_index(offset[1], cores[1], depth[1])
    row0, col0 = sum(cores[0][:i]), sum(cores[1][:j])
    height, width = cores[0][i], cores[1][j]
    top = depth[0] if i > 0 else 0
    left = depth[1] if j > 0 else 0
    raster = np.ascontiguousarray(block, dtype=np.uint8)
    if min_pixels > 1:
        with warnings.catch_warnings():  # a bare array has no georeference: none needed
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            raster = features.sieve(raster, size=min_pixels, connectivity=8)
    core = np.ascontiguousarray(raster[top : top + height, left : left + width])
    inner_edges = (
        row0 if row0 > 0 else None,
        row0 + height if row0 + height < shape[0] else None,
        col0 if col0 > 0 else None,
        col0 + width if col0 + width < shape[1] else None,
    )
    out = []
    for geometry, value in features.shapes(
        core, mask=core == 1, transform=Affine.translation(col0, row0), connectivity=8
    ):
        if value != 1:
            continue
        cols, rows = np.asarray(geometry["coordinates"][0]).T  # the outer ring bounds it
        touches = (
            rows.min() == inner_edges[0]
            or rows.max() == inner_edges[1]
            or cols.min() == inner_edges[2]
            or cols.max() == inner_edges[3]
        )
        out.append((geometry, bool(touches)))
    whole = [geometry for geometry, touches in out if not touches]
    geographic = iter(_to_wgs84(whole, crs, transform))
    return [(g, True) if touches else (next(geographic), False) for g, touches in out]


def _block_index(start: int, chunks: tuple[int, ...], depth: int) -> int:
    """Which block of ``chunks`` (before a halo of ``depth`` was added to inner edges)
    starts at ``start`` in the haloed array."""
    position = 0
    for index, size in enumerate(chunks):
        if position == start:
            return index
        grown = size + (depth if index > 0 else 0) + (depth if index < len(chunks) - 1 else 0)
        position += grown
    raise ValueError(f"no block starts at {start}")


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

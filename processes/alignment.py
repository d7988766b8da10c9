"""Put a raster onto another raster's grid (CRS, transform, size).

The rule every multi-input processor states in its description: inputs not on the grid of
the first (reference) input are reprojected onto it with rasterio (GDAL warp) —
bilinear for measurements, nearest for class bands (Sentinel-2 SCL) — over the
reference's extent; pixels the other input does not cover become nodata (NaN). The
result is float32. Dask-backed inputs are warped lazily, one output chunk at a time from
the source window that chunk needs, so a full tile is never held in memory.
"""

from __future__ import annotations

import math
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import reproject, transform_bounds

from processes.base import Raster
from processes.errors import ProcessInputError

CATEGORICAL_BANDS = frozenset({"scl"})
_CHUNK = 1024
_PAD = 3  # source pixels around a chunk's footprint (bilinear needs 1; rounding needs more)


def same_grid(a: Raster, b: Raster) -> bool:
    if (a.data.sizes["y"], a.data.sizes["x"]) != (b.data.sizes["y"], b.data.sizes["x"]):
        return False
    if CRS.from_user_input(a.crs) != CRS.from_user_input(b.crs):
        return False
    return bool(a.transform.almost_equals(b.transform, precision=1e-9 + abs(a.transform.a) * 1e-3))


def _bounds(raster: Raster) -> tuple[float, float, float, float]:
    x0, y0 = raster.transform @ (0, 0)
    x1, y1 = raster.transform @ (raster.data.sizes["x"], raster.data.sizes["y"])
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _source_window(
    raster: Raster, dst_crs: str, dst_bounds: tuple[float, float, float, float]
) -> tuple[int, int, int, int] | None:
    """(row0, row1, col0, col1) of the source pixels a destination area needs, or None."""
    try:
        left, bottom, right, top = transform_bounds(
            dst_crs, raster.crs, *dst_bounds, densify_pts=21
        )
    except (RasterioError, ValueError):  # outside the source CRS's area of use
        return None
    if not all(math.isfinite(v) for v in (left, bottom, right, top)):
        return None
    inverse = ~raster.transform
    cols, rows = zip(
        *(
            inverse @ (x, y)
            for x, y in ((left, top), (right, top), (left, bottom), (right, bottom))
        ),
        strict=True,
    )
    height, width = raster.data.sizes["y"], raster.data.sizes["x"]
    r0, r1 = (
        max(int(math.floor(min(rows))) - _PAD, 0),
        min(int(math.ceil(max(rows))) + _PAD, height),
    )
    c0, c1 = max(int(math.floor(min(cols))) - _PAD, 0), min(int(math.ceil(max(cols))) + _PAD, width)
    return (r0, r1, c0, c1) if r1 > r0 and c1 > c0 else None


def _warp(
    block: np.ndarray,
    src_transform: Affine,
    src_crs: str,
    nodata: float | None,
    shape: tuple[int, int],
    dst_transform: Affine,
    dst_crs: str,
    resampling: list[Resampling],
) -> np.ndarray:
    source = np.asarray(block, dtype=np.float32).copy()
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        source[source == np.float32(nodata)] = np.nan
    out = np.full((source.shape[0], *shape), np.nan, dtype=np.float32)
    for i in range(source.shape[0]):
        reproject(
            source=source[i],
            destination=out[i],
            src_transform=src_transform,
            src_crs=src_crs,
            src_nodata=np.nan,
            dst_transform=dst_transform,
            dst_crs=dst_crs,
            dst_nodata=np.nan,
            resampling=resampling[i],
        )
    return out


def align_to_grid(
    raster: Raster, reference: Raster, locator: str, reference_locator: str
) -> Raster:
    """``raster`` on ``reference``'s grid (itself when already there); raises
    ProcessInputError when the two do not overlap at all."""
    if same_grid(raster, reference):
        return raster
    height, width = reference.data.sizes["y"], reference.data.sizes["x"]
    if _source_window(raster, reference.crs, _bounds(reference)) is None:
        raise ProcessInputError(
            f"'{locator}' does not overlap '{reference_locator}'; both must cover the same area.",
            locator=locator,
        )
    resampling = [
        Resampling.nearest if name.lower() in CATEGORICAL_BANDS else Resampling.bilinear
        for name in raster.band_names
    ]
    warp_args: dict[str, Any] = {
        "src_crs": raster.crs,
        "nodata": raster.nodata,
        "dst_crs": reference.crs,
        "resampling": resampling,
    }
    source = raster.data.data
    n_bands = len(raster.band_names)
    if not isinstance(source, dsa.Array):
        values: Any = _warp(
            source,
            src_transform=raster.transform,
            shape=(height, width),
            dst_transform=reference.transform,
            **warp_args,
        )
    else:
        values = _lazy_warp(raster, reference, warp_args, n_bands)
    data = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": raster.band_names})
    return Raster(
        data=data,
        crs=reference.crs,
        transform=reference.transform,
        nodata=float("nan"),
        source_ids=raster.source_ids,
        metadata={**raster.metadata, "aligned_to": reference_locator},
    )


def _lazy_warp(raster: Raster, reference: Raster, warp_args: dict[str, Any], n_bands: int) -> Any:
    height, width = reference.data.sizes["y"], reference.data.sizes["x"]
    ref_chunks = reference.data.chunks
    row_chunks = ref_chunks[1] if ref_chunks else _split(height)
    col_chunks = ref_chunks[2] if ref_chunks else _split(width)
    source = raster.data.data
    rows = []
    r = 0
    for h in row_chunks:
        row = []
        c = 0
        for w in col_chunks:
            dst_transform = reference.transform @ Affine.translation(c, r)
            x0, y0 = dst_transform @ (0, 0)
            x1, y1 = dst_transform @ (w, h)
            window = _source_window(
                raster, reference.crs, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            )
            if window is None:
                row.append(dsa.full((n_bands, h, w), np.nan, dtype=np.float32))
            else:
                r0, r1, c0, c1 = window
                part = dask.delayed(_warp)(
                    source[:, r0:r1, c0:c1],
                    src_transform=raster.transform @ Affine.translation(c0, r0),
                    shape=(h, w),
                    dst_transform=dst_transform,
                    **warp_args,
                )
                row.append(dsa.from_delayed(part, (n_bands, h, w), dtype=np.float32))
            c += w
        rows.append(row)
        r += h
    return dsa.block([rows])


def _split(size: int) -> tuple[int, ...]:
    return tuple(min(_CHUNK, size - start) for start in range(0, size, _CHUNK))

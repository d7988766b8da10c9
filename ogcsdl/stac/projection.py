"""Projection extension fields of a product's COG (``proj:*`` per asset), read from the
file's own header: the product record keeps the CRS and size but not the grid origin,
and GDAL's STACIT driver needs ``proj:transform`` to place each item."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import rasterio
from pyproj import CRS
from rasterio.errors import RasterioIOError

from ogcsdl.catalogue.record import ProductRecord


@lru_cache(maxsize=256)
def epsg_of(crs: str) -> int | None:
    try:
        return CRS.from_user_input(crs).to_epsg()
    except Exception:  # noqa: BLE001 - a CRS without an EPSG code is simply not reported
        return None


@lru_cache(maxsize=256)
def _wkt2_of(crs: str) -> str | None:
    try:
        return str(CRS.from_user_input(crs).to_wkt())
    except Exception:  # noqa: BLE001 - an unreadable CRS is left out, not guessed
        return None


@lru_cache(maxsize=4096)
def _grid(path: str, size: int, stamp: str) -> dict[str, Any] | None:
    """Keyed by path, size and record stamp, so a re-ingested product is read again."""
    try:
        with rasterio.open(path) as dataset:
            transform = dataset.transform
            bounds = dataset.bounds
            return {
                "proj:shape": [dataset.height, dataset.width],
                "proj:transform": [
                    transform.a,
                    transform.b,
                    transform.c,
                    transform.d,
                    transform.e,
                    transform.f,
                ],
                "proj:bbox": [bounds.left, bounds.bottom, bounds.right, bounds.top],
            }
    except (RasterioIOError, OSError):
        return None


def asset_fields(record: ProductRecord) -> dict[str, Any]:
    """``proj:epsg`` (or ``proj:wkt2``) and the grid; only the shape when the file cannot
    be read (its grid would otherwise be a guess)."""
    fields: dict[str, Any] = {}
    epsg = epsg_of(record.crs)
    if epsg is not None:
        fields["proj:epsg"] = epsg
    elif (wkt2 := _wkt2_of(record.crs)) is not None:
        fields["proj:wkt2"] = wkt2
    grid = _grid(record.file_path, record.file_size, record.updated.isoformat())
    return fields | (grid or {"proj:shape": [record.height, record.width]})

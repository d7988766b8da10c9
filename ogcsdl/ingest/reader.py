"""The reader interface: one :class:`ProductReader` per product layout.

A reader only *describes* a product (metadata + where each band's pixels are); turning
that description into a COG and a record is the pipeline's job, the same for every layout
(the rio-tiler ``BaseReader`` / odc-stac ``Protocol`` pattern).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

from ogcsdl.catalogue.record import Band
from ogcsdl.errors import IngestError


class NotGeoreferenced(IngestError):
    """A raster without CRS/geotransform: not a product (e.g. a label image)."""


@dataclass(frozen=True)
class BandSource:
    """Where one output band's pixels come from."""

    band: Band
    dataset: str  # a GDAL dataset name: a file path or NETCDF:"file":variable
    index: int = 1  # 1-based band index in that dataset
    categorical: bool = False  # resampled with nearest, never interpolated


@dataclass
class ProductSource:
    """Everything a reader learns about a product, before its COG is written."""

    identifier: str
    title: str
    collection: str
    start: datetime
    end: datetime
    bands: list[BandSource]
    source: str
    dtype: str
    nodata: float | None
    platform: str | None = None
    instrument: str | None = None
    sensor_type: str | None = None
    product_type: str | None = None
    processing_level: str | None = None
    cloud_cover: float | None = None
    abstract: str | None = None
    keywords: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # CRS to use when the sources carry none but the format implies one (CF lon/lat).
    assumed_crs: str | None = None


class ProductReader(Protocol):
    """One product layout (SAFE, band folder, S1 GeoTIFF, generic raster)."""

    name: str

    def accepts(self, path: Path) -> bool:
        """Cheap check on names/structure: could this path be my layout?"""
        ...

    def read(self, path: Path) -> ProductSource:
        """Describe the product; raise :class:`IngestError` with a reason if it is bad."""
        ...


def open_raster(dataset: str | Path) -> rasterio.DatasetReader:
    """Open a raster or raise an :class:`IngestError` that says what is wrong with it."""
    try:
        with warnings.catch_warnings():
            # Not being georeferenced is reported by check_georeferenced, clearly.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(dataset)
    except RasterioIOError as exc:
        detail = str(exc).split("\n")[0]
        raise IngestError(
            f"not a readable raster ({detail}); check the file is a complete GeoTIFF, "
            "JPEG2000 or NetCDF and not truncated or another format"
        ) from None


def check_georeferenced(src: rasterio.DatasetReader, what: str) -> None:
    if src.crs is None or src.transform.is_identity:
        raise NotGeoreferenced(
            f"{what} has no georeferencing (no CRS or geotransform); "
            "only georeferenced rasters can be catalogued"
        )


def file_mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def parse_compact_time(text: str) -> datetime:
    """``20190917T180000`` or ``20190917`` -> an aware UTC datetime."""
    fmt = "%Y%m%dT%H%M%S" if "T" in text else "%Y%m%d"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)

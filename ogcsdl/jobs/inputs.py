"""Turn the raw inputs of a request into what a processor receives.

Raw inputs are interface-neutral JSON (what the job store keeps): literals as values;
rasters as a catalogue product id, a URL string or ``{"href": url}``; bounding boxes as
``{"bbox": [minx, miny, maxx, maxy], "crs": ...}``; complex inputs by value or
``{"href": url}``. :func:`check_inputs` runs in the front end before a job exists (so
bad input is a 4xx and never a job); :func:`resolve_inputs` runs on the Dask worker.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import dask.array
import numpy as np
import rasterio
import xarray as xr
from pyproj import CRS
from pyproj.exceptions import CRSError

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import Settings
from ogcsdl.errors import InvalidParameterValue, MissingParameterValue, NotFound
from ogcsdl.jobs.registry import Registry
from ogcsdl.jobs.urls import check_url, fetch_to_file, own_product_id
from processes.base import (
    BoundingBox,
    BoundingBoxInput,
    ComplexInput,
    LiteralInput,
    ProcessDescription,
    Raster,
    RasterInput,
)

# Above this many pixels per band an input is read lazily in dask chunks.
_LAZY_PIXELS = 4096 * 4096
_CHUNK = 1024


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _reference(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("href"), str):
        return str(value["href"])
    if isinstance(value, str) and value.startswith(("http://", "https://", "file:", "ftp:")):
        return value
    if isinstance(value, str) and "://" in value:
        return value
    return None


def _raster_source(value: Any, settings: Settings, locator: str) -> tuple[str, str]:
    """``("product", id)`` or ``("url", url)`` for a raw raster value, checked."""
    href = _reference(value)
    if href is None:
        if not isinstance(value, str) or not value.strip():
            raise InvalidParameterValue(
                f"input {locator!r} must be a catalogue product id or a URL", locator
            )
        return "product", value.strip()
    own = own_product_id(href, settings)
    if own is not None:
        return "product", own
    return "url", check_url(href, settings, locator)


def _bbox(value: Any, description: BoundingBoxInput) -> BoundingBox:
    if isinstance(value, BoundingBox):
        return value
    crs = description.crs[0] if description.crs else "EPSG:4326"
    coords = value
    if isinstance(value, dict):
        coords = value.get("bbox")
        crs = str(value.get("crs") or crs)
    try:
        minx, miny, maxx, maxy = (float(c) for c in coords)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"input {description.id!r} must be a bounding box [minx, miny, maxx, maxy]",
            description.id,
        ) from None
    if minx >= maxx or miny >= maxy:
        raise InvalidParameterValue(
            f"input {description.id!r}: minimum must be below maximum", description.id
        )
    short = crs.replace("http://www.opengis.net/def/crs/EPSG/0/", "EPSG:").replace(
        "urn:ogc:def:crs:EPSG::", "EPSG:"
    )
    if short.endswith("CRS84"):
        short = "EPSG:4326"
    allowed = {c.replace("OGC:CRS84", "EPSG:4326") for c in description.crs}
    if allowed and short not in allowed:
        raise InvalidParameterValue(
            f"input {description.id!r}: CRS {crs!r} is not supported (use one of {sorted(allowed)})",
            description.id,
        )
    try:
        CRS.from_user_input(short)
    except CRSError:
        raise InvalidParameterValue(
            f"input {description.id!r}: unknown CRS {crs!r}", description.id
        ) from None
    return BoundingBox(minx, miny, maxx, maxy, short)


def check_inputs(
    registry: Registry, description: ProcessDescription, raw: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """Validate raw inputs without running anything; return what the job store keeps."""
    known = {item.id: item for item in description.inputs}
    for name in raw:
        if name not in known:
            raise InvalidParameterValue(f"process {description.id!r} has no input {name!r}", name)
    store = None
    for item in description.inputs:
        if item.id not in raw:
            continue
        values = _values(raw[item.id])
        if len(values) > item.max_occurs:
            raise InvalidParameterValue(
                f"input {item.id!r} takes at most {item.max_occurs} values", item.id
            )
        for value in values:
            if isinstance(item, RasterInput):
                kind, source = _raster_source(value, settings, item.id)
                if kind == "product":
                    store = store or product_store(settings)
                    try:
                        store.get(source)
                    except NotFound:
                        raise InvalidParameterValue(
                            f"input {item.id!r}: no catalogue product {source!r}", item.id
                        ) from None
            elif isinstance(item, BoundingBoxInput):
                _bbox(value, item)
            elif isinstance(item, ComplexInput) and _reference(value):
                href = str(_reference(value))
                if own_product_id(href, settings) is None:
                    check_url(href, settings, item.id)
        if not values and item.min_occurs > 0:
            raise MissingParameterValue(f"input {item.id!r} is required", item.id)
    for item in description.inputs:
        if item.id not in raw and item.min_occurs > 0 and not isinstance(item, LiteralInput):
            raise MissingParameterValue(f"input {item.id!r} is required", item.id)
    _validate_literals(registry, description, raw)
    return raw


def _validate_literals(
    registry: Registry, description: ProcessDescription, raw: dict[str, Any]
) -> dict[str, Any]:
    """The registry validates literals (types, ranges, defaults); rasters, boxes and
    documents are checked and resolved here."""
    literals = tuple(i for i in description.inputs if isinstance(i, LiteralInput))
    names = {i.id for i in literals}
    return registry.validate(
        replace(description, inputs=literals), {k: v for k, v in raw.items() if k in names}
    )


class _WindowReader:
    """Array-like view of a raster file that dask reads window by window."""

    def __init__(self, path: str, shape: tuple[int, int, int], dtype: str) -> None:
        self.path, self.shape, self.dtype, self.ndim = path, shape, np.dtype(dtype), 3

    def __getitem__(self, key: tuple[slice, slice, slice]) -> np.ndarray:
        bands, rows, cols = key
        indexes = list(range(self.shape[0]))[bands]
        window = (
            (rows.start or 0, rows.stop or self.shape[1]),
            (cols.start or 0, cols.stop or self.shape[2]),
        )
        with rasterio.open(self.path) as src:
            return np.asarray(src.read([i + 1 for i in indexes], window=window))


def read_raster(
    path: str, band_names: list[str] | None = None, source_ids: tuple[str, ...] = ()
) -> Raster:
    with rasterio.open(path) as src:
        names = band_names or [d or f"band_{i + 1}" for i, d in enumerate(src.descriptions)]
        shape = (src.count, src.height, src.width)
        if src.height * src.width > _LAZY_PIXELS:
            array: Any = dask.array.from_array(
                _WindowReader(path, shape, src.dtypes[0]), chunks=(1, _CHUNK, _CHUNK)
            )
        else:
            array = src.read()
        crs = src.crs.to_string() if src.crs else ""
        transform, nodata = src.transform, src.nodata
        tags = src.tags()
    data = xr.DataArray(array, dims=("band", "y", "x"), coords={"band": names})
    return Raster(
        data=data, crs=crs, transform=transform, nodata=nodata, source_ids=source_ids, metadata=tags
    )


def _resolve_raster(value: Any, settings: Settings, workdir: Path, locator: str) -> Raster:
    if isinstance(value, Raster):
        return value
    kind, source = _raster_source(value, settings, locator)
    if kind == "product":
        try:
            record = product_store(settings).get(source)
        except NotFound:
            raise InvalidParameterValue(
                f"input {locator!r}: no catalogue product {source!r}", locator
            ) from None
        raster = read_raster(record.file_path, record.band_names, (record.identifier,))
        raster.metadata.update(
            {
                "start": record.start.isoformat(),
                "end": record.end.isoformat(),
                "platform": record.platform,
            }
        )
        return raster
    target = Path(tempfile.mkstemp(suffix=".tif", dir=workdir)[1])
    fetch_to_file(source, target, settings)
    try:
        return read_raster(str(target), source_ids=(source,))
    except rasterio.errors.RasterioIOError:
        raise InvalidParameterValue(
            f"input {locator!r}: {source!r} is not a readable raster", locator
        ) from None


def _resolve_complex(value: Any, item: ComplexInput, settings: Settings, workdir: Path) -> Any:
    href = _reference(value)
    if href is None:
        return value.get("value", value) if isinstance(value, dict) and "value" in value else value
    target = Path(tempfile.mkstemp(dir=workdir)[1])
    fetch_to_file(href, target, settings)
    text = target.read_text(encoding="utf-8", errors="replace")
    if any("json" in media for media in item.media_types):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise InvalidParameterValue(
                f"input {item.id!r}: {href!r} is not JSON", item.id
            ) from None
    return text


def resolve_inputs(
    registry: Registry,
    description: ProcessDescription,
    raw: dict[str, Any],
    settings: Settings,
    workdir: Path,
) -> dict[str, Any]:
    """Raw inputs -> processor inputs (rasters read, references fetched after checks)."""
    resolved: dict[str, Any] = dict(_validate_literals(registry, description, raw))
    for item in description.inputs:
        if item.id not in raw:
            continue
        values = _values(raw[item.id])
        if isinstance(item, RasterInput):
            converted: list[Any] = [_resolve_raster(v, settings, workdir, item.id) for v in values]
        elif isinstance(item, BoundingBoxInput):
            converted = [_bbox(v, item) for v in values]
        elif isinstance(item, ComplexInput):
            converted = [_resolve_complex(v, item, settings, workdir) for v in values]
        else:
            continue
        resolved[item.id] = converted if item.max_occurs > 1 else converted[0]
    return resolved

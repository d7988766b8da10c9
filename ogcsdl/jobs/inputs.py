"""Turn the raw inputs of a request into what a processor receives.

Raw inputs are interface-neutral JSON (what the job store keeps): literals as values;
rasters as a catalogue product id, a URL string or ``{"href": url}``; bounding boxes as
``{"bbox": [minx, miny, maxx, maxy], "crs": ...}``; complex inputs by value or
``{"href": url}``. The registry's ``validate_inputs`` types and checks them all; this
module adds what needs the outside world. :func:`check_inputs` runs in the front end
before a job exists (references allowed and products existing, so bad input is a 4xx
and never a job); :func:`resolve_inputs` runs on the Dask worker (rasters read,
references fetched).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array
import numpy as np
import rasterio
import xarray as xr

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings
from ogcsdl.errors import InvalidParameterValue, NotFound
from ogcsdl.jobs.registry import Registry
from ogcsdl.jobs.urls import check_url, fetch_to_file, own_product_id
from processes.base import ComplexInput, InputDescription, ProcessDescription, Raster, RasterInput

# Above this many pixels per band an input is read lazily in dask chunks.
_LAZY_PIXELS = 4096 * 4096
_CHUNK = 1024


def _occurrences(item: InputDescription, value: Any) -> list[Any]:
    return list(value) if item.max_occurs > 1 else [value]


def _href(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("href"), str):
        return str(value["href"])
    return None


def _raster_source(value: Any, settings: Settings, locator: str) -> tuple[str, str]:
    """``("product", id)`` or ``("url", url)`` for a raster reference, checked."""
    reference = _href(value) or str(value).strip()
    if "://" not in reference and not reference.startswith("file:"):
        return "product", reference
    own = own_product_id(reference, settings)
    if own is not None:
        return "product", own
    return "url", check_url(reference, settings, locator)


def _references(
    description: ProcessDescription, validated: dict[str, Any]
) -> Iterator[tuple[InputDescription, Any]]:
    """(input, value) of every raster reference and complex ``{"href"}`` in ``validated``."""
    for item in description.inputs:
        if item.id not in validated or not isinstance(item, RasterInput | ComplexInput):
            continue
        for value in _occurrences(item, validated[item.id]):
            if (isinstance(item, RasterInput) and not isinstance(value, Raster)) or _href(value):
                yield item, value


def _product(store: ProductStore, identifier: str, locator: str) -> Any:
    try:
        record = store.get(identifier)
    except NotFound:
        raise InvalidParameterValue(
            f"input {locator!r}: no catalogue product {identifier!r}", locator
        ) from None
    if not record.is_local:  # harvested: its data stays at the source
        links = ", ".join(asset["href"] for asset in record.remote_assets) or "none"
        raise InvalidParameterValue(
            f"input {locator!r}: product {identifier!r} is a harvested record without local "
            f"data; pass one of its data links as a reference instead ({links})",
            locator,
        )
    return record


def check_inputs(
    registry: Registry, description: ProcessDescription, raw: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """Validate raw inputs without running anything; return what the job store keeps."""
    validated = registry.validate(description, raw)
    store = None
    for item, value in _references(description, validated):
        if isinstance(item, RasterInput):
            kind, source = _raster_source(value, settings, item.id)
            if kind == "product":
                store = store or product_store(settings)
                _product(store, source, item.id)
        else:
            href = str(_href(value))
            if own_product_id(href, settings) is None:
                check_url(href, settings, item.id)
    return raw


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
    kind, source = _raster_source(value, settings, locator)
    if kind == "product":
        record = _product(product_store(settings), source, locator)
        raster = read_raster(record.file_path, record.band_names, (record.identifier,))
        raster.metadata.update(
            {
                "start": record.start.isoformat(),
                "end": record.end.isoformat(),
                "platform": record.platform,
            }
        )
        # the processors' view of the record's sun angles (MTD_TL.xml), e.g. cloud shadows
        for key in ("sun_azimuth", "sun_zenith"):
            if record.extra.get(key) is not None:
                raster.metadata[key] = record.extra[key]
        return raster
    target = Path(tempfile.mkstemp(suffix=".tif", dir=workdir)[1])
    fetch_to_file(source, target, settings)
    try:
        return read_raster(str(target), source_ids=(source,))
    except rasterio.errors.RasterioIOError:
        raise InvalidParameterValue(
            f"input {locator!r}: {source!r} is not a readable raster", locator
        ) from None


def _resolve_complex(href: str, item: ComplexInput, settings: Settings, workdir: Path) -> Any:
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
    resolved = dict(registry.validate(description, raw))
    for item in description.inputs:
        if item.id not in resolved or not isinstance(item, RasterInput | ComplexInput):
            continue
        values = []
        for value in _occurrences(item, resolved[item.id]):
            if isinstance(item, RasterInput) and not isinstance(value, Raster):
                value = _resolve_raster(value, settings, workdir, item.id)
            elif isinstance(item, ComplexInput) and _href(value):
                value = _resolve_complex(str(_href(value)), item, settings, workdir)
            values.append(value)
        resolved[item.id] = values if item.max_occurs > 1 else values[0]
    return resolved

"""Any georeferenced GeoTIFF/COG, and NetCDF (CF) files through GDAL's netCDF driver.

The identifier is the file stem plus a content hash, so the same file ingested twice
updates one record while two different files called ``image.tif`` do not collide.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ogcsdl.catalogue.record import GENERIC_RASTER, Band
from ogcsdl.errors import IngestError
from ogcsdl.ingest.bands import canonical_s2_name, s2_band
from ogcsdl.ingest.reader import (
    BandSource,
    ProductSource,
    check_georeferenced,
    file_mtime,
    open_raster,
)

GEOTIFF_SUFFIXES = {".tif", ".tiff"}
NETCDF_SUFFIXES = {".nc", ".nc4", ".netcdf"}


def content_hash(path: Path, length: int = 10) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def _band_for(description: str | None, index: int, unit: str | None) -> Band:
    name = (description or "").strip() or f"band_{index}"
    s2_name = canonical_s2_name(name)
    if s2_name is not None and s2_name != "SCL":
        band = s2_band(s2_name)
        return Band(
            name, band.description, band.center_wavelength_um, band.full_width_half_max_um, unit
        )
    return Band(name, None, None, None, unit or None)


def _common_dtype(dtypes: list[str]) -> str:
    return str(np.result_type(*[np.dtype(dtype) for dtype in dtypes]))


def _tiff_time(tags: dict[str, str]) -> datetime | None:
    value = tags.get("TIFFTAG_DATETIME")
    try:
        return datetime.strptime(value, "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def _netcdf_metadata(path: Path) -> dict[str, Any]:
    """Time range and ACDD/CF global attributes, read with xarray (no pixels loaded)."""
    import xarray as xr

    out: dict[str, Any] = {}
    try:
        with xr.open_dataset(path, decode_times=True) as dataset:
            out["attrs"] = {key: str(value) for key, value in dataset.attrs.items()}
            for name in ("time", "t"):
                if name in dataset.coords and np.issubdtype(dataset[name].dtype, np.datetime64):
                    values = dataset[name].values
                    out["start"] = _from_numpy(values.min())
                    out["end"] = _from_numpy(values.max())
                    break
    except (OSError, ValueError) as exc:
        raise IngestError(f"{path.name}: not a readable NetCDF file ({exc})") from None
    attrs = out.get("attrs", {})
    for key, target in (("time_coverage_start", "start"), ("time_coverage_end", "end")):
        if target not in out and attrs.get(key):
            try:
                out[target] = datetime.fromisoformat(attrs[key].replace("Z", "+00:00"))
            except ValueError:
                pass
    return out


def _has_cf_lonlat(tags: dict[str, str]) -> bool:
    names = {value for key, value in tags.items() if key.endswith("#standard_name")}
    return {"latitude", "longitude"} <= names


def _from_numpy(value: np.datetime64) -> datetime:
    seconds = value.astype("datetime64[s]").astype("int64")
    return datetime.fromtimestamp(int(seconds), UTC)


class GenericRasterReader:
    name = "generic-raster"

    def accepts(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in GEOTIFF_SUFFIXES | NETCDF_SUFFIXES

    def read(self, path: Path) -> ProductSource:
        if path.suffix.lower() in NETCDF_SUFFIXES:
            bands, dtype, nodata, meta = self._netcdf_bands(path)
        else:
            bands, dtype, nodata, meta = self._geotiff_bands(path)
        extra: dict[str, Any] = {"format": meta.pop("format")}
        if meta.get("skipped_variables"):
            extra["skipped_variables"] = meta["skipped_variables"]
        if meta.get("assumed_crs"):
            extra["crs_source"] = "CF latitude/longitude coordinates (WGS84 assumed)"
        start, end = meta.get("start"), meta.get("end")
        if start is not None:
            extra["datetime_source"] = meta["datetime_source"]
        else:
            start = end = file_mtime(path)
            extra["datetime_source"] = "file modification time (the file carries no date)"
        attrs: dict[str, str] = meta.get("attrs", {})
        identifier = f"{path.stem}-{content_hash(path)}"
        return ProductSource(
            identifier=identifier,
            title=attrs.get("title") or path.stem,
            collection=GENERIC_RASTER,
            start=start,
            end=end or start,
            bands=bands,
            source=str(path),
            dtype=dtype,
            nodata=nodata,
            platform=attrs.get("platform"),
            instrument=attrs.get("instrument"),
            abstract=attrs.get("summary") or attrs.get("comment"),
            keywords=["raster", extra["format"]],
            extra=extra,
            assumed_crs=meta.get("assumed_crs"),
        )

    def _geotiff_bands(
        self, path: Path
    ) -> tuple[list[BandSource], str, float | None, dict[str, Any]]:
        with open_raster(path) as src:
            check_georeferenced(src, path.name)
            bands = [
                BandSource(_band_for(src.descriptions[i - 1], i, src.units[i - 1]), str(path), i)
                for i in range(1, src.count + 1)
            ]
            meta: dict[str, Any] = {"format": src.driver}
            when = _tiff_time(src.tags())
            if when is not None:
                meta.update(start=when, end=when, datetime_source="TIFFTAG_DATETIME")
            return bands, _common_dtype(list(src.dtypes)), src.nodata, meta

    def _netcdf_bands(
        self, path: Path
    ) -> tuple[list[BandSource], str, float | None, dict[str, Any]]:
        with open_raster(path) as container:
            datasets = list(container.subdatasets) or [str(path)]
        bands: list[BandSource] = []
        dtypes: list[str] = []
        grid: tuple[Any, ...] | None = None
        nodata: float | None = None
        skipped: list[str] = []
        assumed_crs: str | None = None
        for dataset in datasets:
            variable = (
                dataset.rsplit(":", 1)[-1] if dataset.lower().startswith("netcdf:") else path.stem
            )
            with open_raster(dataset) as src:
                if src.transform.is_identity or min(src.width, src.height) < 2:
                    skipped.append(variable)  # bounds, grid mappings, 1-D helpers
                    continue
                if src.crs is None:
                    if not _has_cf_lonlat(src.tags()):
                        skipped.append(variable)
                        continue
                    # CF lon/lat coordinates without a grid_mapping: WGS84 by convention.
                    assumed_crs = "EPSG:4326"
                this_grid = (src.width, src.height, src.crs, src.transform)
                if grid is None:
                    grid = this_grid
                elif this_grid != grid:
                    skipped.append(variable)  # another grid: a separate product, not a band
                    continue
                nodata = src.nodata if nodata is None else nodata
                for index in range(1, src.count + 1):
                    name = variable if src.count == 1 else f"{variable}_{index}"
                    units = src.tags(index).get("units") or src.units[index - 1]
                    long_name = src.tags(index).get("long_name")
                    band = Band(name, long_name, None, None, units or None)
                    bands.append(BandSource(band, dataset, index))
                    dtypes.append(src.dtypes[index - 1])
        if not bands:
            raise IngestError(
                f"{path.name}: no georeferenced 2-D variable (needs x/y or lon/lat dimensions "
                "with CF coordinates or a grid_mapping)"
            )
        meta = _netcdf_metadata(path)
        meta["format"] = "netCDF"
        if "start" in meta:
            meta["datetime_source"] = "NetCDF time coordinate or time_coverage attributes"
        if skipped:
            meta["skipped_variables"] = skipped
        if assumed_crs:
            meta["assumed_crs"] = assumed_crs
        return bands, _common_dtype(dtypes), nodata, meta

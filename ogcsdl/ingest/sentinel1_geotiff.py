"""Sentinel-1 GRD backscatter as a GeoTIFF (VV/VH bands, linear power or dB), e.g. the
Sen1Floods11 ``*_S1Hand.tif`` chips or a GRD exported with its product name."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ogcsdl.catalogue.record import SENTINEL1_GRD, Band
from ogcsdl.errors import IngestError
from ogcsdl.ingest.bands import platform_from_prefix
from ogcsdl.ingest.reader import (
    BandSource,
    ProductSource,
    check_georeferenced,
    file_mtime,
    open_raster,
    parse_compact_time,
)

# S1A_IW_GRDH_1SDV_20190917T180000_20190917T180025_029000_034A6B_1234
_PRODUCT_NAME = re.compile(
    r"^(?P<sat>S1[A-D])_(?P<mode>IW|EW|SM|S\d|WV)_GRD(?P<res>[HMF])_\d[SA](?P<pol>[SD][HV]|HH|HV|VV|VH)_"
    r"(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})_(?P<orbit>\d{6})_(?P<datatake>[0-9A-F]{6})"
)
_CHIP_NAME = re.compile(r"_S1(?:Hand|Weak|Otsu)?$", re.IGNORECASE)
_POLARISATION_NAMES = {
    "VV": "vertical transmit, vertical receive",
    "VH": "vertical transmit, horizontal receive",
    "HH": "horizontal transmit, horizontal receive",
    "HV": "horizontal transmit, vertical receive",
}
_POLARISATIONS = set(_POLARISATION_NAMES)
_RASTER_SUFFIXES = {".tif", ".tiff"}


def _polarisations(descriptions: tuple[str | None, ...]) -> list[str] | None:
    names = [(text or "").strip().upper() for text in descriptions]
    return names if names and all(name in _POLARISATIONS for name in names) else None


class Sentinel1GeoTiffReader:
    name = "sentinel-1-geotiff"

    def accepts(self, path: Path) -> bool:
        if not path.is_file() or path.suffix.lower() not in _RASTER_SUFFIXES:
            return False
        if _PRODUCT_NAME.match(path.name) or _CHIP_NAME.search(path.stem):
            return True
        try:
            with open_raster(path) as src:
                return _polarisations(src.descriptions) is not None
        except IngestError:
            return False

    def read(self, path: Path) -> ProductSource:
        with open_raster(path) as src:
            check_georeferenced(src, path.name)
            if src.count not in (1, 2):
                raise IngestError(
                    f"{path.name}: a Sentinel-1 GRD GeoTIFF has 1 or 2 bands (VV[, VH]), "
                    f"this one has {src.count}"
                )
            names = _polarisations(src.descriptions) or ["VV", "VH"][: src.count]
            nodata = src.nodata
            dtype = src.dtypes[0]
            scale = max(1, max(src.width, src.height) // 512)
            sample = src.read(
                1, out_shape=(max(1, src.height // scale), max(1, src.width // scale))
            ).astype("float64")
        valid = sample[np.isfinite(sample)]
        if nodata is not None and not np.isnan(nodata):
            valid = valid[valid != nodata]
        if valid.size == 0:
            raise IngestError(f"{path.name}: the first band holds no valid backscatter values")
        # Backscatter in dB is mostly negative (-30..0); linear power is positive, mostly < 1.
        is_db = float(np.median(valid)) < 0 or float(np.mean(valid < 0)) > 0.25
        unit = "dB" if is_db else "linear"
        if nodata is None and np.issubdtype(np.dtype(dtype), np.floating):
            nodata = float("nan")

        extra: dict[str, object] = {"backscatter_scale": unit}
        match = _PRODUCT_NAME.match(path.name)
        if match:
            start = parse_compact_time(match.group("start"))
            end = parse_compact_time(match.group("stop"))
            platform = platform_from_prefix(match.group("sat"))
            identifier = match.group(0)
            extra.update(
                mode=match.group("mode"),
                absolute_orbit=int(match.group("orbit")),
                datatake_id=match.group("datatake"),
                datetime_source="product name",
            )
        else:
            start = end = file_mtime(path)
            platform = "Sentinel-1"
            identifier = path.stem
            extra["datetime_source"] = "file modification time (the file carries no date)"
        bands = [
            BandSource(Band(name, _POLARISATION_NAMES[name], None, None, unit), str(path), index)
            for index, name in enumerate(names, start=1)
        ]
        return ProductSource(
            identifier=identifier,
            title=f"{platform} C-SAR GRD {'/'.join(names)} ({unit}) {start:%Y-%m-%d}",
            collection=SENTINEL1_GRD,
            start=start,
            end=end,
            bands=bands,
            source=str(path),
            dtype=dtype,
            nodata=nodata,
            platform=platform,
            instrument="C-SAR",
            sensor_type="RADAR",
            product_type="GRD",
            processing_level="Level-1",
            keywords=["Sentinel-1", "SAR", "GRD", "backscatter", *names],
            extra=extra,
        )

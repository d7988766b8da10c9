"""Which reader fits a path, and which products a directory holds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ogcsdl.errors import IngestError
from ogcsdl.ingest.generic import GEOTIFF_SUFFIXES, NETCDF_SUFFIXES, GenericRasterReader
from ogcsdl.ingest.reader import ProductReader
from ogcsdl.ingest.sentinel1_geotiff import Sentinel1GeoTiffReader
from ogcsdl.ingest.sentinel2_bands import Sentinel2BandFolderReader
from ogcsdl.ingest.sentinel2_safe import Sentinel2SafeReader

# Most specific first: a band file inside a SAFE is not a generic raster.
READERS: tuple[ProductReader, ...] = (
    Sentinel2SafeReader(),
    Sentinel2BandFolderReader(),
    Sentinel1GeoTiffReader(),
    GenericRasterReader(),
)
_RASTER_SUFFIXES = GEOTIFF_SUFFIXES | NETCDF_SUFFIXES
_WHAT_FITS = (
    "expected a Sentinel-2 SAFE folder (with MTD_MSIL1C.xml or MTD_MSIL2A.xml), a folder of "
    "*_B02.tif-style band files, a Sentinel-1 GRD GeoTIFF (VV/VH), or a GeoTIFF/COG/NetCDF file"
)


def detect(path: Path) -> ProductReader:
    """The reader for ``path``; :class:`IngestError` saying what would fit if none does."""
    if not path.exists():
        raise IngestError("no such file or directory")
    for reader in READERS:
        if reader.accepts(path):
            return reader
    if path.suffix.lower() == ".zip":
        raise IngestError(
            "this zip holds no Sentinel-2 SAFE product; unzip it and ingest its files"
        )
    kind = "folder" if path.is_dir() else f"'{path.suffix or 'no suffix'}' file"
    raise IngestError(f"not a product this suite can ingest ({kind}); {_WHAT_FITS}")


def find_products(path: Path) -> Iterator[Path]:
    """``path`` itself if it is a product, else every product found below it (a SAFE or a
    band folder counts once; loose raster files count one each)."""
    if not path.is_dir() or any(reader.accepts(path) for reader in READERS[:2]):
        yield path
        return
    for root, dirs, files in os.walk(path):
        here = Path(root)
        dirs.sort()
        for name in list(dirs):
            child = here / name
            if name.startswith("."):
                dirs.remove(name)
            elif any(reader.accepts(child) for reader in READERS[:2]):
                dirs.remove(name)  # a product: do not scan its band files one by one
                yield child
        for name in sorted(files):
            if name.startswith("."):
                continue
            suffix = Path(name).suffix.lower()
            if suffix in _RASTER_SUFFIXES or (suffix == ".zip" and READERS[0].accepts(here / name)):
                yield here / name

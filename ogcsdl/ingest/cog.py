"""Write a product's bands as one analysis-ready, multi-band Cloud Optimized GeoTIFF.

The bands are stacked in a GDAL VRT (each source placed on the finest band's grid with
the resampling GDAL applies while reading: bilinear for reflectance, nearest for classes).
GDAL resamples that VRT once into a temporary tiled GTiff beside the target, and the COG
driver copies it block by block. Memory stays bounded by GDAL's block cache whatever the
product size (the staging file needs the raw size on disk); nothing is resampled by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from lxml import etree
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from ogcsdl.config import IngestSettings
from ogcsdl.errors import IngestError
from ogcsdl.ingest.reader import BandSource, ProductSource, open_raster
from ogcsdl.ingest.writer import cog_options, staging_path, storage_error, write_cog

_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}


@dataclass(frozen=True)
class _SourceGrid:
    width: int
    height: int
    transform: Affine
    crs: CRS
    nodata: float | None  # what marks missing pixels in this source


@dataclass(frozen=True)
class TargetGrid:
    width: int
    height: int
    transform: Affine
    crs: CRS

    @property
    def resolution(self) -> tuple[float, float]:
        return (abs(self.transform.a), abs(self.transform.e))


def _grids(bands: list[BandSource]) -> list[_SourceGrid]:
    grids = []
    for band in bands:
        with open_raster(band.dataset) as src:
            if band.index > src.count:
                raise IngestError(f"{band.dataset} has no band {band.index}")
            nodata = src.nodatavals[band.index - 1]
            if nodata is None and src.dtypes[band.index - 1].startswith("float"):
                nodata = float("nan")  # NaN is how float rasters without nodata mark gaps
            grids.append(_SourceGrid(src.width, src.height, src.transform, src.crs, nodata))
    return grids


def target_grid(bands: list[BandSource], assumed_crs: str | None = None) -> TargetGrid:
    """The finest source grid: 20 m and 60 m bands are resampled onto the 10 m one."""
    grids = _grids(bands)
    crs_set = {grid.crs.to_wkt() for grid in grids if grid.crs is not None}
    if len(crs_set) > 1 or (not crs_set and assumed_crs is None):
        raise IngestError("the band files are not in one coordinate reference system")
    finest = min(grids, key=lambda grid: abs(grid.transform.a))
    if finest.transform.b or finest.transform.d:
        raise IngestError("rotated geotransforms are not supported; warp the raster north-up")
    crs = finest.crs if finest.crs is not None else CRS.from_user_input(assumed_crs)
    return TargetGrid(finest.width, finest.height, finest.transform, crs)


def _nodata_text(value: float) -> str:
    return "nan" if math.isnan(value) else repr(value)


def build_vrt(product: ProductSource, grid: TargetGrid) -> str:
    """A VRT stacking every band on ``grid`` (the XML text GDAL opens directly)."""
    gdal_type = _GDAL_TYPES.get(product.dtype)
    if gdal_type is None:
        raise IngestError(f"data type {product.dtype} cannot be written to a COG")
    root = etree.Element("VRTDataset", rasterXSize=str(grid.width), rasterYSize=str(grid.height))
    srs = etree.SubElement(root, "SRS", dataAxisToSRSAxisMapping="1,2")
    srs.text = grid.crs.to_wkt()
    geotransform = etree.SubElement(root, "GeoTransform")
    geotransform.text = ", ".join(repr(value) for value in grid.transform.to_gdal())
    metadata = etree.SubElement(root, "Metadata")
    for key, value in (
        ("OGCSDL_IDENTIFIER", product.identifier),
        ("OGCSDL_COLLECTION", product.collection),
        ("ACQUISITION_START", product.start.isoformat()),
        ("ACQUISITION_END", product.end.isoformat()),
        ("PLATFORM", product.platform),
    ):
        if value:
            etree.SubElement(metadata, "MDI", key=key).text = value
    for number, (band, source) in enumerate(
        zip(product.bands, _grids(product.bands), strict=True), 1
    ):
        node = etree.SubElement(root, "VRTRasterBand", dataType=gdal_type, band=str(number))
        etree.SubElement(node, "Description").text = band.band.name
        if product.nodata is not None:
            etree.SubElement(node, "NoDataValue").text = _nodata_text(product.nodata)
        band_metadata = etree.SubElement(node, "Metadata")
        if band.band.center_wavelength_um is not None:
            etree.SubElement(band_metadata, "MDI", key="WAVELENGTH_UM").text = str(
                band.band.center_wavelength_um
            )
        if band.band.unit:
            etree.SubElement(band_metadata, "MDI", key="UNIT").text = band.band.unit
        resampling = "nearest" if band.categorical else "bilinear"
        complex_source = etree.SubElement(node, "ComplexSource", resampling=resampling)
        etree.SubElement(complex_source, "SourceFilename", relativeToVRT="0").text = band.dataset
        etree.SubElement(complex_source, "SourceBand").text = str(band.index)
        etree.SubElement(
            complex_source,
            "SrcRect",
            xOff="0",
            yOff="0",
            xSize=str(source.width),
            ySize=str(source.height),
        )
        # Where the source's extent falls on the target grid, in target pixels.
        left, top = source.transform.c, source.transform.f
        right = left + source.width * source.transform.a
        bottom = top + source.height * source.transform.e
        inverse = ~grid.transform
        col0, row0 = inverse @ (left, top)
        col1, row1 = inverse @ (right, bottom)
        etree.SubElement(
            complex_source,
            "DstRect",
            xOff=repr(col0),
            yOff=repr(row0),
            xSize=repr(col1 - col0),
            ySize=repr(row1 - row0),
        )
        if source.nodata is not None:
            # Source nodata pixels are skipped, leaving the band's own nodata value there.
            etree.SubElement(complex_source, "NODATA").text = _nodata_text(source.nodata)
    return etree.tostring(root, encoding="unicode")


STAGING_OPTIONS = {
    "TILED": "YES",
    "BLOCKXSIZE": "512",
    "BLOCKYSIZE": "512",
    "INTERLEAVE": "BAND",
    "BIGTIFF": "IF_NEEDED",
    "NUM_THREADS": "ALL_CPUS",
}


def write_product_cog(
    product: ProductSource, grid: TargetGrid, target: Path, settings: IngestSettings
) -> None:
    """Write the product's bands on ``grid`` as a COG at ``target`` (a staging path of
    :class:`~ogcsdl.ingest.writer.Publication`)."""
    vrt = build_vrt(product, grid)
    options = cog_options(settings, any(band.categorical for band in product.bands))
    with staging_path(target) as staged:
        try:
            # Resample once into a plain tiled GTiff, then let the COG driver read that
            # twice (overviews, full resolution) instead of resampling the VRT twice:
            # 28 % faster on a 4020^2 13-band folder (benchmarks/ingest.py).
            with rasterio.open(vrt) as stack:
                rasterio.shutil.copy(stack, staged, driver="GTiff", **STAGING_OPTIONS)
            with rasterio.open(staged) as stack:
                write_cog(stack, target, options)
        except (RasterioError, CPLE_BaseError) as exc:
            # The staging GTiff is uncompressed; the COG at most as large again.
            raw = grid.width * grid.height * len(product.bands) * np.dtype(product.dtype).itemsize
            full = storage_error(exc, target.parent, 2 * raw)
            if full is not None:
                raise full from None
            detail = str(exc).split("\n")[0]
            raise IngestError(
                f"reading the band pixels failed ({detail}); is a band file truncated?"
            ) from None

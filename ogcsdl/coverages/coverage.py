"""A coverage as WCS sees it: a product COG's grid, CRS axes and bands."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import rasterio
from affine import Affine
from rasterio.errors import RasterioIOError

from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.coverages.axes import CrsAxes, crs_axes
from ogcsdl.coverages.errors import NoSuchCoverage

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Coverage:
    record: ProductRecord
    axes: CrsAxes
    transform: Affine
    width: int
    height: int
    dtype: str
    nodata: float | None

    @property
    def identifier(self) -> str:
        return self.record.identifier

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in easting/northing (x/y) order."""
        left, top = self.transform.c, self.transform.f
        right = left + self.transform.a * self.width
        bottom = top + self.transform.e * self.height
        return (left, bottom, right, top)


def coverage_of(record: ProductRecord) -> Coverage:
    try:
        dataset = rasterio.open(record.file_path)
    except RasterioIOError:
        # The record outlived its file (deleted by hand, or a metadata-only record).
        raise NoSuchCoverage(
            f"coverage {record.identifier!r} has no readable data; re-ingest the product",
            "coverageId",
        ) from None
    with dataset:
        if dataset.count != len(record.bands):
            # Trust the file: a record that disagrees with its data must not make band
            # indexes point outside it.
            LOG.warning(
                "%s: record lists %d bands, file has %d; using the file's",
                record.identifier,
                len(record.bands),
                dataset.count,
            )
            names = [
                description or f"band_{index}"
                for index, description in enumerate(dataset.descriptions, start=1)
            ]
            record = dataclasses.replace(record, bands=[Band(name) for name in names])
        epsg = dataset.crs.to_epsg() if dataset.crs else None
        if epsg is None:
            raise ValueError(f"{record.file_path}: CRS has no EPSG code")
        return Coverage(
            record=record,
            axes=crs_axes(epsg),
            transform=dataset.transform,
            width=dataset.width,
            height=dataset.height,
            dtype=dataset.dtypes[0],
            nodata=dataset.nodata,
        )

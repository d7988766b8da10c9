"""A coverage as WCS sees it: a product COG's grid, CRS axes and bands."""

from __future__ import annotations

from dataclasses import dataclass

import rasterio
from affine import Affine

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.coverages.axes import CrsAxes, crs_axes


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
    with rasterio.open(record.file_path) as dataset:
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

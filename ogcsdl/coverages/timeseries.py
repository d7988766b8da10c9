"""Time-series coverages: one per collection, its members the collection's products.

The spatial grid is the union of the members' extents at the finest member resolution,
in the CRS of the latest member, aligned to that member's pixel grid. The third axis,
``time``, carries the acquisition instants (OGC UnixTime CRS: seconds since 1970, and ISO
8601 strings in subsets). A time slice returns one 2-D coverage; a time trim returns every
member inside it, stacked (NetCDF: a ``time`` dimension; GeoTIFF: bands per instant).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import netCDF4
import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.coverages.coverage import Coverage, coverage_of
from ogcsdl.coverages.errors import InvalidSubsetting, NoSuchCoverage
from ogcsdl.coverages.getcoverage import (
    Encoded,
    FormatNotSupported,
    OutputPlan,
    check_format,
    encode,
    plan_output,
)
from ogcsdl.coverages.instants import TIME_AXIS, instant_seconds, unix_seconds
from ogcsdl.coverages.request import GetCoverageRequest, Subset

TIME_CRS = "http://www.opengis.net/def/crs/OGC/0/UnixTime"


@dataclass(frozen=True)
class TimeSeries:
    collection: str
    members: tuple[Coverage, ...]  # oldest first
    grid: Coverage  # the union grid (record = latest member's, for bands and CRS)

    @property
    def times(self) -> list[datetime]:
        return [member.record.start for member in self.members]


def time_series(collection: str, records: list[ProductRecord]) -> TimeSeries:
    if not records:
        raise NoSuchCoverage(f"no coverage {collection!r}", "coverageId")
    members = tuple(coverage_of(r) for r in sorted(records, key=lambda r: r.start))
    latest = members[-1]
    resolution = min(min(abs(m.transform.a), abs(m.transform.e)) for m in members)
    lefts, bottoms, rights, tops = [], [], [], []
    for member in members:
        bounds = member.bounds
        if member.axes.epsg != latest.axes.epsg:
            bounds = rasterio.warp.transform_bounds(
                CRS.from_epsg(member.axes.epsg), CRS.from_epsg(latest.axes.epsg), *bounds
            )
        lefts.append(bounds[0])
        bottoms.append(bounds[1])
        rights.append(bounds[2])
        tops.append(bounds[3])
    # Snap the union to the latest member's pixel grid so its pixels read back exactly.
    x0, y0 = latest.transform.c, latest.transform.f
    left = x0 + math.floor((min(lefts) - x0) / resolution) * resolution
    top = y0 + math.ceil((max(tops) - y0) / resolution) * resolution
    width = math.ceil((max(rights) - left) / resolution - 1e-6)
    height = math.ceil((top - min(bottoms)) / resolution - 1e-6)
    grid = replace(
        latest,
        transform=Affine(resolution, 0, left, 0, -resolution, top),
        width=width,
        height=height,
    )
    return TimeSeries(collection, members, grid)


def select_members(series: TimeSeries, subset: Subset | None) -> list[Coverage]:
    if subset is None:
        return list(series.members)
    if subset.point is not None:
        instant = instant_seconds(subset.point)
        chosen = [m for m in series.members if abs(unix_seconds(m.record.start) - instant) < 0.5]
    else:
        low = -math.inf if subset.low in (None, "*") else instant_seconds(subset.low)
        high = math.inf if subset.high in (None, "*") else instant_seconds(subset.high)
        if low > high:
            raise InvalidSubsetting("time subset: low > high", TIME_AXIS)
        chosen = [m for m in series.members if low <= unix_seconds(m.record.start) <= high]
    if not chosen:
        raise InvalidSubsetting("no acquisition of this coverage in the time subset", TIME_AXIS)
    return chosen


def get_series_coverage(
    settings: Settings, series: TimeSeries, request: GetCoverageRequest
) -> Encoded:
    check_format(request.format)
    time_subsets = [s for s in request.subsets if s.axis == TIME_AXIS]
    if len(time_subsets) > 1:
        raise InvalidSubsetting("the time axis is subset twice", TIME_AXIS)
    members = select_members(series, time_subsets[0] if time_subsets else None)
    spatial = replace(request, subsets=tuple(s for s in request.subsets if s.axis != TIME_AXIS))
    plan = plan_output(settings, series.grid, spatial, steps=len(members))
    names = [series.grid.record.band_names[i - 1] for i in plan.indexes]
    # Members acquired at the same instant (adjacent tiles of one pass) are one time step:
    # the first one's valid pixels win, the others fill its nodata.
    steps: dict[int, np.ndarray] = {}
    times: dict[int, datetime] = {}
    for member in members:
        key = round(unix_seconds(member.record.start))
        data = _read_onto(member, names, plan)
        if key not in steps:
            steps[key], times[key] = data, member.record.start
        elif member.nodata is not None:
            hole = steps[key] == member.nodata
            steps[key][hole] = data[hole]
    stack = [steps[key] for key in sorted(steps)]
    if len(stack) == 1:
        return encode(request.format, stack[0], plan.transform, plan.crs, series.grid, names)
    instants = [times[key] for key in sorted(times)]
    if request.format == "image/png":
        raise FormatNotSupported("PNG holds one instant; slice the time axis", "format")
    if request.format == "image/tiff":
        flat = np.concatenate(stack)
        labels = [f"{name}@{t.isoformat()}" for t in instants for name in names]
        return encode(request.format, flat, plan.transform, plan.crs, series.grid, labels)
    return _netcdf_series(series, stack, instants, names, plan.transform, plan.crs)


def _read_onto(member: Coverage, names: list[str], plan: OutputPlan) -> np.ndarray:
    """The member's bands (by name) resampled onto the output grid, nodata outside."""
    missing = [n for n in names if n not in member.record.band_names]
    if missing:
        raise InvalidSubsetting(f"{member.identifier} lacks bands {missing}", "rangeSubset")
    indexes = [member.record.band_names.index(n) + 1 for n in names]
    with (
        rasterio.open(member.record.file_path) as dataset,
        plan.warped(dataset, Resampling.nearest, member.nodata) as vrt,
    ):
        return np.asarray(vrt.read(indexes))


def _netcdf_series(
    series: TimeSeries,
    stack: list[np.ndarray],
    times: list[datetime],
    names: list[str],
    transform: Affine,
    crs: CRS,
) -> Encoded:
    """CF-style NetCDF: (time, y, x) per band, pixel-centre coordinates, GDAL's CRS
    attributes so GDAL/QGIS/xarray georeference it."""
    data = np.stack(stack)  # time, band, y, x
    _, _, height, width = data.shape
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"{series.collection}.nc"
        with netCDF4.Dataset(path, "w", format="NETCDF4") as out:
            out.Conventions = "CF-1.8"
            out.createDimension("time", len(times))
            out.createDimension("y", height)
            out.createDimension("x", width)
            time_var = out.createVariable("time", "f8", ("time",))
            time_var.units = "seconds since 1970-01-01T00:00:00Z"
            time_var.standard_name = "time"
            time_var[:] = [unix_seconds(t) for t in times]
            x = out.createVariable("x", "f8", ("x",))
            x[:] = transform.c + transform.a * (np.arange(width) + 0.5)
            y = out.createVariable("y", "f8", ("y",))
            y[:] = transform.f + transform.e * (np.arange(height) + 0.5)
            x.standard_name, y.standard_name = "projection_x_coordinate", "projection_y_coordinate"
            spatial_ref = out.createVariable("spatial_ref", "i4")
            spatial_ref.crs_wkt = crs.to_wkt()
            spatial_ref.spatial_ref = crs.to_wkt()
            spatial_ref.GeoTransform = " ".join(str(v) for v in transform.to_gdal())
            nodata = series.grid.nodata
            for index, name in enumerate(names):
                variable = out.createVariable(
                    name, data.dtype, ("time", "y", "x"), zlib=True, fill_value=nodata
                )
                variable.grid_mapping = "spatial_ref"
                variable[:] = data[:, index]
        return Encoded(path.read_bytes(), "application/netcdf", f"{series.collection}.nc")

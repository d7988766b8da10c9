"""GetCoverage on rasterio: subsets -> a pixel window of the COG (or a WarpedVRT for
another output CRS), scaling -> the output shape (overviews do the decimation), range
subsetting -> band indexes, then GeoTIFF (COG), NetCDF or PNG."""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds
from rasterio.vrt import WarpedVRT
from rasterio.warp import calculate_default_transform, transform_bounds
from rasterio.windows import Window

from ogcsdl.config import Settings
from ogcsdl.coverages.axes import CrsAxes, crs_axes, parse_crs_uri
from ogcsdl.coverages.coverage import Coverage
from ogcsdl.coverages.errors import (
    FormatNotSupported,
    InvalidAxisLabel,
    InvalidExtent,
    InvalidSubsetting,
    NoSuchField,
    OutputCrsNotSupported,
    ScalingAxisNotDefined,
    SubsettingCrsNotSupported,
)
from ogcsdl.coverages.request import FORMATS, GetCoverageRequest, Scaling, Subset
from ogcsdl.coverages.values import parse_number
from ogcsdl.errors import InvalidParameterValue, PayloadTooLarge

EPSILON = 1e-6  # pixel-edge tolerance for subsets given in CRS units


@dataclass(frozen=True)
class Encoded:
    body: bytes
    media_type: str
    filename: str


def _epsg(uri: str | None, default: int, error: type[Exception]) -> int:
    if uri is None:
        return default
    code = parse_crs_uri(uri)
    if code is None:
        raise error(f"{uri!r} is not an OGC CRS URI (http://www.opengis.net/def/crs/EPSG/0/n)")
    try:
        crs_axes(code)
    except Exception:  # noqa: BLE001 - unknown to PROJ
        raise error(f"EPSG:{code} is not known") from None
    return code


def _number(text: str, axis: str) -> float:
    return parse_number(text, axis, InvalidSubsetting, f"subset on {axis}")


def requested_bounds(
    subsets: tuple[Subset, ...], axes: CrsAxes, full: tuple[float, float, float, float]
) -> tuple[tuple[float, float, float, float], set[str]]:
    """(minx, miny, maxx, maxy) in ``axes``' CRS from trims/slices; also the sliced axes."""
    minx, miny, maxx, maxy = full
    seen: set[str] = set()
    sliced: set[str] = set()
    for subset in subsets:
        if subset.axis not in axes.labels:
            raise InvalidAxisLabel(
                f"axis {subset.axis!r} is not one of {', '.join(axes.labels)}", subset.axis
            )
        if subset.axis in seen:
            raise InvalidSubsetting(f"axis {subset.axis} is subset twice", subset.axis)
        seen.add(subset.axis)
        if subset.point is not None:
            low = high = _number(subset.point, subset.axis)
            sliced.add(subset.axis)
        else:
            low = -math.inf if subset.low in (None, "*") else _number(subset.low, subset.axis)
            high = math.inf if subset.high in (None, "*") else _number(subset.high, subset.axis)
            if low > high:
                raise InvalidSubsetting(f"subset on {subset.axis}: low > high", subset.axis)
        if subset.axis == axes.x_label:
            minx, maxx = max(minx, low), min(maxx, high)
        else:
            miny, maxy = max(miny, low), min(maxy, high)
        if minx > maxx or miny > maxy:
            raise InvalidSubsetting(
                f"subset on {subset.axis} lies outside the coverage extent", subset.axis
            )
    return (minx, miny, maxx, maxy), sliced


def _window(coverage: Coverage, bounds: tuple[float, float, float, float]) -> Window:
    """The pixel window covering ``bounds`` (native CRS); slices give one pixel."""
    inverse = ~coverage.transform
    col_a, row_a = inverse @ (bounds[0], bounds[3])
    col_b, row_b = inverse @ (bounds[2], bounds[1])
    col0 = max(0, math.floor(min(col_a, col_b) + EPSILON))
    row0 = max(0, math.floor(min(row_a, row_b) + EPSILON))
    col1 = min(coverage.width, max(col0 + 1, math.ceil(max(col_a, col_b) - EPSILON)))
    row1 = min(coverage.height, max(row0 + 1, math.ceil(max(row_a, row_b) - EPSILON)))
    if col0 >= coverage.width or row0 >= coverage.height or col1 <= 0 or row1 <= 0:
        raise InvalidSubsetting("the subset lies outside the coverage extent")
    return Window(col0, row0, col1 - col0, row1 - row0)


def _band_indexes(coverage: Coverage, names: tuple[str, ...]) -> list[int]:
    available = coverage.record.band_names
    if not names:
        return list(range(1, len(available) + 1))
    indexes: list[int] = []
    for item in names:
        low, _, high = item.partition(":")
        for name in (low, high) if high else (low,):
            if name not in available:
                raise NoSuchField(f"no band {name!r}; bands are {', '.join(available)}", name)
        if high:
            start, stop = available.index(low), available.index(high)
            if start > stop:  # an empty interval: rasterio read "no indexes" (a 500)
                raise InvalidParameterValue(
                    f"range interval {item!r}: {low} comes after {high} in the bands "
                    f"({', '.join(available)})",
                    "rangeSubset",
                )
            indexes.extend(range(start + 1, stop + 2))
        else:
            indexes.append(available.index(low) + 1)
    return indexes


def _output_shape(
    scaling: Scaling | None, axes: CrsAxes, width: int, height: int
) -> tuple[int, int]:
    if scaling is None:
        return width, height
    if scaling.kind == "factor":
        assert scaling.factor is not None
        return max(1, round(width / scaling.factor)), max(1, round(height / scaling.factor))
    for axis in scaling.per_axis:
        if axis not in axes.labels:
            raise ScalingAxisNotDefined(f"cannot scale axis {axis!r}", axis)
    x = scaling.per_axis.get(axes.x_label)
    y = scaling.per_axis.get(axes.y_label)
    if scaling.kind == "axes_factor":
        return (
            max(1, round(width / x[0])) if x else width,
            max(1, round(height / y[0])) if y else height,
        )
    if scaling.kind == "size":
        return (int(x[0]) if x else width, int(y[0]) if y else height)
    for axis, (low, high) in scaling.per_axis.items():
        if high < low:
            raise InvalidExtent(f"scale extent on {axis}: high < low", axis)
    return (int(x[1] - x[0] + 1) if x else width, int(y[1] - y[0] + 1) if y else height)


def _check_size(settings: Settings, width: int, height: int, bands: int, dtype: str) -> None:
    pixels = width * height
    size = pixels * bands * np.dtype(dtype).itemsize
    if pixels > settings.wcs.max_pixels or size > settings.wcs.max_bytes:
        raise PayloadTooLarge(
            f"the response would be {width}x{height} pixels x {bands} bands ({size} bytes), over "
            f"this server's limit ({settings.wcs.max_pixels} pixels, {settings.wcs.max_bytes} "
            "bytes); request a smaller subset, fewer bands or use SCALEFACTOR/SCALESIZE"
        )


@dataclass(frozen=True)
class OutputPlan:
    """Where the response's pixels go: CRS, grid, bands; ``window`` is the native pixel
    window when no reprojection is needed (then the COG is read directly)."""

    crs: CRS
    transform: Affine
    width: int
    height: int
    indexes: list[int]
    window: Window | None

    def warped(
        self, dataset: rasterio.DatasetReader, resampling: Resampling, nodata: float | None = None
    ) -> WarpedVRT:
        """``dataset`` resampled onto this plan's grid (a virtual dataset: read it)."""
        return WarpedVRT(
            dataset,
            crs=self.crs,
            transform=self.transform,
            width=self.width,
            height=self.height,
            resampling=resampling,
            nodata=nodata,
        )


def check_format(media_type: str) -> None:
    if media_type not in FORMATS:
        raise FormatNotSupported(
            f"format {media_type!r} is not supported; use one of {', '.join(FORMATS)}",
            "format",
        )


def plan_output(
    settings: Settings, coverage: Coverage, request: GetCoverageRequest, steps: int = 1
) -> OutputPlan:
    """Resolve subsets, CRSs, scaling and bands against ``coverage``'s grid; refuse
    responses over the configured size (``steps`` instants of it)."""
    native = coverage.axes.epsg
    native_crs = CRS.from_epsg(native)
    subsetting = crs_axes(_epsg(request.subsetting_crs, native, SubsettingCrsNotSupported))
    output = crs_axes(_epsg(request.output_crs, native, OutputCrsNotSupported))
    full = coverage.bounds
    if subsetting.epsg != native:
        full = transform_bounds(native_crs, CRS.from_epsg(subsetting.epsg), *full)
    bounds, _sliced = requested_bounds(request.subsets, subsetting, full)
    indexes = _band_indexes(coverage, request.range_subset)
    if output.epsg == native:
        native_bounds = bounds
        if subsetting.epsg != native:
            native_bounds = transform_bounds(CRS.from_epsg(subsetting.epsg), native_crs, *bounds)
        window = _window(coverage, native_bounds)
        width, height = _output_shape(
            request.scaling, output, int(window.width), int(window.height)
        )
        _check_size(settings, width, height, len(indexes) * steps, coverage.dtype)
        out_bounds = rasterio.windows.bounds(window, coverage.transform)
        transform = from_bounds(*out_bounds, width, height)
        return OutputPlan(native_crs, transform, width, height, indexes, window)
    out_crs = CRS.from_epsg(output.epsg)
    out_bounds = transform_bounds(CRS.from_epsg(subsetting.epsg), out_crs, *bounds)
    # The native resolution carried into the output CRS (what GDAL's warper would pick).
    default, _, _ = calculate_default_transform(
        native_crs, out_crs, coverage.width, coverage.height, *coverage.bounds
    )
    window = rasterio.windows.from_bounds(*out_bounds, transform=default)
    base_w, base_h = max(1, round(window.width)), max(1, round(window.height))
    width, height = _output_shape(request.scaling, output, base_w, base_h)
    _check_size(settings, width, height, len(indexes) * steps, coverage.dtype)
    return OutputPlan(
        out_crs, from_bounds(*out_bounds, width, height), width, height, indexes, None
    )


def get_coverage(settings: Settings, coverage: Coverage, request: GetCoverageRequest) -> Encoded:
    check_format(request.format)
    plan = plan_output(settings, coverage, request)
    with rasterio.open(coverage.record.file_path) as dataset:
        if plan.window is not None:
            data = dataset.read(
                plan.indexes,
                window=plan.window,
                out_shape=(len(plan.indexes), plan.height, plan.width),
                resampling=Resampling.nearest,
            )
        else:
            with plan.warped(dataset, Resampling.bilinear) as vrt:
                data = vrt.read(plan.indexes)
    names = [coverage.record.band_names[i - 1] for i in plan.indexes]
    return encode(request.format, data, plan.transform, plan.crs, coverage, names)


def encode(
    media_type: str,
    data: np.ndarray,
    transform: object,
    crs: CRS,
    coverage: Coverage,
    band_names: list[str],
) -> Encoded:
    driver = FORMATS[media_type]
    count, height, width = data.shape
    profile = {
        "count": count,
        "height": height,
        "width": width,
        "dtype": str(data.dtype),
        "crs": crs,
        "transform": transform,
        "nodata": coverage.nodata,
    }
    stem = coverage.identifier
    if driver == "PNG":
        if str(data.dtype) not in ("uint8", "uint16") or count > 4:
            raise FormatNotSupported(
                "PNG carries 1-4 bands of 8/16-bit integers; use RANGESUBSET or image/tiff",
                "format",
            )
        with MemoryFile() as memory:
            with memory.open(driver="PNG", **profile) as dst:
                dst.write(data)
            return Encoded(memory.read(), "image/png", f"{stem}.png")
    if driver == "GTiff":
        with MemoryFile() as memory:
            with memory.open(driver="COG", compress="deflate", **profile) as dst:
                dst.write(data)
                dst.descriptions = tuple(band_names)
            return Encoded(memory.read(), "image/tiff", f"{stem}.tif")
    # GDAL's netCDF driver only copies (no Create) and writes real files, not /vsimem.
    with tempfile.TemporaryDirectory() as directory, MemoryFile() as memory:
        with memory.open(driver="GTiff", **profile) as staged:
            staged.write(data)
            staged.descriptions = tuple(band_names)
        path = Path(directory) / f"{stem}.nc"
        with memory.open() as staged:
            rasterio.shutil.copy(staged, path, driver="netCDF")
        # GDAL names the variables Band1..n; clients expect the band (field) names.
        with netCDF4.Dataset(path, "a") as netcdf:
            for index, name in enumerate(band_names, start=1):
                netcdf.renameVariable(f"Band{index}", name)
        return Encoded(path.read_bytes(), "application/netcdf", f"{stem}.nc")

"""The query of an OGC API - Coverages coverage request, checked before pygeoapi.

pygeoapi 0.21's rasterio provider answers an unknown ``bbox-crs`` with a 500 (it calls
``CRS.from_epsg`` on the raw text), draws from NaN or infinite numbers, and silently
ignores a ``subset`` on only one of the two spatial axes. Here each of those is either
made exact or refused with a 400: ``bbox-crs`` URIs become the EPSG code pygeoapi wants,
a one-axis subset gets the coverage's full extent on the other axis, and numbers must be
finite intervals.
"""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qsl, urlencode

import rasterio
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.errors import InvalidParameterValue

_CRS84 = {
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "CRS84",
    "OGC:CRS84",
}
_EPSG = re.compile(r"^(?:https?://www\.opengis\.net/def/crs/EPSG/0/|EPSG:)?(\d{1,6})$")
_SUBSET = re.compile(r"^\s*([A-Za-z]+)\(([^()]*)\)\s*$")


def _finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameterValue(f"{what}: {text!r} is not a number", what) from None
    if not math.isfinite(value):
        raise InvalidParameterValue(f"{what}: {text!r} is not a finite number", what)
    return value


def epsg_code(text: str) -> int:
    """``bbox-crs`` (an OGC CRS URI, ``EPSG:n`` or ``n``) -> an EPSG code PROJ knows."""
    if text.strip() in _CRS84:
        return 4326  # pygeoapi transforms with always_xy: longitude first, as CRS84
    match = _EPSG.match(text.strip())
    if match:
        try:
            CRS.from_epsg(int(match.group(1)))
            return int(match.group(1))
        except CRSError:
            pass
    raise InvalidParameterValue(
        f"bbox-crs {text!r} is not a known CRS; use "
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84 or http://www.opengis.net/def/crs/EPSG/0/<code>",
        "bbox-crs",
    )


def _check_bbox(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise InvalidParameterValue("bbox must be 4 (or 6) numbers", "bbox")
    numbers = [_finite(part, "bbox") for part in parts]
    half = len(numbers) // 2
    if any(low >= high for low, high in zip(numbers[:half], numbers[half:], strict=True)):
        raise InvalidParameterValue("bbox minimum must be below its maximum", "bbox")
    return numbers[0], numbers[1], numbers[half], numbers[half + 1]


def _check_overlap(
    bbox: tuple[float, float, float, float], code: int, record: ProductRecord
) -> None:
    """pygeoapi answers a bbox outside the coverage with a 500 ("query error")."""
    try:
        transformer = Transformer.from_crs(CRS.from_epsg(code), "OGC:CRS84", always_xy=True)
        minx, miny, maxx, maxy = transformer.transform_bounds(*bbox)
        # pygeoapi masks in the coverage's own CRS: a box PROJ can only take there as NaN
        # or infinity (-1e308,...,1e308 in degrees) failed inside rasterio (a 500).
        native = Transformer.from_crs(
            CRS.from_epsg(code), CRS.from_user_input(record.crs), always_xy=True
        ).transform_bounds(*bbox)
    except (CRSError, ProjError):
        raise InvalidParameterValue(
            "bbox cannot be transformed to the coverage CRS", "bbox"
        ) from None
    if not all(map(math.isfinite, native)):
        raise InvalidParameterValue(
            f"bbox is too large to be expressed in the coverage CRS ({record.crs})", "bbox"
        )
    west, south, east, north = record.bbox
    if not all(map(math.isfinite, (minx, miny, maxx, maxy))) or (
        maxx < west or minx > east or maxy < south or miny > north
    ):
        raise InvalidParameterValue(
            f"bbox does not intersect the coverage (its extent is {list(record.bbox)} in CRS84)",
            "bbox",
        )


def _spatial_axes(record: ProductRecord) -> tuple[str, str]:
    """The axis labels pygeoapi's rasterio provider gives this coverage."""
    try:
        projected = CRS.from_user_input(record.crs).is_projected
    except CRSError:
        projected = False
    return ("x", "y") if projected else ("Long", "Lat")


def _subsets(text: str, record: ProductRecord) -> dict[str, tuple[float, float]]:
    axes = _spatial_axes(record)
    found: dict[str, tuple[float, float]] = {}
    for item in re.findall(r"[^,(]+\([^)]*\)", text) or [text]:
        match = _SUBSET.match(item.strip(" ,"))
        if not match:
            raise InvalidParameterValue(f"subset {item!r} is not axis(low:high)", "subset")
        axis, values = match.group(1), match.group(2)
        if axis not in axes:
            raise InvalidParameterValue(
                f"subset axis {axis!r} is not one of {', '.join(axes)}", "subset"
            )
        low_text, colon, high_text = values.partition(":")
        if not colon:
            raise InvalidParameterValue(
                f"subset {item!r}: slicing to one {axis} value is not supported; "
                "give an interval low:high",
                "subset",
            )
        low, high = _finite(low_text, "subset"), _finite(high_text, "subset")
        if low >= high:
            raise InvalidParameterValue(f"subset {item!r}: low must be below high", "subset")
        found[axis] = (low, high)
    return found


def checked_query(query: str, record: ProductRecord) -> str:
    """The coverage request's query string, validated and made explicit for pygeoapi."""
    pairs = parse_qsl(query, keep_blank_values=True)
    out: list[tuple[str, str]] = []
    subsets: dict[str, tuple[float, float]] = {}
    bbox: tuple[float, float, float, float] | None = None
    code = 4326
    for key, value in pairs:
        name = key.lower()
        if name == "bbox":
            bbox = _check_bbox(value)
        elif name == "bbox-crs":
            code = epsg_code(value)
            value = str(code)
        elif name == "subset":
            subsets.update(_subsets(value, record))
            continue
        out.append((key, value))
    if bbox is not None:
        _check_overlap(bbox, code, record)
    if subsets:
        x_axis, y_axis = _spatial_axes(record)
        with rasterio.open(record.file_path) as dataset:
            bounds = dataset.bounds
        extent = {x_axis: (bounds.left, bounds.right), y_axis: (bounds.bottom, bounds.top)}
        for axis, (low, high) in subsets.items():
            if high <= extent[axis][0] or low >= extent[axis][1]:
                raise InvalidParameterValue(
                    f"subset on {axis} does not intersect the coverage "
                    f"({extent[axis][0]}:{extent[axis][1]})",
                    "subset",
                )
        subsets = {**extent, **subsets}  # a one-axis subset keeps the full other axis
        text = ",".join(f"{axis}({low!r}:{high!r})" for axis, (low, high) in subsets.items())
        out.append(("subset", text))
    return urlencode(out)

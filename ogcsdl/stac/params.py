"""STAC API item search parameters (GET query string or POST JSON body), parsed and
validated once into a :class:`SearchRequest`.

A GET query string holds text only (CSV lists, JSON in ``intersects``/``query``, CQL2
text by default); a POST body holds JSON types, which are checked as such: a bbox given as
a string, a number or ``true`` is an error there, not something to guess about."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ogcsdl.catalogue.store import ProductQuery
from ogcsdl.errors import InvalidParameterValue
from ogcsdl.stac import cql2, extensions
from ogcsdl.stac.rfc3339 import parse_interval

MAX_LIMIT = 1000
DEFAULT_LIMIT = 10
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# The queryable the product store holds as a SQL column (filters on it pre-select in SQL).
CLOUD_COVER = "eo:cloud_cover"
_GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}
KNOWN = {
    "bbox",
    "intersects",
    "datetime",
    "collections",
    "ids",
    "limit",
    "token",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "query",
    "fields",
    "f",
}


@dataclass(frozen=True)
class SearchRequest:
    """``query`` holds what SQL decides (its limit/offset are the page); the rest is
    decided per item after the SQL pre-selection."""

    query: ProductQuery
    intersects: BaseGeometry | None = None
    filter: cql2.Predicate | None = None
    property_query: cql2.Predicate | None = None
    sortby: tuple[extensions.SortKey, ...] = ()
    fields: extensions.Fields | None = None

    @property
    def decided_per_item(self) -> bool:
        """True when matching cannot be left to the SQL pre-selection (a bbox is refined
        with the footprints too)."""
        return (
            self.query.bbox is not None
            or self.intersects is not None
            or self.filter is not None
            or self.property_query is not None
        )


def _bbox_numbers(value: Any, from_json: bool) -> list[float]:
    if from_json:
        if not isinstance(value, list) or not all(
            isinstance(part, int | float) and not isinstance(part, bool) for part in value
        ):
            raise InvalidParameterValue("bbox must be a JSON array of 4 or 6 numbers", "bbox")
        return [float(part) for part in value]
    try:
        return [float(part) for part in str(value).split(",")]
    except ValueError:
        raise InvalidParameterValue(
            "bbox must be four numbers: minx,miny,maxx,maxy", "bbox"
        ) from None


def parse_bbox(value: Any, from_json: bool = False) -> tuple[float, float, float, float]:
    numbers = _bbox_numbers(value, from_json)
    if len(numbers) == 6:  # 3D bbox: drop the heights
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise InvalidParameterValue("bbox must be four numbers: minx,miny,maxx,maxy", "bbox")
    minx, miny, maxx, maxy = numbers
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidParameterValue("bbox is outside WGS84 longitude/latitude ranges", "bbox")
    if minx > maxx:
        raise InvalidParameterValue("bbox crossing the antimeridian is not supported", "bbox")
    return minx, miny, maxx, maxy


def parse_intersects(value: Any) -> BaseGeometry:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidParameterValue(
                "intersects must be a GeoJSON geometry", "intersects"
            ) from None
    if not isinstance(value, dict) or value.get("type") not in _GEOMETRY_TYPES:
        raise InvalidParameterValue(
            "intersects must be a GeoJSON geometry (Point, LineString, Polygon, their Multi*"
            " forms or a GeometryCollection)",
            "intersects",
        )
    try:
        geometry = shape(value)
    except Exception:  # noqa: BLE001 - shapely raises several kinds for bad coordinates
        raise InvalidParameterValue("intersects holds invalid coordinates", "intersects") from None
    if geometry.is_empty:
        raise InvalidParameterValue("intersects is an empty geometry", "intersects")
    if not all(math.isfinite(value) for value in geometry.bounds):
        raise InvalidParameterValue("intersects holds non-finite coordinates", "intersects")
    return geometry


def _names(value: Any, key: str, from_json: bool) -> tuple[str, ...]:
    # A JSON body should hold a list; one name given as a string is read as that name.
    if isinstance(value, str):
        return tuple(part for part in value.split(",") if part)
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return tuple(value)
    raise InvalidParameterValue(f"{key} must be a list of strings", key)


def parse_limit(value: Any) -> int:
    """Above the maximum is clamped (OGC API - Features), below 1 is an error."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidParameterValue("limit must be an integer", "limit")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue("limit must be an integer", "limit") from None
    if number < 1:
        raise InvalidParameterValue("limit must be at least 1", "limit")
    return min(number, MAX_LIMIT)


def _offset(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue("token is not one this server issued", "token") from None
    if not 0 <= number <= 10**9:
        raise InvalidParameterValue("token is not one this server issued", "token")
    return number


def parse_search(
    params: Mapping[str, Any], collection: str | None = None, from_json: bool = False
) -> SearchRequest:
    """From query parameters (GET, ``from_json=False``) or a JSON body (POST /search)."""
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise InvalidParameterValue(f"unknown parameter(s): {', '.join(unknown)}", unknown[0])
    if params.get("bbox") is not None and params.get("intersects") is not None:
        raise InvalidParameterValue("give bbox or intersects, not both", "intersects")
    start = end = None
    if params.get("datetime") is not None:
        if not isinstance(params["datetime"], str):
            raise InvalidParameterValue("datetime must be a string", "datetime")
        start, end = parse_interval(params["datetime"])
    collections = (
        _names(params["collections"], "collections", from_json)
        if params.get("collections") is not None
        else ()
    )
    if collection is not None:
        collections = (collection,)
    intersects = (
        parse_intersects(params["intersects"]) if params.get("intersects") is not None else None
    )
    bbox = parse_bbox(params["bbox"], from_json) if params.get("bbox") is not None else None
    if intersects is not None:
        bbox = intersects.bounds  # the envelope pre-selects in SQL, the shape decides
    if params.get("filter-crs") not in (None, CRS84):
        raise InvalidParameterValue(f"filter-crs must be {CRS84}", "filter-crs")
    filter_node = (
        cql2.parse_filter(params["filter"], params.get("filter-lang"))
        if params.get("filter") not in (None, "")
        else None
    )
    query = params.get("query")
    property_query = extensions.parse_query(query) if query is not None else None
    cloud_cover = (
        cql2.numeric_bounds(filter_node, CLOUD_COVER) if filter_node is not None else ()
    ) + (extensions.query_bounds(query, CLOUD_COVER) if query is not None else ())
    return SearchRequest(
        query=ProductQuery(
            collections=collections,
            ids=_names(params["ids"], "ids", from_json) if params.get("ids") is not None else (),
            bbox=bbox,
            start=start,
            end=end,
            limit=parse_limit(params.get("limit", DEFAULT_LIMIT)),
            offset=_offset(params.get("token", 0)),
            cloud_cover=cloud_cover,
        ),
        intersects=intersects,
        filter=cql2.compile_filter(filter_node) if filter_node is not None else None,
        property_query=property_query,
        sortby=(
            extensions.parse_sortby(params["sortby"], from_json)
            if params.get("sortby") not in (None, "", [])
            else ()
        ),
        fields=extensions.parse_fields(params["fields"], from_json) if "fields" in params else None,
    )

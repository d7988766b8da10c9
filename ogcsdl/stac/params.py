"""STAC API / OGC API - Features search parameters, parsed and validated once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ogcsdl.catalogue.store import ProductQuery
from ogcsdl.errors import InvalidParameterValue

MAX_LIMIT = 1000
DEFAULT_LIMIT = 10


def parse_bbox(value: Any) -> tuple[float, float, float, float]:
    parts = value.split(",") if isinstance(value, str) else value
    try:
        if not isinstance(parts, list) or any(isinstance(part, bool) for part in parts):
            raise TypeError("bbox is not a list of numbers")
        numbers = [float(part) for part in parts]
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            "bbox must be four numbers: minx,miny,maxx,maxy", "bbox"
        ) from None
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


def _instant(text: str) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameterValue(
            f"{text!r} is not an RFC 3339 date-time, e.g. 2024-06-01T00:00:00Z", "datetime"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_datetime(value: str) -> tuple[datetime | None, datetime | None]:
    """A single instant or an interval ``start/end`` with ``..`` for open ends."""
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = _instant(start_text), _instant(end_text)
        if start is None and end is None:
            raise InvalidParameterValue("datetime interval '../..' has no bound", "datetime")
        if start is not None and end is not None and start > end:
            raise InvalidParameterValue("datetime interval ends before it starts", "datetime")
        return start, end
    instant = _instant(value)
    if instant is None:
        raise InvalidParameterValue("datetime needs a value", "datetime")
    return instant, instant


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(part for part in value.split(",") if part)
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return tuple(value)
    raise InvalidParameterValue(f"{key} must be a list of strings", key)


def _int(value: Any, key: str, minimum: int, maximum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"{key} must be an integer", key) from None
    if not minimum <= number <= maximum:
        raise InvalidParameterValue(f"{key} must be between {minimum} and {maximum}", key)
    return number


KNOWN = {"bbox", "datetime", "collections", "ids", "limit", "token", "f"}


def parse_search(params: Mapping[str, Any], collection: str | None = None) -> ProductQuery:
    """From query parameters (GET) or a JSON body (POST /search)."""
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise InvalidParameterValue(f"unknown parameter(s): {', '.join(unknown)}", unknown[0])
    start = end = None
    if params.get("datetime"):
        start, end = parse_datetime(str(params["datetime"]))
    collections = _names(params["collections"], "collections") if "collections" in params else ()
    if collection is not None:
        collections = (collection,)
    return ProductQuery(
        collections=collections,
        ids=_names(params["ids"], "ids") if "ids" in params else (),
        bbox=parse_bbox(params["bbox"]) if params.get("bbox") is not None else None,
        start=start,
        end=end,
        limit=_int(params.get("limit", DEFAULT_LIMIT), "limit", 1, MAX_LIMIT),
        offset=_int(params.get("token", 0), "token", 0, 10**9),
    )

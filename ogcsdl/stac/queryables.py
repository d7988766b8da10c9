"""What a filter, a query or a sort can name, and each item's values for those names.

Names are the item's own fields (``id``, ``collection``, ``geometry``) and its property
names, so a client filters on exactly what it reads in the items. Other property names
are allowed too (``additionalProperties``): items of other sources may carry them, and a
name no item has simply matches nothing."""

from __future__ import annotations

from typing import Any

from shapely.geometry import shape

from ogcsdl.stac.rfc3339 import parse_instant

JSON_SCHEMA = "https://json-schema.org/draft/2019-09/schema"
_DATE_TIME = {"type": "string", "format": "date-time"}
_TEXT = {"type": "string"}

QUERYABLES: dict[str, dict[str, Any]] = {
    "id": {"title": "Item identifier", **_TEXT},
    "collection": {"title": "Collection identifier", **_TEXT},
    "geometry": {"title": "Footprint", "$ref": "https://geojson.org/schema/Geometry.json"},
    "datetime": {"title": "Acquisition time", **_DATE_TIME},
    "start_datetime": {"title": "Start of acquisition", **_DATE_TIME},
    "end_datetime": {"title": "End of acquisition", **_DATE_TIME},
    "updated": {"title": "Last change of the record", **_DATE_TIME},
    "eo:cloud_cover": {
        "title": "Cloud cover (%)",
        "type": "number",
        "minimum": 0,
        "maximum": 100,
    },
    "platform": {"title": "Platform, e.g. sentinel-2a", **_TEXT},
    "constellation": {"title": "Constellation, e.g. sentinel-2", **_TEXT},
    "instruments": {"title": "Instruments", "type": "array", "items": _TEXT},
    "gsd": {"title": "Ground sample distance (CRS units)", "type": "number"},
    "processing:level": {"title": "Processing level, e.g. Level-2A", **_TEXT},
    "product_type": {"title": "Product type, e.g. S2MSI2A", **_TEXT},
    "proj:epsg": {"title": "EPSG code of the native CRS, e.g. 32633", "type": "integer"},
}
_TIMES = ("datetime", "start_datetime", "end_datetime", "updated")


def document(url: str, title: str) -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA,
        "$id": url,
        "type": "object",
        "title": title,
        "properties": QUERYABLES,
        "additionalProperties": True,
    }


def values_of(item: dict[str, Any]) -> dict[str, Any]:
    """An item's queryable values: date-times as aware datetimes, the footprint as a
    shapely geometry; an item with a time range and no ``datetime`` answers with its
    start."""
    properties = item["properties"]
    found: dict[str, Any] = dict(properties)
    for name in _TIMES:
        if isinstance(properties.get(name), str):
            found[name] = parse_instant(properties[name], name)
    if found.get("datetime") is None:
        found["datetime"] = found.get("start_datetime")
    found["id"] = item["id"]
    found["collection"] = item.get("collection")
    found["geometry"] = shape(item["geometry"]) if item.get("geometry") else None
    return found

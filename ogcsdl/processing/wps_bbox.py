"""Bounding boxes of a WPS 1.0.0 Execute request, read from the request itself.

pywps drops the CRS of a KVP box (``area=minx,miny,maxx,maxy,crs``) and parses XML
boxes with OWSLib, which applies strict EPSG axis order even to the short
``EPSG:4326`` code. We follow common practice instead: ``EPSG:4326`` (and CRS84)
corners are lon/lat, as GDAL, QGIS and OWSLib's own client send them; URN/URL CRS
forms (``urn:ogc:def:crs:EPSG::4326``) follow the EPSG axis order, so lat/lon boxes
are swapped to x/y. What comes out is always x/y (east, north).
"""

from __future__ import annotations

import math
from typing import Any

from lxml import etree
from pyproj import CRS
from pyproj.exceptions import CRSError
from pywps.app.WPSRequest import get_data_from_kvp

from ogcsdl.errors import InvalidParameterValue

_WPS = "http://www.opengis.net/wps/1.0.0"
_OWS = "http://www.opengis.net/ows/1.1"
_NS = {"wps": _WPS, "ows": _OWS}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)

Box = tuple[list[float], str | None]


def _north_first(crs: str) -> bool:
    if not crs.lower().startswith(("urn:", "http://", "https://")):
        return False
    try:
        axes = CRS.from_user_input(crs).axis_info
    except CRSError:
        return False
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def to_xy(coords: list[float], crs: str | None) -> list[float]:
    if not all(math.isfinite(value) for value in coords):
        raise InvalidParameterValue("bounding box values must be finite numbers", "bbox")
    if crs and len(coords) == 4 and _north_first(crs):
        return [coords[1], coords[0], coords[3], coords[2]]
    return coords


def _kvp_boxes(http_request: Any, name: str) -> list[Box]:
    args = {key.lower(): value for key, value in http_request.args.items()}
    parsed = get_data_from_kvp(args.get("datainputs"), "DataInputs") or {}
    boxes: list[Box] = []
    for item in parsed.get(name, []):
        parts = [p.strip() for p in str(item.get("data", "")).split(",")]
        crs = item.get("crs") or (parts[4] if len(parts) > 4 and parts[4] else None)
        boxes.append(([float(p) for p in parts[:4]], crs))
    return boxes


def _xml_boxes(http_request: Any, name: str) -> list[Box]:
    tree = etree.fromstring(http_request.get_data(), _PARSER)
    boxes: list[Box] = []
    for node in tree.iterfind("wps:DataInputs/wps:Input", _NS):
        if node.findtext("ows:Identifier", namespaces=_NS) != name:
            continue
        box = node.find("wps:Data/wps:BoundingBoxData", _NS)
        if box is None:
            continue
        lower = (box.findtext("ows:LowerCorner", namespaces=_NS) or "").split()
        upper = (box.findtext("ows:UpperCorner", namespaces=_NS) or "").split()
        boxes.append(([float(v) for v in lower + upper], box.get("crs")))
    return boxes


def request_boxes(wps_request: Any, name: str) -> list[Box]:
    """The boxes given for input ``name`` as written in the request (corners, CRS);
    [] when they cannot be read back (then pywps' parsed values are used)."""
    http_request = getattr(wps_request, "http_request", None)
    if http_request is None:
        return []
    try:
        if http_request.method == "GET":
            return _kvp_boxes(http_request, name)
        return _xml_boxes(http_request, name)
    except (ValueError, etree.XMLSyntaxError):
        return []

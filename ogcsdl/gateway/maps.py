"""The ``/maps`` mount's edge: MapProxy's error answers made standard.

MapProxy 7 renders its exceptions itself, with statuses that do not say whose fault an
error was: every WMS 1.3.0 exception is a 500 (unknown layer, style, format or CRS, a
WIDTH of 100000, -1 or NaN), a request it cannot read at all is ``500 text/plain
"internal error: invalid request"`` (KVP sent to the WMTS REST base, ``..`` paths) and a
RESTful path that matches no route is ``404 text/plain`` echoing the path unescaped.

MapProxy knows the difference: a :class:`~mapproxy.exception.RequestError` is the
client's unless it says ``internal`` (a source failed). :func:`mark_client_errors` makes
each such answer carry :data:`~ogcsdl.gateway.edge.CLIENT_ERROR_HEADER`, and the gateway's
:class:`~ogcsdl.gateway.edge.ServiceEdge` turns it into a 4xx exception document in the
style :func:`maps_error_style` picks for the request (the header never leaves the edge).

Numbers MapProxy converts without checking (``int(float("NaN"))``, a negative WIDTH,
a BBOX of NaN or infinity, or one whose width overflows to infinity, an empty WIDTH, a
BGCOLOR that is no colour) raise inside it and come out as a bare 500, or worse as an
image: :func:`check_numbers` refuses them before MapProxy sees the request, for WMS and
for OGC API - Maps (``/ogcapi/collections/{id}/map``: ``bbox``, ``subset``, ``center``,
``width``/``height``, and ``crs``/``bbox-crs``/``subset-crs``/``center-crs`` PROJ does
not know). The dataset-level map (``/ogcapi/map``), which MapProxy offers only with
``default_dataset_layers`` configured, is a 404 (it was a 500 naming the setting).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from ogcsdl.config import Settings
from ogcsdl.errors import ErrorStyle, InvalidParameterValue, NotFound, coded_error
from ogcsdl.gateway.edge import CLIENT_ERROR_HEADER
from ogcsdl.wsgi import StartResponse, WSGIEnviron

MAX_IMAGE_SIDE = 16384
_IMAGE_REQUESTS = ("getmap", "getfeatureinfo", "getlegendgraphic")
_INTEGER = re.compile(r"^\d{1,9}$")
_COLOUR = re.compile(r"^(?:0x|#)?[0-9A-Fa-f]{6}(?:[0-9A-Fa-f]{2})?$")
_DATASET_MAP = re.compile(r"^/ogcapi/map(?:[./]|$)")
_SUBSET = re.compile(r"\(([^()]*:[^()]*)\)")  # Lat(59.2:59.3) -> "59.2:59.3"
# EPSG:n, CRS:n, AUTO2:n,..., and the URN/URI forms MapProxy reads.
_CRS = re.compile(
    r"^(?:(?:EPSG|CRS|AUTO2?):[\w.,-]{1,40}|urn:ogc:def:crs:[\w.:-]{1,60}|https?://www\.opengis\.net/def/crs/[\w./-]{1,60})$",
    re.I,
)


def mark_client_errors() -> None:
    """Tag every non-internal MapProxy RequestError answer as the client's fault."""
    from mapproxy.exception import RequestError  # imported with the maps service only

    if getattr(RequestError, "_ogcsdl_marked", False):
        return
    original = RequestError.render

    def render(self: Any) -> Any:
        response = original(self)
        if not self.internal:
            response.headers[CLIENT_ERROR_HEADER] = "1"
        return response

    RequestError.render = render
    RequestError._ogcsdl_marked = True


def maps_error_style(environ: WSGIEnviron) -> ErrorStyle:
    """The exception document a client of this path expects."""
    path = environ.get("PATH_INFO") or "/"
    params = {k.lower(): v for k, v in parse_qsl(environ.get("QUERY_STRING") or "")}
    if path.startswith("/ogcapi"):
        return "problem"
    if params.get("service", "").upper() == "WMTS" or path.startswith(
        ("/wmts", "/tms", "/tiles", "/kml")
    ):
        return "ows11"
    return "wms111" if params.get("version") == "1.1.1" else "wms13"


def _positive_int(params: dict[str, str], key: str, maximum: int) -> None:
    value = params.get(key)
    if value is None:
        return
    if not _INTEGER.match(value.strip()) or not 1 <= int(value) <= maximum:
        raise InvalidParameterValue(
            f"{key.upper()} must be a whole number from 1 to {maximum}", key.upper()
        )


def _check_extent(numbers: list[float], name: str) -> None:
    """Finite numbers whose spans are finite too: ``-1e308,...,1e308`` is finite, but its
    width is infinite, and MapProxy's pixel arithmetic turns that into NaN (a 500)."""
    if not all(math.isfinite(number) for number in numbers):
        raise InvalidParameterValue(f"{name} values must be finite numbers", name)
    half = len(numbers) // 2
    for low, high in zip(numbers[:half], numbers[half:], strict=True):
        if low >= high:
            raise InvalidParameterValue(f"{name} minimum must be below its maximum", name)
        if not math.isfinite(high - low):
            raise InvalidParameterValue(f"{name} is too large for any CRS", name)


def _bbox(text: str) -> None:
    parts = text.split(",")
    try:
        numbers = [float(part) for part in parts[:4]]
    except ValueError:
        numbers = []
    if len(parts) not in (4, 5) or len(numbers) != 4:
        raise InvalidParameterValue("BBOX must be four numbers: minx,miny,maxx,maxy", "BBOX")
    _check_extent(numbers, "BBOX")


def _bgcolor(params: dict[str, str]) -> None:
    value = params.get("bgcolor")
    if value is not None and not _COLOUR.match(value.strip()):
        raise InvalidParameterValue(
            f"BGCOLOR must be a colour written 0xRRGGBB, not {value!r}", "BGCOLOR"
        )


def check_numbers(environ: WSGIEnviron) -> None:
    """Refuse WMS image requests (and OGC API - Maps requests, :func:`check_ogcapi_map`)
    whose size, BBOX, colour or pixel position is not a value MapProxy can use (it would
    fail with a 500 or draw garbage)."""
    pairs = parse_qsl(environ.get("QUERY_STRING") or "", keep_blank_values=True)
    params = {k.lower(): v for k, v in pairs}
    path = environ.get("PATH_INFO") or ""
    if path.startswith("/ogcapi"):
        subsets = [value for key, value in pairs if key.lower() == "subset"]
        check_ogcapi_map(path, params, subsets)
        return
    if params.get("request", "").lower() not in _IMAGE_REQUESTS:
        return
    _bgcolor(params)
    for key in ("width", "height"):
        _positive_int(params, key, MAX_IMAGE_SIDE)
    for key in ("crs", "srs"):
        if key in params and not _CRS.match(params[key].strip()):
            raise coded_error(
                "InvalidCRS", f"{key.upper()} {params[key]!r} is not a CRS", key.upper()
            )
    if "bbox" in params:
        _bbox(params["bbox"])
    for key in ("i", "j", "x", "y"):
        value = params.get(key)
        if value is not None and not _INTEGER.match(value.strip()):
            raise InvalidParameterValue(f"{key.upper()} must be a pixel position", key.upper())


def _known_crs(value: str, name: str) -> None:
    from mapproxy.service.ogcapi.map import ogcapi_srs_to_srs  # with the maps service only

    try:
        ogcapi_srs_to_srs(value.strip())
    except Exception:  # noqa: BLE001 - MapProxy raises ValueError or PROJ's CRSError
        raise InvalidParameterValue(
            f"{name} {value!r} is not a CRS this service knows", name
        ) from None


def _numbers(text: str, name: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise InvalidParameterValue(f"{name} must be numbers separated by commas", name) from None


def check_ogcapi_map(path: str, params: dict[str, str], subsets: list[str]) -> None:
    """OGC API - Maps parameters MapProxy turns into a 500 (see the module docstring)."""
    if _DATASET_MAP.match(path):
        raise NotFound(
            "this service has no dataset map; each collection has its own: "
            "/maps/ogcapi/collections/{collectionId}/map"
        )
    for key in ("crs", "bbox-crs", "subset-crs", "center-crs"):
        if params.get(key):
            _known_crs(params[key], key)
    for key in ("width", "height"):
        if params.get(key):
            _positive_int(params, key, MAX_IMAGE_SIDE)
    if params.get("bbox"):
        numbers = _numbers(params["bbox"], "bbox")
        if len(numbers) not in (4, 6):
            raise InvalidParameterValue("bbox must be 4 or 6 numbers", "bbox")
        _check_extent(numbers, "bbox")
    if params.get("center"):
        numbers = _numbers(params["center"], "center")
        if len(numbers) != 2 or not all(map(math.isfinite, numbers)):
            raise InvalidParameterValue("center must be two finite numbers", "center")
    for axis in _SUBSET.findall(",".join(subsets)):
        _check_extent(_numbers(axis.replace(":", ","), "subset"), "subset")


class CheckedMaps:
    """The maps service behind :func:`check_numbers`."""

    def __init__(self, app: Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        check_numbers(environ)
        return self.app(environ, start_response)


def make_app(settings: Settings) -> CheckedMaps:
    """The maps service (``ogcsdl.tiles.app``) with MapProxy's errors marked and its
    numbers checked."""
    from ogcsdl.tiles.app import make_app as make_tiles_app

    mark_client_errors()
    return CheckedMaps(make_tiles_app(settings))

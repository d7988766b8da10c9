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
a BBOX of NaN or infinity) raise inside it and come out as a bare 500, or worse as an
image: :func:`check_numbers` refuses them before MapProxy sees the request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from ogcsdl.config import Settings
from ogcsdl.errors import ErrorStyle, InvalidParameterValue, coded_error
from ogcsdl.gateway.edge import CLIENT_ERROR_HEADER
from ogcsdl.wsgi import StartResponse, WSGIEnviron

MAX_IMAGE_SIDE = 16384
_IMAGE_REQUESTS = ("getmap", "getfeatureinfo", "getlegendgraphic")
_INTEGER = re.compile(r"^\d{1,9}$")
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


def _bbox(text: str) -> None:
    parts = text.split(",")
    try:
        numbers = [float(part) for part in parts[:4]]
    except ValueError:
        numbers = []
    if len(parts) not in (4, 5) or len(numbers) != 4:
        raise InvalidParameterValue("BBOX must be four numbers: minx,miny,maxx,maxy", "BBOX")
    if not all(math.isfinite(number) for number in numbers):
        raise InvalidParameterValue("BBOX values must be finite numbers", "BBOX")
    if numbers[0] >= numbers[2] or numbers[1] >= numbers[3]:
        raise InvalidParameterValue("BBOX minimum must be below its maximum", "BBOX")


def check_numbers(environ: WSGIEnviron) -> None:
    """Refuse WMS image requests whose size, BBOX or pixel position is not a number
    MapProxy can use (it would fail with a 500 or draw garbage)."""
    params = {k.lower(): v for k, v in parse_qsl(environ.get("QUERY_STRING") or "")}
    if params.get("request", "").lower() not in _IMAGE_REQUESTS:
        return
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

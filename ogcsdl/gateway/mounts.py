"""The services the gateway mounts: one line each.

``factory`` is ``"module:function"``; the function takes :class:`~ogcsdl.config.Settings`
and returns a WSGI application, which receives ``SCRIPT_NAME`` = prefix and
``PATH_INFO`` = the rest of the path. Factories are imported lazily, on first use, so a
broken service answers 503 without taking the gateway down.

``errors`` is the mount's exception style (``ogcsdl.errors.ErrorStyle``), or a function
choosing it per request: the gateway's edge (``edge.py``) renders every error of the
service in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ogcsdl.errors import ErrorStyle
from ogcsdl.gateway.maps import maps_error_style


@dataclass(frozen=True)
class Mount:
    prefix: str  # e.g. "/csw"
    factory: str  # "module:function" -> make_app(settings) -> WSGI application
    title: str
    standard: str  # what a client should expect there
    capabilities: str | None = None  # path + query below the prefix, shown on the landing page
    errors: ErrorStyle | Callable[[dict[str, Any]], ErrorStyle] = "ows11"


MOUNTS: list[Mount] = [
    Mount(
        "/csw",
        "ogcsdl.gateway.proxy:make_catalogue_proxy",
        "Catalogue",
        "OGC CSW 2.0.2 / 3.0, OpenSearch(-EO), OAI-PMH (pycsw)",
        "?service=CSW&version=2.0.2&request=GetCapabilities",
    ),
    Mount(
        "/stac",
        "ogcsdl.stac.app:make_app",
        "STAC API",
        "STAC API 1.0 / OGC API - Features (item search)",
        "/",
        errors="problem",
    ),
    Mount(
        "/records",
        "ogcsdl.catalogue.records_api:make_app",
        "OGC API - Records",
        "OGC API - Records (pygeoapi over the pycsw catalogue): the same records as CSW",
        "/collections/products/items?f=json",
        errors="problem",
    ),
    Mount(
        "/maps",
        "ogcsdl.gateway.maps:make_app",
        "Maps and tiles",
        "OGC WMTS 1.0.0 (KVP, REST), WMS 1.3.0, TMS, OGC API - Tiles / Maps (MapProxy)",
        "/wmts/1.0.0/WMTSCapabilities.xml",
        errors=maps_error_style,
    ),
    Mount(
        "/wcs",
        "ogcsdl.coverages.app:make_app",
        "Coverages",
        "OGC WCS 2.0.1 (KVP, XML/POST; CRS, scaling, range subsetting)",
        "?service=WCS&request=GetCapabilities",
        errors="ows20",
    ),
    Mount(
        "/coverages",
        "ogcsdl.coverages.ogcapi:make_app",
        "OGC API - Coverages",
        "OGC API - Coverages (pygeoapi, rasterio provider), one collection per product",
        "/collections?f=json",
        errors="problem",
    ),
    Mount(
        "/wps",
        "ogcsdl.processing.wps:make_app",
        "Processing (WPS)",
        "OGC WPS 1.0.0 (pywps)",
        "?service=WPS&request=GetCapabilities",
    ),
    Mount(
        "/ogcapi",
        "ogcsdl.processing.ogcapi:make_app",
        "Processing (OGC API)",
        "OGC API - Processes 1.0",
        "/processes",
        errors="problem",
    ),
]

# Extra entry points of mounted services shown on the landing page: (title, path).
EXTRA_LINKS: list[tuple[str, str]] = [
    ("CSW 3.0 capabilities", "/csw?service=CSW&version=3.0.0&request=GetCapabilities"),
    (
        "OpenSearch description",
        "/csw?mode=opensearch&service=CSW&version=3.0.0&request=GetCapabilities",
    ),
    ("OAI-PMH", "/csw?mode=oaipmh&verb=Identify"),
    ("WMS 1.3.0 capabilities", "/maps/service?service=WMS&version=1.3.0&request=GetCapabilities"),
    ("TMS", "/maps/tms/1.0.0/"),
    ("OGC API - Tiles / Maps", "/maps/ogcapi"),
]


def error_style(environ: dict[str, Any]) -> ErrorStyle:
    """The exception style of the mount a gateway request path goes to (OWS 1.1 for the
    gateway's own routes), for answers given before a mount is reached (access control)."""
    path = environ.get("PATH_INFO") or "/"
    for mount in sorted(MOUNTS, key=lambda m: len(m.prefix), reverse=True):
        if path == mount.prefix or path.startswith(mount.prefix + "/"):
            if callable(mount.errors):
                return mount.errors({**environ, "PATH_INFO": path[len(mount.prefix) :]})
            return mount.errors
    return "ows11"

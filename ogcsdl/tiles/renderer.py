"""The map renderer MapProxy draws from: WMS 1.3.0 GetMap over the product COGs.

LAYERS is a product identifier or a collection id. For a collection, TIME picks the
products acquired at that instant (or inside ``start/end``), default the latest; products
that overlap are mosaicked with rio-tiler. Reading, overview choice and reprojection are
rio-tiler's (``Reader.part`` with ``dst_crs``); nodata becomes transparent.

It runs as its own child process on loopback (see :func:`renderer_child`) so MapProxy
inside the gateway never waits on a gateway worker.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import requests
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rio_tiler.errors import EmptyMosaicError, TileOutsideBounds
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings
from ogcsdl.errors import (
    InvalidParameterValue,
    MissingParameterValue,
    NotFound,
    ServiceUnavailable,
)
from ogcsdl.gateway.edge import ServiceEdge
from ogcsdl.server.children import ChildSpec, gunicorn_argv
from ogcsdl.tiles.layers import CURRENT, instant, parse_time
from ogcsdl.tiles.readers import open_reader
from ogcsdl.tiles.styles import Style, resolve_style

LOG = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
MAX_SIZE = 4096
# MapProxy asks for uncompressed TIFF on loopback: it decodes the image and cuts it into
# tiles, which it encodes as PNG itself, so compressing here would be paid twice
# (encoding a 512x512 PNG costs ~25x an uncompressed TIFF). Clients asking this renderer
# directly get PNG.
FORMATS = {"image/png": "PNG", "image/tiff": "GTiff"}


@dataclass(frozen=True)
class GetMapRequest:
    layer: str
    style: str
    crs: CRS
    bbox: tuple[float, float, float, float]  # x/y order of the CRS's easting/northing
    width: int
    height: int
    time: str | None
    format: str = "image/png"


def _lat_first(crs_code: str) -> bool:
    axes = ProjCRS.from_user_input(crs_code).axis_info
    return bool(axes) and axes[0].direction in ("north", "south")


def parse_getmap(params: dict[str, str]) -> GetMapRequest:
    def need(key: str) -> str:
        value = params.get(key)
        if not value:
            raise MissingParameterValue(f"{key.upper()} is required", locator=key.upper())
        return value

    if params.get("request", "GetMap").lower() != "getmap":
        raise InvalidParameterValue("only GetMap is supported", locator="REQUEST")
    crs_code = params.get("crs") or need("srs")
    bbox, width_text, height_text = need("bbox"), need("width"), need("height")
    try:
        crs = CRS.from_user_input(crs_code)
    except CRSError:
        raise InvalidParameterValue(f"CRS {crs_code!r} is not known", locator="CRS") from None
    try:
        values = [float(v) for v in bbox.split(",")]
        width, height = int(width_text), int(height_text)
    except ValueError:
        raise InvalidParameterValue("BBOX, WIDTH and HEIGHT must be numbers", "BBOX") from None
    if len(values) != 4 or not (0 < width <= MAX_SIZE and 0 < height <= MAX_SIZE):
        raise InvalidParameterValue("BBOX needs 4 numbers, WIDTH/HEIGHT 1..4096", locator="BBOX")
    image_format = params.get("format", "image/png").split(";")[0].strip().lower()
    if image_format not in FORMATS:
        raise InvalidParameterValue(
            f"FORMAT {image_format!r} is not offered; use one of {', '.join(FORMATS)}", "FORMAT"
        )
    # WMS 1.3.0 gives BBOX in the CRS's axis order (lat/lon for EPSG:4326).
    if "crs" in params and _lat_first(crs_code):
        values = [values[1], values[0], values[3], values[2]]
    return GetMapRequest(
        layer=need("layers").split(",")[0],
        style=params.get("styles", "").split(",")[0],
        crs=crs,
        bbox=(values[0], values[1], values[2], values[3]),
        width=width,
        height=height,
        time=params.get("time") or None,
        format=image_format,
    )


def select_products(records: list[ProductRecord], time_value: str | None) -> list[ProductRecord]:
    """Products of a collection for a TIME value: an instant, a ``start/end`` range, or
    (None/"default"/"current") the latest acquisition. Newest first. Times compare as the
    layer model's instants (UTC, whole seconds), as the capabilities list them."""
    if not records:
        return []

    def start(record: ProductRecord) -> datetime:
        return instant(record.start)

    if time_value is None or time_value.lower() in ("", *CURRENT):
        latest = max(start(record) for record in records)
        chosen = [r for r in records if start(r) == latest]
    elif "/" in time_value:
        low, high = (parse_time(part) for part in time_value.split("/")[:2])
        chosen = [r for r in records if low <= start(r) <= high]
    else:
        wanted = parse_time(time_value)
        chosen = [r for r in records if start(r) == wanted]
    return sorted(chosen, key=start, reverse=True)


def _band_expression(style: Style, record: ProductRecord) -> tuple[list[int] | None, str | None]:
    """rio-tiler indexes or an expression with band names replaced by ``bN``."""
    names = record.band_names
    if style.palette is not None or not style.bands:
        return [1], None  # class masks and single-band ramps draw the first band
    if style.expression is None:
        return [names.index(band) + 1 for band in style.bands], None
    expression = style.expression
    for name in sorted(names, key=len, reverse=True):
        expression = re.sub(rf"\b{re.escape(name)}\b", f"b{names.index(name) + 1}", expression)
    return None, expression


def render_image(records: list[ProductRecord], request: GetMapRequest) -> bytes:
    """Mosaic the products (first wins) into a styled image in the requested format;
    empty means transparent."""
    style = resolve_style(records[0], request.style)

    def read(path: str, *_: Any, **__: Any) -> ImageData:
        record = next(r for r in records if r.file_path == path)
        indexes, expression = _band_expression(style, record)
        return open_reader(path).part(
            request.bbox,
            dst_crs=request.crs,
            bounds_crs=request.crs,
            indexes=indexes,
            expression=expression,
            width=request.width,
            height=request.height,
            max_size=None,
            resampling_method="bilinear" if style.palette is None else "nearest",
        )

    try:
        # threads=0: read in this thread, whose open readers are cached (readers.py);
        # first-wins mosaics stop reading once every pixel is filled.
        image, _ = mosaic_reader([r.file_path for r in records], read, threads=0)
    except (EmptyMosaicError, TileOutsideBounds):
        return transparent_image(request.width, request.height, request.format)
    colormap = style.colormap()
    if style.rescale:
        image.rescale(in_range=style.rescale)
    elif colormap is not None:
        image.array = np.ma.MaskedArray(image.array.astype("uint8"))
    return image.render(img_format=FORMATS[request.format], colormap=colormap)


def transparent_image(width: int, height: int, image_format: str = "image/png") -> bytes:
    empty = np.ma.masked_all((4, height, width), dtype="uint8")
    return ImageData(empty).render(img_format=FORMATS[image_format])


class RendererApp:
    """WSGI GetMap over the product store (re-read at most once a second)."""

    def __init__(self, store: ProductStore) -> None:
        self.store = store
        self._records: list[ProductRecord] = []
        self._loaded_at = 0.0
        self._stamp = ""

    def records(self, force: bool = False) -> list[ProductRecord]:
        """The product list, checked against the store at most once a second (or now,
        when ``force``) and re-read only when the store changed."""
        if force or time.monotonic() - self._loaded_at > 1.0:
            stamp = self.store.change_stamp()
            if stamp != self._stamp:
                self._records = self.store.list()
                self._stamp = stamp
            self._loaded_at = time.monotonic()
        return self._records

    def products_for(self, request: GetMapRequest) -> list[ProductRecord]:
        found = self._lookup(request, self.records())
        if found is None:
            # MapProxy may already list a product published within the last second:
            # look again in the store before calling the layer unknown.
            found = self._lookup(request, self.records(force=True))
        if found is None:
            raise NotFound(f"no layer {request.layer!r}", locator="LAYERS")
        return found

    @staticmethod
    def _lookup(request: GetMapRequest, records: list[ProductRecord]) -> list[ProductRecord] | None:
        by_id = [r for r in records if r.identifier == request.layer]
        if by_id:
            return by_id
        in_collection = [r for r in records if r.collection == request.layer]
        if not in_collection:
            return None
        return select_products(in_collection, request.time)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").rstrip("/").endswith("/health"):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        params = {k.lower(): v for k, v in parse_qsl(environ.get("QUERY_STRING", ""))}
        try:
            request = parse_getmap(params)
            products = self.products_for(request)
            if not products:
                body = transparent_image(request.width, request.height, request.format)
            else:
                try:
                    body = render_image(products, request)
                except KeyError:
                    raise InvalidParameterValue(
                        f"style {request.style!r} is not defined for {request.layer!r}",
                        locator="STYLES",
                    ) from None
            start_response("200 OK", [("Content-Type", request.format)])
            return [body]
        except Exception as exc:  # noqa: BLE001 - MapProxy, its client, reads a WMS exception
            return ServiceEdge.error(exc, "wms13", start_response)


def make_renderer(settings: Settings) -> RendererApp:
    return RendererApp(product_store(settings))


def renderer_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.render.port}/wms"


def renderer_child(settings: Settings) -> ChildSpec:
    """gunicorn serving the renderer on loopback (``settings.render``)."""
    return ChildSpec(
        name="renderer",
        argv=gunicorn_argv(
            sys.executable,
            f"127.0.0.1:{settings.render.port}",
            settings.render.workers,
            settings.server.timeout_s,
            "ogcsdl.tiles.wsgi:renderer_app()",
        ),
        ready_url=f"http://127.0.0.1:{settings.render.port}/health",
    )


def check_renderer(settings: Settings) -> None:
    """For /health: raise unless the renderer answers."""
    url = f"http://127.0.0.1:{settings.render.port}/health"
    try:
        response = requests.get(url, timeout=3)
    except requests.RequestException as exc:
        raise ServiceUnavailable(f"the tile renderer does not answer: {exc}") from None
    if response.status_code != 200:
        raise ServiceUnavailable(f"the tile renderer answered HTTP {response.status_code}")

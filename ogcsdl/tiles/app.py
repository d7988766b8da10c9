"""The ``/maps`` WSGI factory: MapProxy built from the layer model of the product store.

On a request (at most once a second per worker) the store's change stamp is compared
with the one the layer model was built from. A change rebuilds the model and, from it,
MapProxy (in memory, :func:`ogcsdl.tiles.mapproxy_config.mapproxy_app`) and removes the
cached tiles of every product that was re-ingested or deleted — its own layers and its
TIME slice of its collection layers. The removal is decided against a state file under a
file lock, so exactly one gunicorn worker removes each product's tiles.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from mapproxy.service import wmts as mapproxy_wmts
from mapproxy.service.ogcapi import map as mapproxy_ogcapi_map
from mapproxy.wsgiapp import MapProxyApp

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings
from ogcsdl.errors import coded_error
from ogcsdl.tiles.checks import (
    check_wms_getmap,
    check_wmts_gettile,
    check_wmts_rest_tile,
    rewrite_crs84,
)
from ogcsdl.tiles.layers import LayerModel, ProductEntry
from ogcsdl.tiles.mapproxy_config import cache_name, mapproxy_app
from ogcsdl.tiles.ows_styles import add_styles, is_capabilities, rewrite_request

StartResponse = Callable[..., Any]
SYNC_INTERVAL_S = 1.0
# A request naming a layer this worker does not know checks the store again at once
# (another worker may have listed it in its capabilities already), at most this often.
UNKNOWN_LAYER_RECHECK_S = 0.05
_UNDECLARED_DIMENSION = re.compile(r"(?i)^(?:elevation|dim_.*)$")


def named_layers(environ: dict[str, Any]) -> list[str]:
    """The layer names a request gives: WMS ``LAYERS``, WMTS ``LAYER``, the layer of a
    WMTS REST or TMS path."""
    params = {k.lower(): v for k, v in parse_qsl(environ.get("QUERY_STRING", ""))}
    names = [name for name in params.get("layers", "").split(",") if name]
    if params.get("layer"):
        names.append(params["layer"])
    parts = environ.get("PATH_INFO", "").split("/")
    if len(parts) > 3 and parts[1] == "wmts" and parts[2] != "1.0.0":
        names.append(parts[2])
    if len(parts) > 4 and parts[1] == "tms":  # /tms/1.0.0/{layer}_{grid}/...
        names.append(parts[3].rsplit("_", 1)[0])
    return names


def _patch_kvp_capabilities() -> None:
    """MapProxy 7.0.0's KVP WMTS capabilities template reads ``dimension_keys`` that only
    the RESTful context defines, so any layer with a TIME dimension breaks KVP
    GetCapabilities with a 500. Supply the same mapping (our only dimension is Time)."""
    original = mapproxy_wmts.Capabilities.template_context
    if getattr(mapproxy_wmts.Capabilities, "_ogcsdl_patched", False):
        return

    def template_context(self: Any) -> dict[str, Any]:
        context: dict[str, Any] = original(self)
        context.setdefault("dimension_keys", {"time": "Time"})
        return context

    mapproxy_wmts.Capabilities.template_context = template_context
    mapproxy_wmts.Capabilities._ogcsdl_patched = True


_patch_kvp_capabilities()


def _patch_ogcapi_map_clip() -> None:
    """MapProxy 7.0.0's OGC API map clips a request larger than the layer to the layer's
    extent (``bbox_position_in_image``) and, unlike its cache layer, never checks the
    clipped size: a small map of a wide box (``bbox=17,59,18,60&width=2&height=2`` over
    a 10 km product) clipped to 0 pixels and divided by zero (a 500). The layer's part
    of such a map is drawn as at least one pixel."""
    original = mapproxy_ogcapi_map.bbox_position_in_image
    if getattr(original, "_ogcsdl_patched", False):
        return

    def at_least_one_pixel(bbox: Any, size: Any, src_bbox: Any) -> Any:
        (width, height), offset, sub_bbox = original(bbox, size, src_bbox)
        return (max(1, width), max(1, height)), offset, sub_bbox

    at_least_one_pixel._ogcsdl_patched = True  # type: ignore[attr-defined]
    mapproxy_ogcapi_map.bbox_position_in_image = at_least_one_pixel


_patch_ogcapi_map_clip()


def _remove_time_slice(grid_dir: Path, time_value: str) -> None:
    # MapProxy names the slice after the request's parameter case (WMS "TIME-", WMTS "time-").
    wanted = f"time-{time_value}".lower()
    for child in grid_dir.iterdir() if grid_dir.is_dir() else ():
        if child.name.lower() == wanted:
            shutil.rmtree(child, ignore_errors=True)


def _remove_layer_cache(cache_root: Path, layer: str) -> None:
    """Drop a layer's tiles on every grid."""
    for grid_dir in cache_root.glob(f"{cache_name(layer)}_*"):
        shutil.rmtree(grid_dir, ignore_errors=True)


def _safe_name(name: str) -> bool:
    # Names become cache directory globs: never let one climb out of the cache.
    return bool(name) and "/" not in name and not name.startswith(".") and "*" not in name


def invalidate(settings: Settings, entry: ProductEntry) -> None:
    """Remove every cached tile a product contributed to."""
    cache_root = settings.cache_dir / "mapproxy"
    if not _safe_name(entry.collection):
        return
    for layer in filter(_safe_name, entry.layers):
        _remove_layer_cache(cache_root, layer)
    collection = entry.collection
    for grid_dir in cache_root.glob(f"{collection}*_cache_*"):
        layer = grid_dir.name.rsplit("_cache_", 1)[0]
        if layer == collection or layer.startswith(f"{collection}."):
            _remove_time_slice(grid_dir, entry.time)


def invalidate_changed(settings: Settings, model: LayerModel) -> None:
    """Drop the tiles of products changed or deleted since the last model any worker
    (or an earlier run) recorded in the state file."""
    settings.generated_dir.mkdir(parents=True, exist_ok=True)
    state_path = settings.generated_dir / "tiles-state.json"
    current = {identifier: asdict(entry) for identifier, entry in model.products.items()}
    with open(settings.generated_dir / "tiles-state.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous: dict[str, dict[str, Any]] = {}
        if state_path.exists():
            previous = json.loads(state_path.read_text())
        if json.loads(json.dumps(current)) == previous:
            return
        for identifier, entry in previous.items():
            if current.get(identifier, {}).get("updated") != entry["updated"]:
                invalidate(settings, ProductEntry(**{**entry, "layers": tuple(entry["layers"])}))
        scratch = state_path.with_suffix(".tmp")
        scratch.write_text(json.dumps(current))
        scratch.replace(state_path)


def check_queryable(params: dict[str, str], mapproxy: MapProxyApp) -> None:
    """A WMS GetFeatureInfo on a layer that is not queryable is ``LayerNotQueryable``
    (WMS 1.3.0 Table E.1, 1.1.1 Annex A.3); MapProxy raises it without a code, which
    the edge could only answer as InvalidParameterValue. An unknown one is
    ``LayerNotDefined`` (MapProxy checks LAYERS only, and failed on it with a 500).
    ``params``: the GetFeatureInfo's parameters, lower-case keys."""
    ows = mapproxy.handlers.get("service")  # MapProxy's OWSServer: one server per service
    wms = getattr(ows, "services", {}).get("wms")
    if wms is None:
        return
    for name in filter(None, params.get("query_layers", "").split(",")):
        layer = wms.layers.get(name)
        if layer is None:
            raise coded_error("LayerNotDefined", f"layer {name!r} is not defined", name)
        if not layer.queryable:
            raise coded_error("LayerNotQueryable", f"layer {name!r} is not queryable", name)


class MapsApp:
    """MapProxy plus the store check and the request checks MapProxy leaves out."""

    def __init__(self, settings: Settings, store: ProductStore | None = None) -> None:
        self.settings = settings
        self.store = store or product_store(settings)
        self._lock = threading.Lock()
        self._stamp: str | None = None
        self._checked_at = 0.0
        self._current: tuple[MapProxyApp, LayerModel]
        self.refresh(force=True)

    @property
    def model(self) -> LayerModel:
        return self._current[1]

    @property
    def mapproxy(self) -> MapProxyApp:
        return self._current[0]

    def refresh(self, force: bool = False, interval_s: float = SYNC_INTERVAL_S) -> None:
        """Rebuild the model and MapProxy when the store changed (checked at most every
        ``interval_s``; always with ``force``)."""
        if not force and time.monotonic() - self._checked_at < interval_s:
            return
        with self._lock:
            self._checked_at = time.monotonic()
            stamp = self.store.change_stamp()
            if stamp == self._stamp:
                return
            model = LayerModel.from_records(self.store.list())
            invalidate_changed(self.settings, model)
            # One assignment: a request in another thread sees the old pair or the new one.
            self._current = (mapproxy_app(self.settings, model), model)
            self._stamp = stamp

    def check(self, environ: dict[str, Any], model: LayerModel, mapproxy: MapProxyApp) -> None:
        """Refuse what MapProxy would answer with a 500; put TIME in canonical form; drop
        dimensions no layer declares (ELEVATION, DIM_*: WMS 1.3.0 C.4.1 ignores them).
        MapProxy made each value of those a cache directory of its own (a new tree of
        tiles rendered and kept per value: the disk filled one request at a time), and a
        value with a slash was a 500."""
        rest_path = check_wmts_rest_tile(environ.get("PATH_INFO", ""), model)
        if rest_path is not None:
            environ["PATH_INFO"] = rest_path
            return
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        params = {k.lower(): v for k, v in pairs}
        service = params.get("service", "").upper()
        request = params.get("request", "").lower()
        canonical: str | None = None
        if service == "WMTS" and request == "gettile":
            canonical = check_wmts_gettile(params, model)
        elif request == "getmap" and service in ("WMS", ""):
            canonical = check_wms_getmap(params, model)
        elif request == "getfeatureinfo" and service in ("WMS", ""):
            check_queryable(params, mapproxy)
        kept = [(k, v) for k, v in pairs if not _UNDECLARED_DIMENSION.match(k)]
        if canonical is not None and canonical != params.get("time"):
            kept = [(k, canonical if k.lower() == "time" else v) for k, v in kept]
        elif len(kept) == len(pairs):
            return
        environ["QUERY_STRING"] = urlencode(kept)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.refresh()
        if any(self.model.get(name) is None for name in named_layers(environ)):
            self.refresh(interval_s=UNKNOWN_LAYER_RECHECK_S)  # new since the last check?
        mapproxy, model = self._current
        rewrite_request(environ, model)
        rewrite_crs84(environ)
        self.check(environ, model, mapproxy)  # raises; the edge answers in the WMS/WMTS style
        if is_capabilities(environ):
            return self._capabilities_with_styles(mapproxy, model, environ, start_response)
        result: Iterable[bytes] = mapproxy(environ, start_response)
        return result

    @staticmethod
    def _capabilities_with_styles(
        mapproxy: MapProxyApp,
        model: LayerModel,
        environ: dict[str, Any],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda _data: None

        chunks = mapproxy(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if captured["status"].startswith("200"):
            body = add_styles(body, model)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


def make_app(settings: Settings) -> MapsApp:
    settings.ensure_dirs()
    return MapsApp(settings)

"""The ``/maps`` WSGI factory: MapProxy configured from the product store.

On a request (at most once a second per worker) the product store is compared with the
snapshot the configuration was generated from. A change regenerates ``mapproxy.yaml``
(MapProxy's reloader then picks it up) and removes the cached tiles of every product that
was re-ingested or deleted — its own layers and its TIME slice of its collection layers.
A file lock makes the check safe across gunicorn workers.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from mapproxy.service import wmts as mapproxy_wmts
from mapproxy.wsgiapp import make_wsgi_app

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings
from ogcsdl.tiles.checks import check_wms_time, check_wmts_gettile, layer_times, rewrite_crs84
from ogcsdl.tiles.mapproxy_config import cache_name, iso_time, layer_names, write_config
from ogcsdl.tiles.ows_styles import StyleIndex, add_styles, is_capabilities, rewrite_request

StartResponse = Callable[..., Any]
SYNC_INTERVAL_S = 1.0


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


def _snapshot(records: list[ProductRecord]) -> dict[str, dict[str, str]]:
    return {
        r.identifier: {
            "updated": r.updated.isoformat(),
            "collection": r.collection,
            "time": iso_time(r.start),
            "layers": ",".join(layer_names(r)),
        }
        for r in records
    }


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


def invalidate(settings: Settings, entry: dict[str, str]) -> None:
    """Remove every cached tile a product contributed to."""
    cache_root = settings.cache_dir / "mapproxy"
    if not _safe_name(entry["collection"]):
        return
    for layer in filter(_safe_name, entry["layers"].split(",")):
        _remove_layer_cache(cache_root, layer)
    collection = entry["collection"]
    for grid_dir in cache_root.glob(f"{collection}*_cache_*"):
        layer = grid_dir.name.rsplit("_cache_", 1)[0]
        if layer == collection or layer.startswith(f"{collection}."):
            _remove_time_slice(grid_dir, entry["time"])


def sync(settings: Settings, store: ProductStore | None = None) -> Path:
    """Bring ``mapproxy.yaml`` and the tile cache in line with the product store."""
    settings.generated_dir.mkdir(parents=True, exist_ok=True)
    state_path = settings.generated_dir / "mapproxy-state.json"
    config_path = settings.generated_dir / "mapproxy.yaml"
    stamp_path = settings.generated_dir / "mapproxy-stamp.txt"
    store = store or product_store(settings)
    with open(settings.generated_dir / "mapproxy.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = store.change_stamp()
        if config_path.exists() and stamp_path.exists() and stamp_path.read_text() == stamp:
            return config_path  # nothing changed: no need to read every record
        records = store.list()
        current = _snapshot(records)
        previous: dict[str, dict[str, str]] = {}
        if state_path.exists():
            previous = json.loads(state_path.read_text())
        if current != previous or not config_path.exists():
            for identifier, entry in previous.items():
                if current.get(identifier, {}).get("updated") != entry["updated"]:
                    invalidate(settings, entry)
            write_config(settings, records)
            state_path.write_text(json.dumps(current))
        stamp_path.write_text(stamp)
    return config_path


class MapsApp:
    """MapProxy plus the store check and the request checks MapProxy leaves out."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = product_store(settings)
        self.config_path = sync(settings, self.store)
        self.mapproxy = make_wsgi_app(str(self.config_path), reloader=True)
        self._synced_at = time.monotonic()
        self._config_mtime = 0.0
        self._layer_times: dict[str, set[str]] = {}
        self._styles = StyleIndex()

    def _refresh_indexes(self) -> None:
        mtime = self.config_path.stat().st_mtime
        if mtime != self._config_mtime:
            config = yaml.safe_load(self.config_path.read_text())
            self._layer_times = layer_times(config)
            self._styles = StyleIndex.from_config(config)
            self._config_mtime = mtime

    def check(self, environ: dict[str, Any]) -> None:
        """Raise an ``OgcsdlError`` for a request to refuse before MapProxy sees it
        (the gateway's edge renders it as the request's service expects)."""
        params = {k.lower(): v for k, v in parse_qsl(environ.get("QUERY_STRING", ""))}
        service = params.get("service", "").upper()
        request = params.get("request", "").lower()
        if service == "WMTS" and request == "gettile":
            check_wmts_gettile(params)
        elif request == "getmap" and service in ("WMS", ""):
            check_wms_time(params, self._layer_times)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if time.monotonic() - self._synced_at > SYNC_INTERVAL_S:
            sync(self.settings, self.store)
            self._synced_at = time.monotonic()
        self._refresh_indexes()
        rewrite_request(environ, self._styles)
        rewrite_crs84(environ)
        self.check(environ)
        if is_capabilities(environ):
            return self._capabilities_with_styles(environ, start_response)
        result: Iterable[bytes] = self.mapproxy(environ, start_response)
        return result

    def _capabilities_with_styles(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda _data: None

        chunks = self.mapproxy(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if captured["status"].startswith("200"):
            body = add_styles(body, self._styles)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


def make_app(settings: Settings) -> MapsApp:
    settings.ensure_dirs()
    return MapsApp(settings)

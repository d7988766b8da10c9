"""Test fixtures for the view services: small synthetic products (COG + record) and the
renderer, /maps, /wcs and /coverages served on loopback threads (also used by benchmarks).

Sentinel-2-like uint16 reflectance bands and Sentinel-1-like float32 dB bands, with a
nodata border so transparency is exercised. Values are deterministic per seed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import numpy as np
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from ogcsdl.catalogue.record import (
    SENTINEL1_GRD,
    SENTINEL2_L2A,
    Band,
    ProductRecord,
)
from ogcsdl.config import IngestSettings, Settings
from ogcsdl.ingest.writer import write_array_cog
from tests.ports import free_port

S2_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
S1_BANDS = ("VV", "VH")
ORIGIN = (600000.0, 6580000.0)  # EPSG:32633, near Stockholm


def write_cog(
    path: Path,
    data: np.ndarray,
    crs: str,
    transform: object,
    nodata: float,
    band_names: tuple[str, ...] = (),
) -> None:
    # Through the suite's one product writer, as ingest and published outputs are.
    write_array_cog(path, data, crs, transform, nodata, band_names, IngestSettings(blocksize=256))


def _record(
    identifier: str,
    collection: str,
    path: Path,
    bands: tuple[str, ...],
    start: datetime,
    crs: str,
    transform: object,
    size: int,
    dtype: str,
    nodata: float,
    resolution: float,
) -> ProductRecord:
    left, top = transform.c, transform.f  # type: ignore[attr-defined]
    bounds = (left, top - size * resolution, left + size * resolution, top)
    west, south, east, north = transform_bounds(crs, "EPSG:4326", *bounds)
    footprint = (
        f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},{west} {south}))"
    )
    return ProductRecord(
        identifier=identifier,
        title=identifier,
        collection=collection,
        start=start,
        end=start,
        footprint_wkt=footprint,
        bbox=(west, south, east, north),
        crs=crs,
        resolution=(resolution, resolution),
        width=size,
        height=size,
        bands=[Band(name) for name in bands],
        file_path=str(path),
        file_size=path.stat().st_size,
        dtype=dtype,
        nodata=nodata,
    )


def make_s2_product(
    directory: Path,
    identifier: str,
    start: datetime | None = None,
    size: int = 256,
    resolution: float = 20.0,
    seed: int = 0,
    offset: tuple[float, float] = (0.0, 0.0),
    collection: str = SENTINEL2_L2A,
) -> ProductRecord:
    """A Sentinel-2-like uint16 COG (B02..B12) with a 16-pixel nodata (0) border."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(200, 4000, size, dtype="float32")
    data = np.empty((len(S2_BANDS), size, size), dtype="uint16")
    for index in range(len(S2_BANDS)):
        noise = rng.integers(0, 400, (size, size))
        data[index] = (ramp[None, :] * (0.6 + 0.1 * index) + noise).astype("uint16") + 1
    data[:, :16, :] = 0
    transform = from_origin(ORIGIN[0] + offset[0], ORIGIN[1] + offset[1], resolution, resolution)
    path = directory / f"{identifier}.tif"
    write_cog(path, data, "EPSG:32633", transform, 0, S2_BANDS)
    start = start or datetime(2024, 6, 1, 10, 0, tzinfo=UTC) + timedelta(days=seed)
    return _record(
        identifier,
        collection,
        path,
        S2_BANDS,
        start,
        "EPSG:32633",
        transform,
        size,
        "uint16",
        0,
        resolution,
    )


def make_s1_product(
    directory: Path,
    identifier: str,
    start: datetime | None = None,
    size: int = 256,
    resolution: float = 20.0,
    seed: int = 0,
) -> ProductRecord:
    """A Sentinel-1-like float32 VV/VH COG in dB, nodata -9999 in the first 16 rows."""
    rng = np.random.default_rng(seed)
    vv = rng.normal(-12, 3, (size, size)).astype("float32")
    vh = (vv - 7 + rng.normal(0, 1, (size, size))).astype("float32")
    data = np.stack([vv, vh])
    data[:, :16, :] = -9999
    transform = from_origin(ORIGIN[0], ORIGIN[1], resolution, resolution)
    path = directory / f"{identifier}.tif"
    write_cog(path, data, "EPSG:32633", transform, -9999, S1_BANDS)
    start = start or datetime(2024, 6, 2, 5, 30, tzinfo=UTC) + timedelta(days=seed)
    return _record(
        identifier,
        SENTINEL1_GRD,
        path,
        S1_BANDS,
        start,
        "EPSG:32633",
        transform,
        size,
        "float32",
        -9999,
        resolution,
    )


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass


def serve_in_thread(app: Any, prefix: str = "", port: int = 0) -> tuple[str, WSGIServer]:
    """Serve a WSGI app on loopback in a daemon thread, mounted at ``prefix`` (as the
    gateway mounts it: SCRIPT_NAME=prefix). Returns (base URL, server)."""

    def mounted(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if prefix and path.startswith(prefix):
            environ["SCRIPT_NAME"] = prefix
            environ["PATH_INFO"] = path[len(prefix) :]
        return app(environ, start_response)

    server = make_server(
        "127.0.0.1", port, mounted, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


@dataclass
class ViewServices:
    """Renderer + /maps (+ /wcs once given) served on loopback threads over a tmp dir."""

    settings: Settings
    base_url: str
    servers: list[WSGIServer]

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def start_view_services(data_dir: Path, records: list[ProductRecord] | None = None) -> ViewServices:
    """Start the renderer and the /maps and /wcs apps the way the suite mounts them."""
    from ogcsdl.catalogue.factory import product_store
    from ogcsdl.config import load_settings
    from ogcsdl.gateway.app import Gateway
    from ogcsdl.gateway.mounts import MOUNTS
    from ogcsdl.schema import create_schema
    from ogcsdl.tiles.renderer import make_renderer

    render_port, public_port = free_port(), free_port()
    settings = load_settings(
        None,
        data_dir=str(data_dir),
        render={"port": render_port},
        public_url=f"http://127.0.0.1:{public_port}",
    )
    settings.ensure_dirs()
    create_schema(settings)
    store = product_store(settings)
    for record in records or []:
        store.upsert(record)
    _, renderer = serve_in_thread(make_renderer(settings), port=render_port)
    # The real gateway with only the view mounts: same edges, styles and error handling.
    views = [m for m in MOUNTS if m.prefix in ("/maps", "/wcs", "/coverages")]
    gateway = Gateway(settings, views)

    base_url, public = serve_in_thread(gateway, port=public_port)
    return ViewServices(settings, base_url, [renderer, public])

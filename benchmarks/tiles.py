"""Tile throughput of the suite (gateway -> MapProxy -> renderer child) against baselines
measured in the same run.

- cold: tiles/s through the suite with an empty cache vs rendering the same tiles in this
  process with rio-tiler (Reader.tile + rescale + PNG), both with the same concurrency;
- warm: tiles/s of the now-cached tiles through the suite vs the same PNG files served by
  Debian's nginx on loopback (Python's http.server when nginx is not installed).

The machine is shared, so suite and baseline alternate in chunks of tiles: a load change
hits both sides of a ratio alike.

Run: ``PYTHONPATH=$PWD .venv/bin/python -m benchmarks.tiles [--size 2048 --zoom 14]``
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from rio_tiler.io import Reader

from ogcsdl.catalogue.factory import product_store
from ogcsdl.tiles.layers import iso_time
from tests.live import run_suite
from tests.ports import free_port
from tests.view_fixtures import make_s2_product

NGINX_CONF = """
{user}
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ image/png png; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def mercator_tiles(bbox: tuple[float, float, float, float], zoom: int) -> list[tuple[int, int]]:
    west, south, east, north = bbox
    n = 2**zoom

    def tile(lon: float, lat: float) -> tuple[int, int]:
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return x, y

    x0, y0 = tile(west, north)
    x1, y1 = tile(east, south)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def timed(
    work: Callable[[tuple[int, int]], int], tiles: list[tuple[int, int]], workers: int
) -> float:
    """Seconds doing ``work`` on every tile with ``workers`` threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        sizes = list(pool.map(work, tiles))
    elapsed = time.perf_counter() - start
    assert all(size > 0 for size in sizes)
    return elapsed


def alternating(
    suite: Callable[[tuple[int, int]], int],
    baseline: Callable[[tuple[int, int]], int],
    tiles: list[tuple[int, int]],
    workers: int,
    chunk: int = 32,
) -> tuple[float, float]:
    """(suite, baseline) tiles/s, the two taking turns over chunks of ``tiles``."""
    suite_s = baseline_s = 0.0
    for start in range(0, len(tiles), chunk):
        part = tiles[start : start + chunk]
        baseline_s += timed(baseline, part, workers)
        suite_s += timed(suite, part, workers)
    return len(tiles) / suite_s, len(tiles) / baseline_s


def tile_path(cache: Path, zoom: int, tile: tuple[int, int]) -> Path:
    """Where MapProxy's ``tc`` layout keeps an XYZ tile (one TIME slice)."""
    x, y = tile
    (time_dir,) = cache.glob("time-*")
    parts = [f"{x // 1_000_000:03d}", f"{x // 1000 % 1000:03d}", f"{x % 1000:03d}"]
    parts += [f"{y // 1_000_000:03d}", f"{y // 1000 % 1000:03d}", f"{y % 1000:03d}.png"]
    return time_dir.joinpath(f"{zoom:02d}", *parts)


@contextmanager
def static_server(root: Path) -> Iterator[tuple[str, str]]:
    """(base URL, name) of nginx serving ``root`` on loopback; http.server without nginx."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        handler = functools.partial(_QuietFiles, directory=str(root))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", "http.server (no nginx)"
        finally:
            server.shutdown()
        return
    with tempfile.TemporaryDirectory() as prefix:
        port = free_port()
        # nginx's workers drop to "nobody" when started as root: keep root so they can
        # read the private temp directory the cache lives in.
        user = "user root;" if os.geteuid() == 0 else ""
        conf = Path(prefix) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, prefix=prefix, port=port, root=root))
        process = subprocess.Popen(
            [nginx, "-p", prefix, "-c", str(conf), "-g", "daemon off;"],
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    requests.get(url, timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.05)
            yield url, "nginx"
        finally:
            process.terminate()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="product width/height (px)")
    parser.add_argument("--zoom", type=int, default=14)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, run_suite(Path(tmp) / "suite") as suite:
        record = make_s2_product(
            suite.settings.cog_dir, "bench-tiles", size=args.size, resolution=10.0, seed=1
        )
        product_store(suite.settings).upsert(record)
        time.sleep(1.2)
        with Reader(record.file_path) as reader:
            tiles = [
                t
                for t in mercator_tiles(record.bbox, args.zoom)
                if reader.tile_exists(t[0], t[1], args.zoom)
            ]
        session = requests.Session()
        stamp = iso_time(record.start)
        base = suite.url(f"/maps/wmts/bench-tiles/default/GoogleMapsCompatible/{stamp}/{args.zoom}")

        def through_suite(tile: tuple[int, int]) -> int:
            response = session.get(f"{base}/{tile[0]}/{tile[1]}.png", timeout=120)
            response.raise_for_status()
            return len(response.content)

        def in_process(tile: tuple[int, int]) -> int:
            with Reader(record.file_path) as reader:
                image = reader.tile(tile[0], tile[1], args.zoom, indexes=(3, 2, 1))
            image.rescale(in_range=((0, 3000),) * 3)
            return len(image.render(img_format="PNG"))

        print(
            f"{len(tiles)} tiles at zoom {args.zoom} over a {args.size}^2 px COG, "
            f"{args.workers} concurrent requests"
        )
        cold, baseline_cold = alternating(through_suite, in_process, tiles, args.workers)
        print(
            f"cold: suite {cold:7.1f} tiles/s | in-process rio-tiler {baseline_cold:7.1f} tiles/s"
            f" | ratio {cold / baseline_cold:.2f}",
            flush=True,
        )

        cache = next((suite.settings.cache_dir / "mapproxy").glob("bench-tiles_cache_EPSG3857"))
        root = cache.parent
        missing = [tile for tile in tiles if not tile_path(cache, args.zoom, tile).exists()]
        assert not missing, (
            f"{len(missing)} tiles not in the cache, e.g. {tile_path(cache, args.zoom, missing[0])}"
            f" among {sorted(cache.rglob('*.png'))[:3]}"
        )
        with static_server(root) as (static_url, static_name):

            def from_static(tile: tuple[int, int]) -> int:
                path = tile_path(cache, args.zoom, tile).relative_to(root)
                response = session.get(f"{static_url}/{path}", timeout=60)
                response.raise_for_status()
                return len(response.content)

            warm, baseline_warm = alternating(through_suite, from_static, tiles, args.workers)

    print(
        f"warm: suite {warm:7.1f} tiles/s | {static_name:19s} {baseline_warm:7.1f} tiles/s"
        f" | ratio {warm / baseline_warm:.2f}"
    )


if __name__ == "__main__":
    main()

"""Tile throughput of the suite (gateway -> MapProxy -> renderer child) against baselines
measured in the same run.

- cold: tiles/s through the suite with an empty cache vs rendering the same tiles in this
  process with rio-tiler (Reader.tile + rescale + PNG), both with the same concurrency;
- warm: tiles/s of the now-cached tiles through the suite vs the same PNG files served
  statically (http.server) on loopback.

Run: ``PYTHONPATH=$PWD .venv/bin/python -m benchmarks.tiles [--size 2048 --zoom 14]``
"""

from __future__ import annotations

import argparse
import functools
import math
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from rio_tiler.io import Reader

from ogcsdl.catalogue.factory import product_store
from ogcsdl.tiles.layers import iso_time
from tests.live import run_suite
from tests.view_fixtures import make_s2_product


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
    """Tiles per second doing ``work`` on every tile with ``workers`` threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        sizes = list(pool.map(work, tiles))
    elapsed = time.perf_counter() - start
    assert all(size > 0 for size in sizes)
    return len(tiles) / elapsed


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
        baseline_cold = timed(in_process, tiles, args.workers)
        cold = timed(through_suite, tiles, args.workers)
        warm = timed(through_suite, tiles, args.workers)

        cache = next((suite.settings.cache_dir / "mapproxy").glob("bench-tiles_cache_EPSG3857"))
        handler = functools.partial(_QuietFiles, directory=str(cache))
        static = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=static.serve_forever, daemon=True).start()
        files = sorted(p.relative_to(cache) for p in cache.glob(f"*/{args.zoom:02d}/**/*.png"))
        static_url = f"http://127.0.0.1:{static.server_port}"

        def from_static(index_tile: tuple[int, int]) -> int:
            response = session.get(f"{static_url}/{files[index_tile[0]]}", timeout=60)
            response.raise_for_status()
            return len(response.content)

        static_jobs = [(i, 0) for i in range(len(files))]
        baseline_warm = timed(from_static, static_jobs, args.workers)
        static.shutdown()

    print(
        f"cold: suite {cold:7.1f} tiles/s | in-process rio-tiler {baseline_cold:7.1f} tiles/s"
        f" | ratio {cold / baseline_cold:.2f}"
    )
    print(
        f"warm: suite {warm:7.1f} tiles/s | static files        {baseline_warm:7.1f} tiles/s"
        f" | ratio {warm / baseline_warm:.2f} ({len(files)} cached files)"
    )


if __name__ == "__main__":
    main()

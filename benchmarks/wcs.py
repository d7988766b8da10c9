"""WCS GetCoverage of a 2048x2048 subset through the suite vs a direct rasterio window
read + GeoTIFF (COG, deflate) write of the same window, measured in the same run.

Run: ``PYTHONPATH=$PWD .venv/bin/python -m benchmarks.wcs [--size 3072 --repeat 3]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import requests
from rasterio.io import MemoryFile
from rasterio.windows import Window

from ogcsdl.catalogue.factory import product_store
from tests.live import run_suite
from tests.view_fixtures import make_s2_product

SUBSET = 2048


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3072, help="product width/height (px)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, run_suite(Path(tmp) / "suite") as suite:
        record = make_s2_product(
            suite.settings.cog_dir, "bench-wcs", size=args.size, resolution=10.0, seed=2
        )
        product_store(suite.settings).upsert(record)
        offset = (args.size - SUBSET) // 2
        window = Window(offset, offset, SUBSET, SUBSET)
        with rasterio.open(record.file_path) as source:
            left, bottom, right, top = rasterio.windows.bounds(window, source.transform)
        params = [
            ("SERVICE", "WCS"),
            ("VERSION", "2.0.1"),
            ("REQUEST", "GetCoverage"),
            ("COVERAGEID", "bench-wcs"),
            ("FORMAT", "image/tiff"),
            ("SUBSET", f"E({left},{right})"),
            ("SUBSET", f"N({bottom},{top})"),
        ]
        session = requests.Session()

        def through_wcs() -> bytes:
            response = session.get(suite.url("/wcs"), params=params, timeout=600)
            response.raise_for_status()
            return response.content

        def direct() -> bytes:
            with rasterio.open(record.file_path) as source:
                data = source.read(window=window)
                profile = {
                    "driver": "COG",
                    "count": source.count,
                    "width": SUBSET,
                    "height": SUBSET,
                    "dtype": data.dtype.name,
                    "crs": source.crs,
                    "nodata": source.nodata,
                    "transform": source.window_transform(window),
                    "compress": "deflate",
                }
            with MemoryFile() as memory:
                with memory.open(**profile) as dst:
                    dst.write(data)
                return bytes(memory.read())

        def best(work: object) -> tuple[float, bytes]:
            times, body = [], b""
            for _ in range(args.repeat):
                start = time.perf_counter()
                body = work()  # type: ignore[operator]
                times.append(time.perf_counter() - start)
            return statistics.median(times), body

        baseline_s, direct_body = best(direct)
        wcs_s, wcs_body = best(through_wcs)
        with MemoryFile(wcs_body) as a, MemoryFile(direct_body) as b:
            with a.open() as got, b.open() as expected:
                identical = np.array_equal(got.read(), expected.read())
    megabytes = SUBSET * SUBSET * 6 * 2 / 1e6
    print(
        f"GetCoverage {SUBSET}x{SUBSET} x 6 bands uint16 ({megabytes:.0f} MB raw), "
        f"median of {args.repeat}; pixels identical: {identical}"
    )
    print(
        f"WCS through the suite {wcs_s:6.2f} s | rasterio window + COG write {baseline_s:6.2f} s"
        f" | ratio (time) {wcs_s / baseline_s:.2f}"
    )


if __name__ == "__main__":
    main()

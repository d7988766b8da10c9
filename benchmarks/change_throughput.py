"""Throughput of change detection (features + LightGBM prediction, and classic CVA) on a
synthetic 2048 x 2048 pair of 6-band images, dask-chunked as the job system reads a
large input (1024 px chunks), on the threaded scheduler.

    .venv/bin/python -m benchmarks.change_throughput [--size 2048]

Prints Mpx/s (wall, and per CPU-second) of each method and the learned/CVA ratio
measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr
from affine import Affine

from processes.base import Raster
from processes.change_detection import ChangeDetection
from processes.change_model import shipped_model
from processes.validation import validate_inputs

S2_SIX = ["B02", "B03", "B04", "B08", "B11", "B12"]


class Context:
    def progress(self, percent: float, message: str = "") -> None:
        pass


def pair(size: int) -> tuple[Raster, Raster]:
    rng = np.random.default_rng(0)
    fields = np.kron(rng.random((size // 32 + 1, size // 32 + 1)), np.ones((32, 32)))[:size, :size]
    base = np.array([500, 800, 600, 3000, 2000, 1200], np.float32)[:, None, None]
    before = (base * (0.7 + 0.6 * fields) + rng.normal(0, 50, (6, size, size))).astype(np.uint16)
    after = (before * 1.05 + rng.normal(0, 50, before.shape)).clip(1, None).astype(np.uint16)
    for _ in range(50):  # new buildings
        r, c = rng.integers(0, size - 40, 2)
        after[:, r : r + 30, c : c + 30] = 2500
    transform = Affine(10, 0, 500000, 0, -10, 6500000)

    def raster(values: np.ndarray) -> Raster:
        data = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": S2_SIX})
        return Raster(data.chunk({"band": 1, "y": 1024, "x": 1024}), "EPSG:32633", transform, 0)

    return raster(before), raster(after)


def timed(method: str, before: Raster, after: Raster) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process: robust on a shared machine)."""
    processor = ChangeDetection()
    raw = {"before": before, "after": after, "method": method}
    start, cpu = time.perf_counter(), time.process_time()
    processor.run(validate_inputs(processor.description, raw), Context())
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2048)
    size = parser.parse_args().size
    before, after = pair(size)
    shipped_model()  # loading the model once per process is not part of the figure
    mpx = size * size / 1e6
    cva, cva_cpu = timed("cva", before, after)
    learned, learned_cpu = timed("learned", before, after)
    print(f"{size} x {size} ({mpx:.1f} Mpx), dask threaded scheduler, 1024 px chunks")
    for name, wall, cpu in (("cva", cva, cva_cpu), ("learned", learned, learned_cpu)):
        print(
            f"  {name:<8} wall {wall:6.1f} s = {mpx / wall:5.2f} Mpx/s; "
            f"CPU {cpu:6.1f} s = {mpx / cpu:5.2f} Mpx per CPU-second"
        )
    print(f"  learned / cva: wall {learned / cva:.1f}x, CPU {learned_cpu / cva_cpu:.1f}x")


if __name__ == "__main__":
    main()

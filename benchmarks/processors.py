"""Time and peak memory of cloud-mask (rules), flood-mapping and change-detection on a
full Sentinel-2-tile sized raster (10980 x 10980, lazily generated, dask-chunked), against a baseline
measured in the same run: the same processor on one in-memory numpy block, scaled by the
pixel count. Each case runs in its own process so its peak RSS is its own.

    PYTHONPATH=$PWD /work/main/.venv/bin/python benchmarks/processors.py [--size 10980] [--only change]

Prints time ratio (chunked full tile / scaled in-memory block; both include generating
the synthetic scene) and peak RSS against the size the full input would take in memory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr
from affine import Affine

S2_SIX = ["B02", "B03", "B04", "B08", "B11", "B12"]
VEGETATION = np.array([500, 800, 500, 3500, 1800, 900], dtype=np.float32)
CLOUD = np.array([5500, 5200, 5000, 5000, 4500, 3500], dtype=np.float32)
SHADOW = np.array([300, 300, 200, 800, 500, 300], dtype=np.float32)


class Context:
    def progress(self, percent: float, message: str = "") -> None:
        pass


def optical_block(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """Vegetation with noise, a few round clouds and their shadows (uint16 DN)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    img = VEGETATION[:, None, None] + 40 * rng.standard_normal((6, h, w), dtype=np.float32)
    yy, xx = np.ogrid[:h, :w]
    for _ in range(3):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(20, 120)
        img[:, (yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = CLOUD[:, None]
        img[:, (yy - cy - r - 30) ** 2 + (xx - cx - 20) ** 2 < r * r] = SHADOW[:, None]
    return img.clip(1, 65535).astype(np.uint16)


def sar_block(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """VV/VH dB: land around -8/-15 dB with some dark (water) patches."""
    rng = np.random.default_rng(seed)
    h, w = shape
    img = np.stack([-8 + rng.normal(0, 1.5, (h, w)), -15 + rng.normal(0, 1.5, (h, w))]).astype(
        np.float32
    )
    yy, xx = np.ogrid[:h, :w]
    for _ in range(4):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(30, 200)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        img[0][inside], img[1][inside] = -21.0, -27.0
    return img


def lazy(kind: str, size: int, chunk: int, seed: int = 0) -> dsa.Array:
    bands = 6 if kind == "optical" else 2
    dtype = np.uint16 if kind == "optical" else np.float32
    make = optical_block if kind == "optical" else sar_block

    def fill(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        location = block_info[None]["chunk-location"]
        return make(seed + location[1] * 1000 + location[2], block.shape[1:])

    template = dsa.empty((bands, size, size), chunks=(bands, chunk, chunk), dtype=dtype)
    return template.map_blocks(fill, dtype=dtype)


def run_case(case: str, size: int, chunk: int, queue: Any) -> None:
    from processes.base import Raster
    from processes.change_detection import ChangeDetection
    from processes.cloud_mask import CloudMask
    from processes.flood_mapping import FloodMapping
    from processes.registry import validate_inputs

    dask.config.set(scheduler="threads", num_workers=2)
    process, mode = case.split("-")
    kind = "sar" if process == "flood" else "optical"

    def image(seed: int) -> Raster:
        if mode == "numpy":
            values: Any = (optical_block if kind == "optical" else sar_block)(
                7 + seed, (size, size)
            )
        else:
            values = lazy(kind, size, chunk, seed)
        names = S2_SIX if kind == "optical" else ["VV", "VH"]
        return Raster(
            xr.DataArray(values, dims=("band", "y", "x"), coords={"band": names}),
            "EPSG:32633",
            Affine(10, 0, 600000, 0, -10, 6600000),
            nodata=0 if kind == "optical" else None,
        )

    start = time.perf_counter()  # both cases include making the synthetic data
    processor: Any
    if process == "cloud":
        processor, raw, key = CloudMask(), {"product": image(0), "method": "rules"}, "cloud_cover"
    elif process == "flood":
        processor, raw, key = FloodMapping(), {"s1": image(0)}, "water_area"
    else:
        processor, raw = ChangeDetection(), {"before": image(0), "after": image(500_000)}
        key = "changed_area"
    out = processor.run(validate_inputs(processor.description, raw), Context())
    elapsed = time.perf_counter() - start
    queue.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, out[key]))


def measure(case: str, size: int, chunk: int) -> tuple[float, float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=run_case, args=(case, size, chunk, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10980, help="full raster side (pixels)")
    parser.add_argument("--chunk", type=int, default=2048, help="dask chunk side")
    parser.add_argument("--block", type=int, default=2048, help="in-memory baseline block side")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=("cloud", "flood", "change"),
        help="cases to run (default: all)",
    )
    args = parser.parse_args()
    scale = (args.size / args.block) ** 2
    cases = (
        ("cloud", "cloud-mask (rules)", 6, 2),
        ("flood", "flood-mapping (S1)", 2, 4),
        ("change", "change-detection (optical, 2 dates)", 12, 2),
    )
    for prefix, name, bands, itemsize in cases:
        if args.only and prefix not in args.only:
            continue
        # the machine is shared: take the faster of a baseline before and one after
        first = measure(f"{prefix}-numpy", args.block, args.chunk)
        full_t, full_rss, summary = measure(f"{prefix}-dask", args.size, args.chunk)
        base_t, base_rss, _ = min(first, measure(f"{prefix}-numpy", args.block, args.chunk))
        input_gib = bands * args.size**2 * itemsize / 1024**3
        float_gib = bands * args.size**2 * 4 / 1024**3
        print(
            f"{name}: {args.size}x{args.size} chunked {full_t:.1f} s, peak RSS {full_rss:.2f} GiB "
            f"(input {input_gib:.2f} GiB as stored, {float_gib:.2f} GiB as float32); "
            f"in-memory {args.block}x{args.block} block {base_t:.2f} s, peak {base_rss:.2f} GiB, "
            f"scaled x{scale:.1f} = {base_t * scale:.1f} s; time ratio {full_t / (base_t * scale):.2f}; "
            f"result {summary:.3f}"
        )


if __name__ == "__main__":
    main()

"""CPU cost of the learned processors with compiled (lleaves) against plain LightGBM
prediction, in one process, on the synthetic scenes of :mod:`benchmarks.processors` in
1024 px chunks (as a job reads them), and whether both give the same outputs.

    nice -n 10 .venv/bin/python -m benchmarks.compiled_trees [--size 3072] [--only change cloud]

CPU seconds (dask's synchronous scheduler: one thread) hold on a busy shared machine where
wall times say more about the neighbours. The compiled models come from the disk cache
(the first run on a machine compiles them once, outside the timed runs).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import dask
import numpy as np
import xarray as xr
from affine import Affine

from benchmarks.processors import S2_SIX, optical_block
from processes import compiled_trees
from processes.base import Raster
from processes.change_detection import ChangeDetection
from processes.cloud_mask import CloudMask
from processes.registry import validate_inputs

CHUNK = 1024


class _Context:
    def progress(self, percent: float, message: str = "") -> None:
        pass


def scene(size: int, seed: int) -> Raster:
    rows = [
        np.concatenate(
            [
                optical_block(seed + r * 7 + c, (min(CHUNK, size - r), min(CHUNK, size - c)))
                for c in range(0, size, CHUNK)
            ],
            axis=2,
        )
        for r in range(0, size, CHUNK)
    ]
    data = xr.DataArray(
        np.concatenate(rows, axis=1), dims=("band", "y", "x"), coords={"band": S2_SIX}
    ).chunk({"band": -1, "y": CHUNK, "x": CHUNK})
    return Raster(data, "EPSG:32633", Affine(10, 0, 600000, 0, -10, 6600000), nodata=0)


def run(processor: Any, inputs: dict[str, Any], compiled: bool) -> tuple[float, dict[str, Any]]:
    original = compiled_trees.available
    compiled_trees.available = (lambda: True) if compiled else (lambda: False)  # type: ignore[method-assign]
    try:
        started = time.process_time()
        outputs = processor.run(validate_inputs(processor.description, inputs), _Context())
        return time.process_time() - started, outputs
    finally:
        compiled_trees.available = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=3072)
    parser.add_argument("--only", nargs="*", choices=("change", "cloud"))
    args = parser.parse_args()
    if not compiled_trees.available():
        raise SystemExit("lleaves cannot be imported: nothing to compare")
    dask.config.set(scheduler="synchronous")
    after = scene(args.size, 0)
    cases = {
        "change": (ChangeDetection(), {"before": scene(args.size, 500_000), "after": after}),
        "cloud": (CloudMask(), {"product": after}),
    }
    for name, (processor, inputs) in cases.items():
        if args.only and name not in args.only:
            continue
        run(processor, inputs, True)  # compiles (or loads) the models, warms imports
        plain, expected = run(processor, inputs, False)
        fast, got = run(processor, inputs, True)
        same = all(
            np.array_equal(
                np.asarray(expected[key].data.values), np.asarray(got[key].data.values), True
            )
            for key in expected
            if hasattr(expected[key], "data")
        )
        print(
            f"{name:7s} {args.size}^2: LightGBM {plain:6.1f} CPU s, compiled {fast:6.1f} CPU s "
            f"({plain / fast:.2f}x), outputs identical: {same}",
            flush=True,
        )


if __name__ == "__main__":
    main()

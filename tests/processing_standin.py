"""Test-only processors, added to the real registry through its dotted-path extras
(``processing.extra_processors``): ``slow`` (for dismiss and restart), ``blocks`` (a
dask graph computed on the job's cluster), ``scale`` (a
raster in, a raster out) and ``difference`` (two rasters that must share a grid)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
from affine import Affine

from processes.base import (
    LiteralInput,
    LiteralOutput,
    ProcessContext,
    ProcessDescription,
    Raster,
    RasterInput,
    RasterOutput,
    hand_over,
)
from processes.blocks import compute
from processes.errors import ProcessInputError


class Slow:
    description = ProcessDescription(
        id="slow",
        version="1.0.0",
        title="Slow",
        abstract="Counts seconds, reporting progress each step.",
        inputs=(LiteralInput("seconds", "Seconds", "float", default=30.0, min_occurs=0),),
        outputs=(LiteralOutput("steps", "Steps", "integer"),),
    )

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        steps = int(inputs.get("seconds", 30.0) * 10)
        for step in range(steps):
            context.progress(100 * step / steps, f"step {step}")
            time.sleep(0.1)
        return {"steps": steps}


class Scale:
    description = ProcessDescription(
        id="scale",
        version="2.1.0",
        title="Scale",
        abstract="Multiplies a raster by a factor.",
        inputs=(
            RasterInput("image", "Image"),
            LiteralInput("factor", "Factor", "float", default=2.0, min_occurs=0),
        ),
        outputs=(RasterOutput("scaled", "Scaled image", collection="scaled"),),
    )

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        image: Raster = inputs["image"]
        scaled = (image.data.astype("float32") * inputs.get("factor", 2.0)).astype("float32")
        return {
            "scaled": Raster(
                scaled, image.crs, image.transform, None, image.source_ids, dict(image.metadata)
            )
        }


class Difference:
    description = ProcessDescription(
        id="difference",
        version="1.0.0",
        title="Difference",
        abstract="after - before, on one grid.",
        inputs=(RasterInput("before", "Before"), RasterInput("after", "After")),
        outputs=(RasterOutput("difference", "Difference", collection="difference"),),
    )

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        before: Raster = inputs["before"]
        after: Raster = inputs["after"]
        if (
            before.crs != after.crs
            or before.transform != after.transform
            or before.data.shape != after.data.shape
        ):
            raise ProcessInputError("the grids of 'before' and 'after' do not overlap", "after")
        diff = after.data.astype("float32") - before.data.astype("float32")
        return {
            "difference": Raster(
                diff, after.crs, after.transform, None, before.source_ids + after.source_ids
            )
        }


class Pair:
    """Two raster outputs of random noise (``size`` pixels square); with ``fail_second``
    the second output is not a raster, so the job fails after its first output. With
    ``early`` the first is handed over (written) before ``run`` returns; ``swap`` then
    returns another object for it than the one handed over."""

    description = ProcessDescription(
        id="pair",
        version="1.0.0",
        title="Pair",
        abstract="Two noise rasters.",
        inputs=(
            LiteralInput("size", "Size", "integer", default=64, min_occurs=0),
            LiteralInput("fail_second", "Fail second", "boolean", default=False, min_occurs=0),
            LiteralInput("early", "Hand over first", "boolean", default=False, min_occurs=0),
            LiteralInput("swap", "Swap first", "boolean", default=False, min_occurs=0),
        ),
        outputs=(
            RasterOutput("first", "First", collection="pair"),
            RasterOutput("second", "Second", collection="pair"),
        ),
    )

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        size = int(inputs.get("size", 64))
        noise = np.random.default_rng(0).random((1, size, size), dtype="float32")
        data = xr.DataArray(noise, dims=("band", "y", "x"), coords={"band": ["noise"]})
        first = Raster(data, "EPSG:32633", Affine(10, 0, 600000, 0, -10, 6580000))
        second: Any = "not a raster" if inputs.get("fail_second") else first
        if inputs.get("early"):
            hand_over(context, "first", first)
        if inputs.get("swap"):
            first = Raster(data.copy(), first.crs, first.transform)
        return {"first": first, "second": second}


def _slow_block(block: np.ndarray, seconds: float) -> np.ndarray:
    time.sleep(seconds)
    return block


class Blocks:
    """A dask graph of slow blocks computed on the job's cluster (as the processors do
    for full tiles), reporting progress as blocks complete."""

    description = ProcessDescription(
        id="blocks",
        version="1.0.0",
        title="Blocks",
        abstract="Computes slow blocks on the job's cluster.",
        inputs=(
            LiteralInput("blocks", "Blocks", "integer", default=20, min_occurs=0),
            LiteralInput("seconds", "Seconds per block", "float", default=0.05, min_occurs=0),
        ),
        outputs=(LiteralOutput("total", "Sum of all pixels", "float"),),
    )

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        n, seconds = int(inputs.get("blocks", 20)), float(inputs.get("seconds", 0.05))
        data = dsa.ones((n * 4, 4), chunks=4).map_blocks(_slow_block, seconds, dtype=float)
        (values,) = compute(context, 5, 95, "blocks", data)
        return {"total": float(values.sum())}


EXTRA = [
    "tests.processing_standin:Blocks",
    "tests.processing_standin:Pair",
    "tests.processing_standin:Slow",
    "tests.processing_standin:Scale",
    "tests.processing_standin:Difference",
]

"""A stand-in process registry for the processing tests, with the API of
``processes.registry`` (load_registry / get_processor / validate_inputs). Test-only:
``echo``, ``slow`` (for dismiss) and ``scale`` (a raster in, a raster out)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ogcsdl.errors import InvalidParameterValue, MissingParameterValue, NotFound
from processes.base import (
    BoundingBoxInput,
    ComplexInput,
    ComplexOutput,
    LiteralInput,
    LiteralOutput,
    ProcessContext,
    ProcessDescription,
    Raster,
    RasterInput,
    RasterOutput,
)


class NoSuchProcess(NotFound):
    code = "NoSuchProcess"


class Echo:
    description = ProcessDescription(
        id="echo",
        version="1.0.0",
        title="Echo",
        abstract="Returns its inputs.",
        inputs=(
            LiteralInput("message", "Message", "string"),
            LiteralInput(
                "times", "Repeat", "integer", default=1, min_occurs=0, minimum=1, maximum=10
            ),
            ComplexInput("document", "Document", ("application/json",), min_occurs=0),
            BoundingBoxInput("area", "Area", crs=("EPSG:4326",), min_occurs=0),
        ),
        outputs=(
            LiteralOutput("message", "Message", "string"),
            ComplexOutput("document", "Document", ("application/json",)),
        ),
    )

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        context.progress(50, "echoing")
        area = inputs.get("area")
        document = {
            "document": inputs.get("document"),
            "area": None if area is None else [area.minx, area.miny, area.maxx, area.maxy],
        }
        return {
            "message": " ".join([inputs["message"]] * inputs.get("times", 1)),
            "document": document,
        }


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
            raise InvalidParameterValue("the grids of 'before' and 'after' do not overlap", "after")
        diff = after.data.astype("float32") - before.data.astype("float32")
        return {
            "difference": Raster(
                diff, after.crs, after.transform, None, before.source_ids + after.source_ids
            )
        }


def load_registry(extra: list[str] = []) -> dict[str, Any]:  # noqa: B006 - the registry's API
    return {p.description.id: p for p in (Echo(), Slow(), Scale(), Difference())}


def get_processor(registry: dict[str, Any], process_id: str) -> Any:
    if process_id not in registry:
        raise NoSuchProcess(f"no process {process_id!r}", "identifier")
    return registry[process_id]


_TYPES = {"string": str, "integer": int, "float": float, "boolean": bool}


def validate_inputs(description: ProcessDescription, raw_inputs: dict[str, Any]) -> dict[str, Any]:
    validated: dict[str, Any] = {}
    for item in description.inputs:
        if not isinstance(item, LiteralInput):
            continue
        if item.id not in raw_inputs:
            if item.min_occurs > 0:
                raise MissingParameterValue(f"input {item.id!r} is required", item.id)
            if item.default is not None:
                validated[item.id] = item.default
            continue
        try:
            value = _TYPES[item.data_type](raw_inputs[item.id])
        except (TypeError, ValueError):
            raise InvalidParameterValue(
                f"input {item.id!r} must be a {item.data_type}", item.id
            ) from None
        if (item.minimum is not None and value < item.minimum) or (
            item.maximum is not None and value > item.maximum
        ):
            raise InvalidParameterValue(f"input {item.id!r} is out of range", item.id)
        validated[item.id] = value
    return validated

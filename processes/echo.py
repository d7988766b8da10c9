"""``echo``: returns its literal, complex and bounding-box inputs unchanged (the OGC API -
Processes and WPS test suites need such a process to exercise every input type)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processes.base import (
    BoundingBox,
    BoundingBoxInput,
    ComplexInput,
    ComplexOutput,
    LiteralInput,
    LiteralOutput,
    ProcessContext,
    ProcessDescription,
)

JSON = ("application/json", "application/geo+json")


class Echo:
    description = ProcessDescription(
        id="echo",
        version="1.0.0",
        title="Echo",
        abstract="Returns the given inputs as outputs: stringInput -> stringOutput and so on. "
        'The bounding box comes back as JSON {"bbox": [minx, miny, maxx, maxy], "crs": ...}.',
        keywords=("echo", "test"),
        inputs=(
            LiteralInput("stringInput", "A string", "string"),
            LiteralInput("integerInput", "An integer", "integer", min_occurs=0),
            LiteralInput(
                "doubleInput",
                "A number between 0 and 10",
                "float",
                min_occurs=0,
                minimum=0,
                maximum=10,
            ),
            LiteralInput("booleanInput", "A boolean", "boolean", min_occurs=0),
            LiteralInput(
                "enumInput",
                "One of three values",
                "string",
                min_occurs=0,
                allowed_values=("Value1", "Value2", "Value3"),
                default="Value1",
            ),
            ComplexInput("complexObjectInput", "A JSON document", JSON, min_occurs=0),
            BoundingBoxInput(
                "boundingBoxInput", "A bounding box", min_occurs=0, crs=("EPSG:4326", "OGC:CRS84")
            ),
        ),
        outputs=(
            LiteralOutput("stringOutput", "The string", "string"),
            LiteralOutput("integerOutput", "The integer", "integer"),
            LiteralOutput("doubleOutput", "The number", "float"),
            LiteralOutput("booleanOutput", "The boolean", "boolean"),
            LiteralOutput("enumOutput", "The enumerated value", "string"),
            ComplexOutput("complexObjectOutput", "The JSON document", JSON),
            ComplexOutput("boundingBoxOutput", "The bounding box", ("application/json",)),
        ),
    )

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        context.progress(0, "echoing")
        outputs: dict[str, Any] = {}
        for name in ("string", "integer", "double", "boolean", "enum", "complexObject"):
            if f"{name}Input" in inputs:
                outputs[f"{name}Output"] = inputs[f"{name}Input"]
        box = inputs.get("boundingBoxInput")
        if isinstance(box, BoundingBox):
            outputs["boundingBoxOutput"] = {
                "bbox": [box.minx, box.miny, box.maxx, box.maxy],
                "crs": box.crs,
            }
        context.progress(100, "done")
        return outputs

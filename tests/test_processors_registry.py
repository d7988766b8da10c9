"""The process registry, plug-in loading and input validation shared by WPS and OGC API."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from ogcsdl.errors import NotFound
from ogcsdl.jobs.registry import service_error
from processes.base import BoundingBox, ProcessDescription, Raster
from processes.echo import Echo
from processes.errors import (
    MissingProcessInput,
    ProcessConfigError,
    ProcessInputError,
    UnknownProcess,
)
from processes.registry import (
    builtin_processors,
    get_processor,
    load_registry,
    validate_inputs,
)


class RecordingContext:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def progress(self, percent: float, message: str = "") -> None:
        self.calls.append(percent)


def test_builtins_have_unique_ids_and_consistent_descriptions():
    factories = builtin_processors()
    assert set(factories) == {"echo", "cloud-mask", "change-detection", "flood-mapping"}
    for pid, factory in factories.items():
        processor = factory()
        assert isinstance(processor.description, ProcessDescription)
        assert processor.description.id == pid
        input_ids = [i.id for i in processor.description.inputs]
        output_ids = [o.id for o in processor.description.outputs]
        assert len(set(input_ids)) == len(input_ids) and len(set(output_ids)) == len(output_ids)


def test_load_registry_with_a_plugin_by_dotted_path(tmp_path, monkeypatch):
    (tmp_path / "my_plugin.py").write_text(
        textwrap.dedent(
            """
            from processes.base import LiteralInput, LiteralOutput, ProcessDescription

            class Double:
                description = ProcessDescription(
                    id="double", version="0.1", title="Double", abstract="x * 2",
                    inputs=(LiteralInput("x", "x", "float"),),
                    outputs=(LiteralOutput("y", "y", "float"),),
                )

                def run(self, inputs, context):
                    return {"y": inputs["x"] * 2}

            class NotAProcessor:
                pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_registry(["my_plugin:Double"])
    assert "double" in registry and "echo" in registry
    processor = get_processor(registry, "double")
    assert processor.run(
        validate_inputs(processor.description, {"x": "2.5"}), RecordingContext()
    ) == {"y": 5.0}

    with pytest.raises(ProcessConfigError, match="is not a processor"):
        load_registry(["my_plugin:NotAProcessor"])
    with pytest.raises(ProcessConfigError, match="has no 'Missing'"):
        load_registry(["my_plugin:Missing"])
    with pytest.raises(ProcessConfigError, match="cannot import module"):
        load_registry(["no_such_module_xyz:Thing"])
    with pytest.raises(ProcessConfigError, match="not of the form"):
        load_registry(["nodots"])
    with pytest.raises(ProcessConfigError, match="reuses the process id 'echo'"):
        load_registry(["processes.echo:Echo"])


def test_unknown_process_is_no_such_process_404():
    registry = load_registry()
    with pytest.raises(UnknownProcess) as info:
        get_processor(registry, "nope")
    assert "nope" in info.value.message and "cloud-mask" in info.value.message
    # The job system's one mapping makes it OGC API - Processes' NoSuchProcess.
    ogc = service_error(info.value)
    assert isinstance(ogc, NotFound)
    assert ogc.code == "NoSuchProcess" and ogc.status == 404 and ogc.message == info.value.message


def test_validate_literals_defaults_types_and_ranges():
    description = Echo.description
    checked = validate_inputs(
        description, {"stringInput": "hi", "integerInput": "7", "doubleInput": 2}
    )
    assert checked == {
        "stringInput": "hi",
        "integerInput": 7,
        "doubleInput": 2.0,
        "enumInput": "Value1",
    }
    assert (
        validate_inputs(description, {"stringInput": "a", "booleanInput": "false"})["booleanInput"]
        is False
    )
    assert validate_inputs(description, {"stringInput": {"value": "q"}})["stringInput"] == "q"

    cases = [
        ({}, MissingProcessInput, "stringInput"),
        ({"stringInput": "a", "bogus": 1}, ProcessInputError, "bogus"),
        ({"stringInput": "a", "integerInput": "7.5"}, ProcessInputError, "integerInput"),
        ({"stringInput": "a", "integerInput": True}, ProcessInputError, "integerInput"),
        ({"stringInput": "a", "doubleInput": "nan"}, ProcessInputError, "doubleInput"),
        ({"stringInput": "a", "doubleInput": 11}, ProcessInputError, "doubleInput"),
        ({"stringInput": "a", "doubleInput": -1}, ProcessInputError, "doubleInput"),
        ({"stringInput": "a", "booleanInput": "perhaps"}, ProcessInputError, "booleanInput"),
        ({"stringInput": "a", "enumInput": "Value9"}, ProcessInputError, "enumInput"),
        ({"stringInput": ["a", "b"]}, ProcessInputError, "stringInput"),
        (
            {"stringInput": "a", "complexObjectInput": "{not json"},
            ProcessInputError,
            "complexObjectInput",
        ),
    ]
    for raw, error, locator in cases:
        with pytest.raises(error) as info:
            validate_inputs(description, raw)
        assert info.value.locator == locator, raw


def test_validate_bounding_boxes_in_every_spelling():
    description = Echo.description
    expected = BoundingBox(10.0, 50.0, 11.0, 51.0, crs="EPSG:4326")
    for raw in (
        "10,50,11,51",
        "10,50,11,51,urn:ogc:def:crs:EPSG::4326",
        [10, 50, 11, 51],
        {"bbox": [10, 50, 11, 51], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        BoundingBox(10, 50, 11, 51),
    ):
        assert (
            validate_inputs(description, {"stringInput": "a", "boundingBoxInput": raw})[
                "boundingBoxInput"
            ]
            == expected
        )
    for bad in ("11,50,10,51", "1,2,3", {"bbox": [0, 0, 1, 1], "crs": "EPSG:3006"}, "a,b,c,d"):
        with pytest.raises(ProcessInputError) as info:
            validate_inputs(description, {"stringInput": "a", "boundingBoxInput": bad})
        assert info.value.locator == "boundingBoxInput"


def test_validate_raster_inputs_accept_references_and_resolved_rasters():
    description = builtin_processors()["flood-mapping"]().description
    assert validate_inputs(description, {"s1": " S1A_IW_GRDH_123 "})["s1"] == "S1A_IW_GRDH_123"
    assert (
        validate_inputs(description, {"s1": {"href": "https://example.org/a.tif"}})["s1"]
        == "https://example.org/a.tif"
    )
    raster = Raster(
        xr.DataArray(
            np.zeros((1, 2, 2), "float32"), dims=("band", "y", "x"), coords={"band": ["VV"]}
        ),
        "EPSG:32633",
        Affine(10, 0, 0, 0, -10, 0),
    )
    checked = validate_inputs(description, {"s1": raster})
    assert (
        checked["s1"] is raster and checked["speckle_window"] == 5 and "vv_threshold" not in checked
    )
    with pytest.raises(ProcessInputError) as info:
        validate_inputs(description, {"s1": 42})
    assert info.value.locator == "s1"
    generic = Raster(
        xr.DataArray(
            np.zeros((2, 2, 2), "float32"),
            dims=("band", "y", "x"),
            coords={"band": ["Green", "NIR"]},
        ),
        "EPSG:32633",
        Affine(10, 0, 0, 0, -10, 0),
    )
    assert validate_inputs(description, {"s2": generic})["s2"] is generic  # "Green" satisfies B03
    with pytest.raises(ProcessInputError, match="lacks band") as info:
        validate_inputs(description, {"s1": generic})
    assert info.value.locator == "s1"

    cloud = builtin_processors()["cloud-mask"]().description
    with pytest.raises(MissingProcessInput):
        validate_inputs(cloud, {"method": "rules"})
    with pytest.raises(ProcessInputError) as info:
        validate_inputs(cloud, {"product": "x", "method": "magic"})
    assert info.value.locator == "method"


def test_echo_returns_what_it_was_given():
    echo = Echo()
    inputs = validate_inputs(
        echo.description,
        {
            "stringInput": "hello",
            "doubleInput": 3.5,
            "complexObjectInput": '{"a": [1, 2]}',
            "boundingBoxInput": "1,2,3,4",
        },
    )
    context = RecordingContext()
    outputs = echo.run(inputs, context)
    assert outputs == {
        "stringOutput": "hello",
        "doubleOutput": 3.5,
        "enumOutput": "Value1",
        "complexObjectOutput": {"a": [1, 2]},
        "boundingBoxOutput": {"bbox": [1.0, 2.0, 3.0, 4.0], "crs": "EPSG:4326"},
    }
    assert context.calls[-1] == 100
    assert set(outputs) <= {o.id for o in echo.description.outputs}


def test_processes_does_not_import_the_suite():
    """``processes/`` stands alone: the suite imports it, never the other way round."""
    root = Path(__file__).resolve().parent.parent / "processes"
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(root.glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.match(r"\s*(from|import)\s+ogcsdl\b", line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (MissingProcessInput("Input 'a' is required.", "a"), "MissingParameterValue", 400),
        (ProcessInputError("bad grid", "after"), "InvalidParameterValue", 400),
        (UnknownProcess("no process 'x'", "x"), "NoSuchProcess", 404),
        (ProcessConfigError("bad extra"), "NoApplicableCode", 500),
    ],
)
def test_process_errors_map_to_ogc_errors_in_one_place(error, code, status):
    ogc = service_error(error)
    assert (ogc.code, ogc.status, ogc.message, ogc.locator) == (
        code,
        status,
        error.message,
        error.locator,
    )

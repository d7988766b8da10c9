"""WPS 1.0.0 through the real suite with OWSLib's WPS client: execute async ->
monitor -> fetch the COG -> find it in the catalogue; one job store shared with
OGC API - Processes; bad input -> OWS exceptions and no job."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid

import numpy as np
import pytest
import rasterio
import requests
from lxml import etree
from owslib.wps import BoundingBoxDataInput, ComplexDataInput, WebProcessingService

from conformance.wps import validate, wps_schema
from ogcsdl.catalogue.factory import product_store
from ogcsdl.jobs.store import job_store
from tests.live import LiveSuite
from tests.processing_support import tiny_product, wait_for
from tests.required import unavailable

pytestmark = pytest.mark.live
OWS = "{http://www.opengis.net/ows/1.1}"


@pytest.fixture(scope="module")
def wps(processing_suite: LiveSuite) -> WebProcessingService:
    return WebProcessingService(processing_suite.url("wps"), version="1.0.0", skip_caps=True)


def _monitor(execution: object, timeout_s: float = 60) -> list[str]:
    statuses: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not execution.isComplete():  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"job did not finish: {statuses}"
        execution.checkStatus(sleepSecs=0.2)  # type: ignore[attr-defined]
        statuses.append(execution.status)  # type: ignore[attr-defined]
    return statuses


def test_capabilities_and_descriptions(wps: WebProcessingService) -> None:
    wps.getcapabilities()
    assert {
        "echo",
        "cloud-mask",
        "change-detection",
        "flood-mapping",
        "scale",
        "slow",
        "difference",
    } <= {p.identifier for p in wps.processes}
    scale = wps.describeprocess("scale")
    assert scale.storeSupported and scale.statusSupported
    image = next(i for i in scale.dataInputs if i.identifier == "image")
    assert image.dataType == "ComplexData"
    assert any("geotiff" in (v.mimeType or "") for v in image.supportedValues)
    assert [o.identifier for o in scale.processOutputs] == ["scaled"]


def test_async_execute_monitor_fetch_and_catalogue(
    wps: WebProcessingService, processing_suite: LiveSuite
) -> None:
    settings = processing_suite.settings
    source = tiny_product(settings, "WPS_SRC")
    execution = wps.execute(
        "scale",
        inputs=[
            ("image", ComplexDataInput(source.identifier, mimeType="text/plain")),
            ("factor", "2.5"),
        ],
        output=[("scaled", True)],
        mode="async",
    )
    assert execution.statusLocation.startswith(processing_suite.url("wps/status/"))
    assert execution.status in ("ProcessAccepted", "ProcessStarted", "ProcessSucceeded")
    _monitor(execution)
    assert execution.isSucceded(), execution.errors
    href = execution.processOutputs[0].reference
    job_id = execution.statusLocation.rsplit("/", 1)[-1].removesuffix(".xml")
    assert uuid.UUID(job_id).version == 4  # random: no MAC address or time in the id
    status = requests.get(execution.statusLocation, timeout=30)
    if wps_schema() is not None:
        assert validate(status.content) == []
    cog = requests.get(href, timeout=30)
    with (
        rasterio.open(io.BytesIO(cog.content)) as published,
        rasterio.open(source.file_path) as original,
    ):
        np.testing.assert_allclose(published.read(1), original.read(1) * 2.5)
    product_id = href.rsplit("/", 1)[-1].removesuffix(".tif")
    record = product_store(settings).get(product_id)
    assert record.extra["lineage"]["job_id"] == job_id
    assert record.extra["lineage"]["process_id"] == "scale"
    # The same job through OGC API - Processes.
    job = requests.get(processing_suite.url(f"ogcapi/jobs/{job_id}"), timeout=30).json()
    assert (job["status"], job["interface"]) == ("successful", "wps")


def test_sync_execute_by_value_and_reference(
    wps: WebProcessingService, processing_suite: LiveSuite
) -> None:
    execution = wps.execute(
        "echo",
        inputs=[
            ("stringInput", "hej"),
            ("integerInput", "3"),
            ("complexObjectInput", ComplexDataInput('{"a": 1}', mimeType="application/json")),
            ("boundingBoxInput", BoundingBoxDataInput([10.0, 50.0, 11.0, 51.0], crs="EPSG:4326")),
        ],
        mode="sync",
    )
    assert execution.isSucceded(), execution.errors
    outputs = {o.identifier: o for o in execution.processOutputs}
    assert outputs["stringOutput"].data == ["hej"]
    assert outputs["integerOutput"].data == ["3"]
    assert json.loads(outputs["complexObjectOutput"].data[0]) == {"a": 1}
    assert json.loads(outputs["boundingBoxOutput"].data[0])["bbox"] == [10.0, 50.0, 11.0, 51.0]
    source = tiny_product(processing_suite.settings, "WPS_REF")
    own = processing_suite.url(f"data/{source.identifier}.tif")  # resolved internally
    by_reference = wps.execute("scale", inputs=[("image", ComplexDataInput(own))], mode="sync")
    assert by_reference.isSucceded(), by_reference.errors
    assert by_reference.processOutputs[0].reference.endswith(".tif")


def test_wps_job_dismissed_through_ogcapi(
    wps: WebProcessingService, processing_suite: LiveSuite
) -> None:
    execution = wps.execute(
        "slow", inputs=[("seconds", "60")], output=[("steps", False)], mode="async"
    )
    job_id = execution.statusLocation.rsplit("/", 1)[-1].removesuffix(".xml")
    job_url = processing_suite.url(f"ogcapi/jobs/{job_id}")
    wait_for(lambda: requests.get(job_url, timeout=30).json()["status"] == "running", timeout_s=60)
    execution.checkStatus(sleepSecs=0)
    assert execution.status == "ProcessStarted"
    assert requests.delete(job_url, timeout=30).json()["status"] == "dismissed"
    execution.checkStatus(sleepSecs=0)
    # OWSLib reports a ProcessFailed carrying an ExceptionReport as "Exception".
    assert execution.isComplete() and not execution.isSucceded()
    assert "dismissed" in str(execution.errors[0].text)
    document = requests.get(execution.statusLocation, timeout=30).content
    assert b"ProcessFailed>" in document
    if wps_schema() is not None:
        assert validate(document) == []


def _exception(response: requests.Response) -> tuple[int, str | None]:
    tree = etree.fromstring(
        response.content, etree.XMLParser(resolve_entities=False, no_network=True)
    )
    node = tree.find(f"{OWS}Exception")
    return response.status_code, None if node is None else node.get("exceptionCode")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("identifier=no-such-process&datainputs=a=1", "InvalidParameterValue"),
        ("identifier=echo&datainputs=integerInput=2", "MissingParameterValue"),
        ("identifier=echo&datainputs=stringInput=x;integerInput=abc", "InvalidParameterValue"),
        (
            "identifier=echo&datainputs=stringInput=x;boundingBoxInput=10,51,11,50",
            "InvalidParameterValue",
        ),
        (
            "identifier=echo&datainputs=stringInput=x;boundingBoxInput=10,50,11,51,EPSG:3857",
            "InvalidParameterValue",
        ),
        ("identifier=scale&datainputs=image=NO_SUCH_PRODUCT", "InvalidParameterValue"),
        (
            "identifier=scale&datainputs=image=@xlink:href=http://127.0.0.1:1/private.tif",
            "InvalidParameterValue",
        ),
        (
            "identifier=scale&datainputs=image=@xlink:href=http://10.0.0.8/x.tif",
            "InvalidParameterValue",
        ),
    ],
)
def test_bad_input_is_an_exception_and_no_job(
    processing_suite: LiveSuite, query: str, code: str
) -> None:
    store = job_store(processing_suite.settings.database_url)
    before = store.count()
    url = processing_suite.url(f"wps?service=WPS&version=1.0.0&request=Execute&{query}")
    assert _exception(requests.get(url, timeout=30)) == (400, code)
    assert store.count() == before


def test_file_reference_is_refused(processing_suite: LiveSuite) -> None:
    body = """<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"
      xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink">
      <ows:Identifier>scale</ows:Identifier><wps:DataInputs><wps:Input>
      <ows:Identifier>image</ows:Identifier><wps:Reference xlink:href="file:///etc/passwd"/>
      </wps:Input></wps:DataInputs></wps:Execute>"""
    before = job_store(processing_suite.settings.database_url).count()
    status, code = _exception(
        requests.post(processing_suite.url("wps"), data=body.encode(), timeout=30)
    )
    assert 400 <= status < 500 and code is not None
    assert job_store(processing_suite.settings.database_url).count() == before


def test_non_overlapping_grids_sync_is_an_exception(processing_suite: LiveSuite) -> None:
    settings = processing_suite.settings
    tiny_product(settings, "WPS_GRID_A", origin_x=600000)
    tiny_product(settings, "WPS_GRID_B", origin_x=650000)
    url = processing_suite.url(
        "wps?service=WPS&version=1.0.0&request=Execute&identifier=difference"
        "&datainputs=before=WPS_GRID_A;after=WPS_GRID_B"
    )
    response = requests.get(url, timeout=60)
    assert _exception(response) == (400, "InvalidParameterValue")
    assert b"do not overlap" in response.content


def _require_wps_schema() -> None:
    if wps_schema() is None:
        unavailable(
            "SHARED_DATA", "WPS 1.0.0 schemas of ../shared/schemas not found (set OGCSDL_SCHEMAS)"
        )


def test_every_process_description_is_schema_valid(processing_suite: LiveSuite) -> None:
    _require_wps_schema()
    response = requests.get(
        processing_suite.url("wps"),
        params={
            "service": "WPS",
            "version": "1.0.0",
            "request": "DescribeProcess",
            "identifier": "all",
        },
        timeout=30,
    )
    assert response.status_code == 200
    assert validate(response.content) == []
    assert response.content.count(b"<ProcessDescription ") >= 7


@pytest.mark.parametrize(
    ("corners", "crs"),
    [
        ([10.0, 50.0, 11.0, 51.0], "EPSG:4326"),  # short code: lon/lat as clients send it
        ([50.0, 10.0, 51.0, 11.0], "urn:ogc:def:crs:EPSG::4326"),  # URN: EPSG axis order
    ],
)
def test_bounding_box_axis_order(wps: WebProcessingService, corners: list[float], crs: str) -> None:
    execution = wps.execute(
        "echo",
        inputs=[
            ("stringInput", "box"),
            ("boundingBoxInput", BoundingBoxDataInput(corners, crs=crs)),
        ],
        mode="sync",
    )
    assert execution.isSucceded(), execution.errors
    outputs = {o.identifier: o for o in execution.processOutputs}
    assert json.loads(outputs["boundingBoxOutput"].data[0])["bbox"] == [10.0, 50.0, 11.0, 51.0]


@pytest.mark.parametrize(
    "extra",
    [
        "lineage=true",
        "ResponseDocument=stringOutput",
        "storeExecuteResponse=true&status=true&lineage=true",
    ],
)
def test_execute_variants_are_schema_valid(processing_suite: LiveSuite, extra: str) -> None:
    _require_wps_schema()
    url = processing_suite.url(
        f"wps?service=WPS&version=1.0.0&request=Execute&identifier=echo&datainputs=stringInput=v&{extra}"
    )
    response = requests.get(url, timeout=60)
    assert response.status_code == 200
    assert validate(response.content) == []
    location = etree.fromstring(response.content).get("statusLocation")
    if location:

        def succeeded() -> bytes | None:
            content = requests.get(location, timeout=30).content
            return content if b"ProcessSucceeded" in content else None

        document = wait_for(succeeded)
        assert validate(document) == []


def test_raw_complex_output(processing_suite: LiveSuite) -> None:
    url = processing_suite.url(
        "wps?service=WPS&version=1.0.0&request=Execute&identifier=echo"
        "&datainputs=stringInput=a;complexObjectInput=%7B%22a%22%3A1%7D@mimeType=application/json"
        "&RawDataOutput=complexObjectOutput"
    )
    response = requests.get(url, timeout=60)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"a": 1}


def test_small_raster_output_by_value(
    wps: WebProcessingService, processing_suite: LiveSuite
) -> None:
    """ResponseDocument asReference=false: the COG travels base64-encoded in the document;
    without it the output is a reference. KVP and XML POST (OWSLib)."""
    source = tiny_product(processing_suite.settings, "WPS_BY_VALUE")
    posted = wps.execute(
        "scale", inputs=[("image", source.identifier)], output=[("scaled", False)], mode="sync"
    )
    assert posted.isSucceded(), posted.errors
    assert posted.processOutputs[0].reference is None
    assert posted.processOutputs[0].data, "the raster should be in the document"
    base = (
        "wps?service=WPS&version=1.0.0&request=Execute&identifier=scale"
        f"&datainputs=image={source.identifier}"
    )
    response = requests.get(
        processing_suite.url(base + "&ResponseDocument=scaled@asReference=false"), timeout=60
    )
    assert response.status_code == 200, response.text
    document = etree.fromstring(response.content)
    if wps_schema() is not None:
        assert validate(response.content) == []
    ns = {"wps": "http://www.opengis.net/wps/1.0.0"}
    complex_data = document.find(".//wps:Output/wps:Data/wps:ComplexData", ns)
    assert complex_data is not None, response.text
    assert complex_data.get("encoding") == "base64"
    assert document.find(".//wps:Output/wps:Reference", ns) is None
    with (
        rasterio.open(io.BytesIO(base64.b64decode(complex_data.text or ""))) as inline,
        rasterio.open(source.file_path) as original,
    ):
        np.testing.assert_allclose(inline.read(1), original.read(1) * 2.0)

    by_reference = etree.fromstring(requests.get(processing_suite.url(base), timeout=60).content)
    assert by_reference.find(".//wps:Output/wps:Reference", ns) is not None

"""WPS requests pywps cannot read: each was a 500 ("No applicable error code") and must
be a 400 OWS ExceptionReport. In-process behind the edge: a refused request never
becomes a job, so no cluster is needed."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from lxml import etree
from werkzeug.test import Client, TestResponse

from ogcsdl.config import Settings
from ogcsdl.processing.wps import WpsApp
from ogcsdl.processing.wps_build import wps_dir
from tests.edge_support import behind_edge
from tests.processing_support import processing_settings

OWS = "{http://www.opengis.net/ows/1.1}"
NS = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1"'
STRING = (
    "<wps:Input><ows:Identifier>stringInput</ows:Identifier>"
    "<wps:Data><wps:LiteralData>x</wps:LiteralData></wps:Data></wps:Input>"
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return processing_settings(tmp_path_factory.mktemp("wps-malformed"))


@pytest.fixture(scope="module")
def wps(settings: Settings) -> Client:
    return Client(behind_edge(settings, "/wps", WpsApp(settings)))


def _bbox_input(data: str) -> str:
    return (
        "<wps:Input><ows:Identifier>boundingBoxInput</ows:Identifier>"
        f"<wps:Data><wps:BoundingBoxData>{data}</wps:BoundingBoxData></wps:Data></wps:Input>"
    )


def _execute(inputs: str) -> str:
    return (
        f'<wps:Execute {NS} service="WPS" version="1.0.0"><ows:Identifier>echo</ows:Identifier>'
        f"<wps:DataInputs>{inputs}</wps:DataInputs></wps:Execute>"
    )


def _assert_400(response: TestResponse) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code == 400, text
    root = etree.fromstring(response.get_data())
    assert root.tag == f"{OWS}ExceptionReport", text
    assert "Traceback" not in text and "check error log" not in text


@pytest.mark.parametrize(
    "inputs",
    [
        "stringInput",  # an input without a value
        "stringInput=x;boundingBoxInput=a,b,c,d",
        "stringInput=x@uom=metre",  # echo's inputs declare no unit of measure
        "stringInput=x;booleanInput=maybe",  # pywps ran it with true
    ],
)
def test_unreadable_kvp_inputs_are_400(wps: Client, inputs: str) -> None:
    query = "service=WPS&version=1.0.0&request=Execute&identifier=echo&DataInputs="
    _assert_400(wps.get("/?" + query + quote(inputs, safe="=;@")))


@pytest.mark.parametrize(
    "body",
    [
        _execute(
            STRING
            + _bbox_input(
                "<ows:LowerCorner>a b</ows:LowerCorner><ows:UpperCorner>c d</ows:UpperCorner>"
            )
        ),
        _execute(
            STRING
            + _bbox_input(
                "<ows:LowerCorner>1</ows:LowerCorner><ows:UpperCorner>2</ows:UpperCorner>"
            )
        ),
        _execute(STRING + _bbox_input("")),
        '<wps:Execute xmlns:wps="http://example.com/not-wps" service="WPS" version="1.0.0"/>',
        '<Execute service="WPS" version="1.0.0"/>',
        "<html><body>not a request</body></html>",
    ],
    ids=["bbox-text", "bbox-1d", "bbox-no-corners", "other-namespace", "no-namespace", "html"],
)
def test_unreadable_xml_requests_are_400(wps: Client, body: str) -> None:
    _assert_400(wps.post("/", data=body, content_type="text/xml"))


def test_a_refused_execute_leaves_no_work_directory(wps: Client, settings: Settings) -> None:
    """pywps makes a pywps_process_* directory per Execute and removes it only in its own
    runner, which jobs do not use: each one stayed, refused requests included."""
    work = wps_dir(settings) / "work"
    query = "service=WPS&version=1.0.0&request=Execute&identifier=echo&DataInputs="
    for inputs in ("stringInput=x;integerInput=abc", "stringInput=x;zzz=1", "stringInput"):
        _assert_400(wps.get("/?" + query + quote(inputs, safe="=;@")))
    _assert_400(wps.post("/", data=_execute(_bbox_input("")), content_type="text/xml"))
    assert sorted(path.name for path in work.iterdir()) == []

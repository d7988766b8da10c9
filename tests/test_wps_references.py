"""SSRF through pywps: a WPS Reference with ``method="POST"`` and a ``BodyReference``
(XML) or ``@method=POST@bodyreference=`` (KVP) made pywps fetch that URL while parsing,
before any check of ours. Every form must be refused with a 4xx ExceptionReport, and
a loopback canary server must never be hit. In-process: nothing here needs a cluster
(a refused request never becomes a job)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from lxml import etree
from werkzeug.test import Client, TestResponse

from ogcsdl.processing.wps import WpsApp
from tests.canary import Canary, canary_server
from tests.processing_support import processing_settings

OWS = "{http://www.opengis.net/ows/1.1}"


@pytest.fixture(scope="module")
def wps(tmp_path_factory: pytest.TempPathFactory) -> Client:
    settings = processing_settings(tmp_path_factory.mktemp("wps-ssrf"))
    return Client(WpsApp(settings))


@pytest.fixture
def canary() -> Iterator[Canary]:
    with canary_server() as server:
        yield server


def _execute_xml(reference: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"
    xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink">
  <ows:Identifier>echo</ows:Identifier>
  <wps:DataInputs>
    <wps:Input>
      <ows:Identifier>complexObjectInput</ows:Identifier>
      {reference}
    </wps:Input>
  </wps:DataInputs>
</wps:Execute>"""


def _assert_refused(response: TestResponse, canary: Canary) -> None:
    text = response.get_data(as_text=True)
    assert 400 <= response.status_code < 500, text
    assert etree.fromstring(response.get_data()).tag == f"{OWS}ExceptionReport"
    assert "127.0.0.1" not in text.replace(canary.url, "")  # what a name resolved to
    assert canary.hits == []


@pytest.mark.parametrize(
    "reference",
    [
        '<wps:Reference xlink:href="{c}/body-target" method="POST" mimeType="application/json">'
        '<wps:BodyReference xlink:href="{c}/body-reference"/></wps:Reference>',
        '<wps:Reference xlink:href="{c}/post-target" method="POST" mimeType="application/json">'
        "<wps:Body>x</wps:Body></wps:Reference>",
        '<wps:Reference xlink:href="{c}/get-target" mimeType="application/json"/>',
        '<wps:Reference xlink:href="http://localhost:{p}/by-name" mimeType="application/json"/>',
    ],
)
def test_xml_references_never_reach_a_loopback_server(
    wps: Client, canary: Canary, reference: str
) -> None:
    port = canary.url.rsplit(":", 1)[1]
    body = _execute_xml(reference.format(c=canary.url, p=port))
    _assert_refused(wps.post("/", data=body, content_type="text/xml"), canary)


@pytest.mark.parametrize(
    "inputs",
    [
        "complexObjectInput=@xlink:href={c}/kvp@method=POST@bodyreference={c}/kvp-body",
        "complexObjectInput=@xlink:href={c}/kvp@method=POST@body=x",
        "complexObjectInput=@xlink:href={c}/kvp-get",
    ],
)
def test_kvp_references_never_reach_a_loopback_server(
    wps: Client, canary: Canary, inputs: str
) -> None:
    query = "service=WPS&version=1.0.0&request=Execute&identifier=echo&DataInputs=" + quote(
        inputs.format(c=canary.url), safe="=@:/"
    )
    _assert_refused(wps.get("/?" + query), canary)

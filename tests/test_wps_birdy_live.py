"""WPS 1.0.0 driven by birdy (birdhouse-birdy), the WPS client of the birdhouse
platforms: every output kind by value and by reference, sync and async, and the status
document stays valid after the job ends.

Client limits (birdy 0.10.0), not ours: birdy fills a BoundingBoxData input's default
with its CRS string and then fails to encode it, so bbox inputs are passed as None;
complex inputs must be given as text (a JSON string), not as a dict; boolean outputs
are converted with ``bool(text)``, so "false" becomes True."""

from __future__ import annotations

import json

import pytest
import rasterio
import requests
from birdy import WPSClient
from lxml import etree

from conformance.wps import validate
from ogcsdl.catalogue.factory import product_store
from tests.live import LiveSuite
from tests.processing_support import tiny_product
from tests.view_fixtures import make_s2_product

pytestmark = pytest.mark.live


@pytest.fixture(scope="module", params=["sync", "async"])
def birdy(request: pytest.FixtureRequest, processing_suite: LiveSuite) -> WPSClient:
    # progress=True makes birdy run asynchronously and poll the status document.
    client = WPSClient(processing_suite.url("wps"), progress=request.param == "async")
    client.mode_for_tests = request.param  # type: ignore[attr-defined]
    return client


def test_echo_every_literal_and_complex_output(birdy: WPSClient) -> None:
    result = birdy.echo(
        stringinput="hello",
        integerinput=3,
        doubleinput=2.5,
        booleaninput=False,
        complexobjectinput=json.dumps({"a": [1, 2]}),
        boundingboxinput=None,
    )
    assert result.isSucceded(), result.status
    out = result.get(asobj=True)
    assert out.stringoutput == "hello"
    assert out.integeroutput == 3
    assert out.doubleoutput == pytest.approx(2.5)
    # xs:boolean "false" in the document (pywps alone writes "False"); birdy 0.10.0
    # itself converts any non-empty string with bool(), so its own value is no test.
    raw = {output.identifier: output.data for output in result.processOutputs}
    assert raw["booleanOutput"] == ["false"]
    assert out.enumoutput == "Value1"  # the input's default
    # birdy asks for the JSON output by reference and fetches it from the URL we give
    assert out.complexobjectoutput == {"a": [1, 2]}
    reference = next(o for o in result.processOutputs if o.identifier == "complexObjectOutput")
    assert reference.reference and reference.reference.startswith("http")


def test_absent_optional_outputs_are_left_out(birdy: WPSClient) -> None:
    result = birdy.echo(stringinput="only", boundingboxinput=None)
    assert result.isSucceded(), result.status
    produced = {output.identifier: output for output in result.processOutputs}
    assert "integerOutput" not in produced and "doubleOutput" not in produced
    assert all(output.data != ["None"] for output in produced.values())
    assert result.get(asobj=True).stringoutput == "only"


def test_raster_process_by_product_id(birdy: WPSClient, processing_suite: LiveSuite) -> None:
    settings = processing_suite.settings
    record = make_s2_product(settings.cog_dir, f"BIRDY_{birdy.mode_for_tests}", size=64, seed=5)
    product_store(settings).upsert(record)
    result = birdy.cloud_mask(product=record.identifier, method="rules", aoi=None)
    assert result.isSucceded(), result.status
    out = result.get(asobj=False)
    assert 0.0 <= out.cloud_cover <= 100.0
    with rasterio.open(out.mask) as mask:  # the published COG, read over HTTP
        assert mask.width == 64 and mask.read(1).max() >= 1
    statistics = requests.get(out.statistics, timeout=30)
    assert statistics.status_code == 200 and isinstance(statistics.json(), dict)


def test_status_document_stays_valid_after_the_job(processing_suite: LiveSuite) -> None:
    client = WPSClient(processing_suite.url("wps"), progress=True)
    product = tiny_product(processing_suite.settings, "BIRDY_SCALE")
    result = client.scale(image=product.identifier, factor=2.0)
    assert result.isSucceded(), result.status
    for _ in range(2):  # read twice: rendering must not change the stored job
        response = requests.get(result.statusLocation, timeout=30)
        assert response.status_code == 200, response.text
        assert validate(response.content) == []
        document = etree.fromstring(response.content)
        references = document.findall(".//{http://www.opengis.net/wps/1.0.0}Reference")
        assert references and all(ref.get("href") for ref in references)
        for ref in references:
            assert requests.get(ref.get("href"), timeout=30).status_code == 200

"""The publish loop: a job's raster output, run through WPS (OWSLib) and through OGC
API - Processes (plain HTTP), is found in the catalogue (CSW), tiled (WMTS GetTile)
and served as a coverage (WCS GetCoverage) about a second after the job ends.

The catalogue, tile and coverage services are other parts of the suite; each step
skips, saying why, when that service is not mounted in this checkout."""

from __future__ import annotations

import io
import math
import time

import numpy as np
import pytest
import requests
from owslib.wps import ComplexDataInput, WebProcessingService

from ogcsdl.catalogue.factory import product_store
from tests.live import LiveSuite
from tests.processing_support import tiny_product

pytestmark = pytest.mark.live


def _tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """Row and column of the GoogleMapsCompatible tile holding lon/lat."""
    n = 2**zoom
    column = int((lon + 180.0) / 360.0 * n)
    row = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return row, column


def _run_with_owslib(suite: LiveSuite, product_id: str) -> str:
    wps = WebProcessingService(suite.url("wps"), version="1.0.0", skip_caps=True)
    execution = wps.execute(
        "scale",
        inputs=[("image", ComplexDataInput(product_id, mimeType="text/plain"))],
        output=[("scaled", True)],
        mode="async",
    )
    deadline = time.monotonic() + 60
    while not execution.isComplete():
        assert time.monotonic() < deadline
        execution.checkStatus(sleepSecs=0.1)
    assert execution.isSucceded(), execution.errors
    return str(execution.processOutputs[0].reference)


def _run_with_http(suite: LiveSuite, product_id: str) -> str:
    response = requests.post(
        suite.url("ogcapi/processes/scale/execution"),
        json={"inputs": {"image": product_id}},
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    status_url = response.headers["Location"]
    deadline = time.monotonic() + 60
    while requests.get(status_url, timeout=30).json()["status"] in ("accepted", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    results = requests.get(f"{status_url}/results", timeout=30)
    assert results.status_code == 200, results.text
    return str(results.json()["scaled"]["href"])


@pytest.fixture(scope="module", params=["wps-owslib", "ogcapi-http"])
def published(request: pytest.FixtureRequest, processing_suite: LiveSuite) -> dict[str, object]:
    """A ``scale`` job run through WPS (OWSLib) or OGC API - Processes (plain HTTP)."""
    source = tiny_product(processing_suite.settings, f"PUBLISH_SRC_{request.param}", size=256)
    run = _run_with_owslib if request.param == "wps-owslib" else _run_with_http
    href = run(processing_suite, source.identifier)
    return {
        "product_id": href.rsplit("/", 1)[-1].removesuffix(".tif"),
        "ended": time.monotonic(),
        "source": source,
    }


def test_output_is_in_the_catalogue(
    processing_suite: LiveSuite, published: dict[str, object]
) -> None:
    csw = processing_suite.url("csw")
    from owslib.csw import CatalogueServiceWeb

    catalogue = CatalogueServiceWeb(csw, timeout=30)
    catalogue.getrecordbyid(id=[str(published["product_id"])])
    assert str(published["product_id"]) in catalogue.records


def test_output_is_a_tile_layer_within_about_a_second(
    processing_suite: LiveSuite, published: dict[str, object]
) -> None:
    from owslib.wmts import WebMapTileService

    product_id = str(published["product_id"])
    deadline = float(published["ended"]) + 5
    while True:
        wmts = WebMapTileService(processing_suite.url("maps/wmts/1.0.0/WMTSCapabilities.xml"))
        if product_id in wmts.contents or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    visible_after = time.monotonic() - float(published["ended"])
    print(f"WMTS layer visible {visible_after:.2f} s after the job ended")
    assert product_id in wmts.contents
    source = published["source"]
    bbox = product_store(processing_suite.settings).get(product_id).bbox  # of the output COG
    row, column = _tile_of((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2, 14)

    def tile() -> bytes | None:
        try:
            response = wmts.gettile(
                layer=product_id,
                tilematrixset="GoogleMapsCompatible",
                tilematrix="14",
                row=row,
                column=column,
                format="image/png",
                Time=source.start.strftime("%Y-%m-%dT%H:%M:%SZ"),  # type: ignore[attr-defined]
            )
        except requests.HTTPError:
            return None
        return bytes(response.read())

    # A layer that the capabilities list renders at once (the renderer looks up a
    # product it has not seen yet instead of answering 404).
    png = tile()
    assert png is not None, "the listed layer did not render on the first request"
    print(
        f"WMTS tile rendered {time.monotonic() - float(published['ended']):.2f} s after the job ended"
    )
    from PIL import Image

    alpha = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[..., 3]
    assert (alpha > 0).sum() > 1000  # the published raster is drawn, not an empty tile


def test_output_is_a_coverage(processing_suite: LiveSuite, published: dict[str, object]) -> None:
    import rasterio

    response = requests.get(
        processing_suite.url("wcs"),
        params={
            "SERVICE": "WCS",
            "VERSION": "2.0.1",
            "REQUEST": "GetCoverage",
            "COVERAGEID": str(published["product_id"]),
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text[:300]
    with rasterio.open(io.BytesIO(response.content)) as coverage:
        assert (coverage.width, coverage.height) == (256, 256)

"""The edge through the real suite: no ingest path in any catalogue answer, CORS for
browsers on every service, and an OGC API - Coverages subset on one axis applied."""

from __future__ import annotations

import pytest
import requests

from tests.security.conftest import SECRET_SOURCE, Corpus

pytestmark = pytest.mark.live
SECRET_DIR = SECRET_SOURCE.rsplit("/", 1)[0]


@pytest.mark.parametrize(
    "query",
    [
        "service=CSW&version=2.0.2&request=GetRecordById&id={id}&elementsetname=full",
        "service=CSW&version=2.0.2&request=GetRecordById&id={id}&elementsetname=full"
        "&outputschema=http://www.isotc211.org/2005/gmd",
        "service=CSW&version=3.0.0&request=GetRecordById&id={id}&elementsetname=full",
        "mode=oaipmh&verb=GetRecord&metadataPrefix=oai_dc&identifier={id}",
        "mode=oaipmh&verb=GetRecord&metadataPrefix=iso19139&identifier={id}",
        "mode=opensearch&service=CSW&version=3.0.0&request=GetRecords&typenames=csw:Record"
        "&elementsetname=full&outputformat=application/atom%2Bxml&q=Hostile",
    ],
    ids=["csw2-dc", "csw2-iso", "csw3", "oai-dc", "oai-iso", "opensearch-atom"],
)
def test_catalogue_answers_show_no_ingest_path(corpus: Corpus, query: str) -> None:
    url = corpus.suite.url("csw?" + query.format(id=corpus.product))
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    assert corpus.product in answer.text  # the record is there...
    assert SECRET_DIR not in answer.text  # ...without the server path it came from
    assert str(corpus.suite.settings.data_dir) not in answer.text


@pytest.mark.parametrize(
    "path", ["/stac/search", "/wps", "/ogcapi/processes/echo/execution", "/csw"]
)
def test_browsers_may_post_to_every_post_endpoint(corpus: Corpus, path: str) -> None:
    preflight = requests.options(
        corpus.suite.url(path),
        headers={
            "Origin": "https://browser.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
        timeout=30,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/health",
        "/csw?service=CSW&request=GetCapabilities",
        "/stac/",
        "/maps/wmts/1.0.0/WMTSCapabilities.xml",
        "/wcs?service=WCS&request=GetCapabilities",
        "/coverages/collections?f=json",
        "/wps?service=WPS&request=GetCapabilities",
        "/ogcapi/processes",
        "/stac/collections/no-such-collection",
    ],
)
def test_every_service_answers_with_the_allowed_origin(corpus: Corpus, path: str) -> None:
    answer = requests.get(
        corpus.suite.url(path), headers={"Origin": "https://browser.example.org"}, timeout=30
    )
    assert answer.status_code < 500
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_a_coverage_subset_on_one_axis_is_applied(corpus: Corpus) -> None:
    url = corpus.suite.url(f"coverages/collections/{corpus.product}/coverage")
    full = requests.get(url, params={"f": "json"}, timeout=60).json()
    part = requests.get(url, params={"f": "json", "subset": "x(600000:601000)"}, timeout=60).json()
    assert full["domain"]["axes"]["x"]["num"] == 256
    assert part["domain"]["axes"]["x"]["num"] == 50  # 1000 m of 20 m pixels
    assert part["domain"]["axes"]["y"]["num"] == 256  # the other axis kept whole

"""The gateway's edge in-process (werkzeug's test client): errors rendered once per mount
style, other libraries' error answers normalised, request bodies bounded, CORS, and the
checks in front of MapProxy, pycsw and pygeoapi."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
import rasterio
from lxml import etree
from rasterio.transform import from_origin
from werkzeug.test import Client

from ogcsdl import safe_json
from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.projection import records_row
from ogcsdl.config import load_settings
from ogcsdl.coverages.ogcapi_query import checked_query, epsg_code
from ogcsdl.errors import InvalidParameterValue, NotFound, OgcsdlError, redact_paths
from ogcsdl.gateway import catalogue_edge
from ogcsdl.gateway.app import Gateway
from ogcsdl.gateway.edge import CLIENT_ERROR_HEADER, ServiceEdge
from ogcsdl.gateway.http_errors import render_gunicorn_errors_as_ogc
from ogcsdl.gateway.maps import check_numbers, maps_error_style, mark_client_errors
from ogcsdl.jobs.store import job_store
from ogcsdl.schema import create_schema
from tests.edge_support import behind_edge
from tests.security.conftest import SECRET_SOURCE, write_product

WSGI = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def raising(error: BaseException) -> WSGI:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise error

    return app


def answering(status: str, body: bytes, headers: list[tuple[str, str]]) -> WSGI:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(status, headers)
        return [body]

    return app


def edge(app: WSGI, style: Any = "ows11", limit: int = 1024) -> Client:
    return Client(ServiceEdge(app, style, limit))


def local_name(body: bytes) -> str:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.QName(etree.fromstring(body, parser)).localname


# Errors rendered once, in the mount's style ------------------------------------------
@pytest.mark.parametrize(
    ("style", "media_type", "marker"),
    [
        ("ows11", "application/xml", b"http://www.opengis.net/ows/1.1"),
        ("ows20", "application/xml", b"http://www.opengis.net/ows/2.0"),
        ("wms13", "text/xml", b"<ServiceExceptionReport"),
        ("problem", "application/problem+json", b'"title": "InvalidParameterValue"'),
    ],
)
def test_a_raised_error_is_rendered_in_the_mount_style(
    style: str, media_type: str, marker: bytes
) -> None:
    response = edge(raising(InvalidParameterValue("bad <value>", "x")), style).get("/")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == media_type
    assert marker in response.data and b"<value>" not in response.data


def test_an_unknown_exception_is_a_generic_500_without_details() -> None:
    error = RuntimeError("boom at /srv/secret/module.py line 3")
    response = edge(raising(error)).get("/")
    assert response.status_code == 500
    assert b"NoApplicableCode" in response.data
    assert b"/srv/secret" not in response.data and b"boom" not in response.data


def test_error_messages_never_carry_server_paths() -> None:
    error = NotFound("no file /var/lib/ogcsdl/cogs/S2A_x.tif")
    response = edge(raising(error), "problem").get("/")
    assert json.loads(response.data)["detail"] == "no file S2A_x.tif"


def test_a_per_request_style_chooser_is_used() -> None:
    client = edge(raising(InvalidParameterValue("x")), maps_error_style)
    assert local_name(client.get("/service?service=WMS").data) == "ServiceExceptionReport"
    assert local_name(client.get("/wmts/1.0.0/x.png").data) == "ExceptionReport"
    assert client.get("/ogcapi/collections").headers["Content-Type"].endswith("problem+json")


# Other libraries' error answers -------------------------------------------------------
WMS_REPORT = (
    b'<?xml version="1.0"?><ServiceExceptionReport version="1.3.0" '
    b'xmlns="http://www.opengis.net/ogc"><ServiceException code="LayerNotDefined">'
    b"unknown layer: x</ServiceException></ServiceExceptionReport>"
)
UNCODED = WMS_REPORT.replace(b' code="LayerNotDefined"', b"")


def test_a_library_exception_naming_a_server_path_is_redacted() -> None:
    """pycsw answered ``POST <html/>`` with the path of the schema it failed to load."""
    report = (
        b'<?xml version="1.0"?><ows20:ExceptionReport xmlns:ows20="http://www.opengis.net/ows/2.0"'
        b' version="3.0.0"><ows20:Exception exceptionCode="NoApplicableCode" locator="service">'
        b"<ows20:ExceptionText>Exception: the document is not valid.\nError: Failed to load "
        b"the document '/work/x/.venv-catalogue/lib/python3.11/site-packages/pycsw/core/"
        b"schemas/ogc/cat/csw/3.0/cswhtml.xsd' for inclusion.</ows20:ExceptionText>"
        b"</ows20:Exception></ows20:ExceptionReport>"
    )
    app = answering("400 Bad Request", report, [("Content-Type", "application/xml")])
    response = edge(app).post("/", data=b"<html/>", content_type="application/xml")
    assert response.status_code == 400
    assert local_name(response.data) == "ExceptionReport"
    assert b"site-packages" not in response.data and b"/work/" not in response.data
    assert b"cswhtml.xsd" in response.data and b'locator="service"' in response.data


def test_python_text_in_a_library_exception_is_dropped() -> None:
    """pycsw answered a GmlObjectId filter with 'Invalid Filter request: list index out
    of range'."""
    report = (
        b'<?xml version="1.0"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows"'
        b' version="1.2.0"><ows:Exception exceptionCode="InvalidParameterValue" '
        b'locator="constraint"><ows:ExceptionText>Invalid Constraint: Invalid Filter request:'
        b" list index out of range</ows:ExceptionText></ows:Exception></ows:ExceptionReport>"
    )
    app = answering("400 Bad Request", report, [("Content-Type", "application/xml")])
    response = edge(app).get("/")
    assert response.status_code == 400 and local_name(response.data) == "ExceptionReport"
    assert b"list index" not in response.data
    assert b"Invalid Constraint: Invalid Filter request</" in response.data
    assert b'locator="constraint"' in response.data


def test_a_library_exception_without_a_path_is_passed_as_it_is() -> None:
    app = answering("400 Bad Request", WMS_REPORT, [("Content-Type", "text/xml")])
    assert edge(app, "wms13").get("/").data == WMS_REPORT


def test_a_coded_500_from_a_library_gets_the_code_status() -> None:
    app = answering("500 Internal Server Error", WMS_REPORT, [("Content-Type", "text/xml")])
    response = edge(app, "wms13").get("/")
    assert response.status_code == 400 and b'code="LayerNotDefined"' in response.data


def test_a_500_marked_as_the_client_fault_is_a_400() -> None:
    headers = [("Content-Type", "text/xml"), (CLIENT_ERROR_HEADER, "1")]
    response = edge(answering("500 Internal Server Error", UNCODED, headers), "wms13").get("/")
    assert response.status_code == 400
    assert CLIENT_ERROR_HEADER not in response.headers


def test_an_unmarked_uncoded_500_stays_a_500() -> None:
    headers = [("Content-Type", "text/plain")]
    response = edge(answering("500 Internal Server Error", b"internal error", headers)).get("/")
    assert response.status_code == 500 and local_name(response.data) == "ExceptionReport"


def test_a_plain_text_404_reflecting_script_becomes_an_escaped_document() -> None:
    body = b"unknown layer <script>alert(1)</script>"
    app = answering("404 Not Found", body, [("Content-Type", "text/plain")])
    response = edge(app).get("/")
    assert response.status_code == 404 and b"<script>" not in response.data
    assert local_name(response.data) == "ExceptionReport"


def test_a_503_and_a_success_pass_unchanged() -> None:
    unavailable = answering("503 Service Unavailable", b"down", [("Content-Type", "text/plain")])
    assert edge(unavailable).get("/").data == b"down"
    ok = answering("200 OK", b"fine", [("Content-Type", "text/plain")])
    assert edge(ok).get("/").data == b"fine"


def test_mapproxy_request_errors_are_marked_as_the_client_fault() -> None:
    from mapproxy.exception import RequestError

    mark_client_errors()
    client_fault = RequestError("invalid request").render()
    assert client_fault.headers.get(CLIENT_ERROR_HEADER) == "1"
    source_failure = RequestError("source down", internal=True, status=500).render()
    assert CLIENT_ERROR_HEADER not in source_failure.headers


# Request bodies ------------------------------------------------------------------------
def echo_length(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(len(body)).encode()]


def chunked_environ(body: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(body),
    }


def call(app: WSGI, environ: dict[str, Any]) -> tuple[str, bytes]:
    captured: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured["status"] = status

    body = b"".join(app(environ, start_response))
    return captured["status"], body


def test_a_chunked_body_is_read_and_given_its_length() -> None:
    status, body = call(ServiceEdge(echo_length, "problem", 1024), chunked_environ(b"x" * 1024))
    assert status.startswith("200") and body == b"1024"


def test_a_chunked_body_over_the_limit_is_413() -> None:
    status, body = call(ServiceEdge(echo_length, "problem", 1024), chunked_environ(b"x" * 1025))
    assert status.startswith("413") and b"RequestTooLarge" in body


def test_a_declared_length_over_the_limit_is_413_without_reading() -> None:
    response = edge(echo_length, limit=1024).post("/", data=b"x" * 2048)
    assert response.status_code == 413


def test_an_xml_body_with_a_doctype_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>'
    response = edge(echo_length).post("/", data=bomb, content_type="application/xml")
    assert response.status_code == 400 and b"DOCTYPE" in response.data
    plain = edge(echo_length).post("/", data=b"<r/>", content_type="application/xml")
    assert plain.status_code == 200


DTD_PROLOG = '<?xml version="1.0" encoding="{}"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>'


@pytest.mark.parametrize(
    ("declared", "codec", "content_type"),
    [
        ("UTF-16", "utf-16", "application/xml"),  # with a byte-order mark
        ("UTF-16", "utf-16-le", "text/plain"),  # none: "<" then NUL
        ("UTF-16", "utf-16-be", "application/xml"),
        ("UTF-32", "utf-32", "application/xml"),
        ("UTF-7", "utf-7", "application/xml"),
        ("UTF-8", "utf-8-sig", "text/plain"),
    ],
)
def test_a_doctype_in_another_encoding_is_refused(
    declared: str, codec: str, content_type: str
) -> None:
    """The bytes of a UTF-16/32 (or declared UTF-7) DOCTYPE hold no ``<!DOCTYPE``: such
    bodies passed the edge (pywps parsed a UTF-16 one and answered 200)."""
    body = DTD_PROLOG.format(declared).encode(codec)
    response = edge(echo_length).post("/", data=body, content_type=content_type)
    assert response.status_code == 400 and b"DOCTYPE" in response.data


def test_a_doctype_in_a_kvp_parameter_is_refused() -> None:
    """A CSW FILTER constraint is XML in the query string: pycsw parsed its DOCTYPE and
    answered with Python's own exception text ('NoneType' object has no attribute ...)."""
    dtd = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ogc:Filter/>'
    response = edge(echo_length).get("/?constraintlanguage=FILTER&constraint=" + quote(dtd))
    assert response.status_code == 400 and b"DOCTYPE" in response.data
    filter_only = quote('<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc"/>')
    assert edge(echo_length).get("/?constraint=" + filter_only).status_code == 200


def test_xml_in_other_encodings_without_a_doctype_passes() -> None:
    for codec in ("utf-16", "utf-32", "utf-8-sig"):
        body = '<?xml version="1.0"?><r>x</r>'.encode(codec)
        assert edge(echo_length).post("/", data=body, content_type="text/xml").status_code == 200


# CORS --------------------------------------------------------------------------------
def gateway(tmp_path: Path, extra: str = "") -> Client:
    config = tmp_path / "ogcsdl.yml"
    config.write_text(f"data_dir: {tmp_path / 'var'}\n{extra}")
    return Client(Gateway(load_settings(config)))


def test_preflight_is_answered_for_post_endpoints(tmp_path: Path) -> None:
    client = gateway(tmp_path)
    for path in ("/stac/search", "/wps", "/ogcapi/processes/echo/execution", "/csw"):
        response = client.options(
            path,
            headers={
                "Origin": "https://browser.example.org",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]


def test_records_405_keeps_cors_preflight_and_stac_search_post(tmp_path: Path) -> None:
    """/records is read-only (405 with Allow); preflights and the STAC API's POST /search
    are not touched by it."""
    client = gateway(tmp_path)
    create_schema(load_settings(tmp_path / "ogcsdl.yml"))  # an empty product store to search
    origin = {"Origin": "https://browser.example.org"}
    preflight = client.options(
        "/records/collections/products/items",
        headers={**origin, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    refused = client.put("/records/collections/products/items", json={}, headers=origin)
    assert refused.status_code == 405, refused.get_data(as_text=True)
    assert refused.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert refused.mimetype == "application/problem+json"
    search = client.post("/stac/search", json={"limit": 1})
    assert search.status_code == 200, search.get_data(as_text=True)


def test_processes_405_names_the_allowed_methods(tmp_path: Path) -> None:
    """RFC 9110 section 15.5.6: a 405 carries Allow (the Processes API's had none)."""
    settings = load_settings(None, data_dir=str(tmp_path))
    settings.ensure_dirs()
    create_schema(settings)
    response = Client(behind_edge(settings, "/ogcapi")).delete("/processes")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert "GET" in {m.strip() for m in response.headers["Allow"].split(",")}


def test_every_answer_carries_the_allowed_origin(tmp_path: Path) -> None:
    client = gateway(tmp_path)
    landing = client.get("/", headers={"Origin": "https://x.example.org"})
    assert landing.headers["Access-Control-Allow-Origin"] == "*"
    missing = client.get("/nothing-here")
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"
    assert "Location" in missing.headers["Access-Control-Expose-Headers"]


def test_configured_origins_are_echoed_and_others_refused(tmp_path: Path) -> None:
    client = gateway(tmp_path, "cors:\n  allow_origins: [https://maps.example.org]\n")
    allowed = client.get("/", headers={"Origin": "https://maps.example.org"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://maps.example.org"
    assert "Origin" in allowed.headers["Vary"]
    other = client.get("/", headers={"Origin": "https://evil.example.org"})
    assert "Access-Control-Allow-Origin" not in other.headers


# JSON bodies ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"n": 1' + b"0" * 5000 + b"}",
        b'{"n": 1e400}',
        b'{"n": NaN}',
        b'{"n": -Infinity}',
        b'{"a": ',
        b"\xff\xfe",
    ],
    ids=["100k-deep", "40-deep", "5000-digits", "1e400", "nan", "infinity", "cut", "not-utf8"],
)
def test_hostile_json_is_an_invalid_parameter(body: bytes) -> None:
    with pytest.raises(InvalidParameterValue):
        safe_json.loads(body)


def test_ordinary_json_parses() -> None:
    assert safe_json.loads_object(b'{"bbox": [1.5, 2, 3, 4], "q": {"a": [1]}}')["bbox"][0] == 1.5
    assert safe_json.loads_object(b"") == {}
    with pytest.raises(InvalidParameterValue):
        safe_json.loads_object(b"[1]")


# Paths ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cannot read /tmp/pytest-1/var/cogs/x.tif", "cannot read x.tif"),
        ("see file:///etc/passwd", "see passwd"),
        ("PosixPath('/srv/in/S2A.SAFE')", "PosixPath('S2A.SAFE')"),
        ("C:\\data\\x.tif", "x.tif"),
        ("http://host:5000/data/a.tif stays", "http://host:5000/data/a.tif stays"),
        ("relative/path and /health stay", "relative/path and /health stay"),
    ],
)
def test_redact_paths(text: str, expected: str) -> None:
    assert redact_paths(text) == expected


def test_a_failed_job_message_has_no_server_path(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path))
    create_schema(settings)
    store = job_store(settings.database_url)
    job = store.create("echo", "1.0.0", "ogcapi", {})
    store.mark_failed(job.job_id, f"RasterioIOError: {tmp_path}/work/job-1/input.tif: No such file")
    failed = store.get(job.job_id)
    assert str(tmp_path) not in (failed.error or "") + failed.message
    assert "input.tif: No such file" in (failed.error or "")


def test_catalogue_records_show_no_ingest_path(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path))
    record = write_product(tmp_path / "cogs")
    row = records_row(settings, record)
    shown = json.dumps(row)
    assert "/srv/ingest" not in shown and str(tmp_path) not in shown
    assert SECRET_SOURCE.rsplit("/", 1)[1] in row["source"] and row["lineage"]


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "ogcsdl.yml"
    config.write_text(f"data_dir: {tmp_path / 'var'}\n")
    return config


# Catalogue checks ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("verb=Nope", "badVerb"),
        ("verb=ListRecords&until=notadate", "badArgument"),
        ("verb=ListRecords&from=2024-13-45", "badArgument"),
        ("verb=ListRecords&from=2025-01-01&until=2024-01-01", "badArgument"),
        ("verb=ListRecords&from=2024-01-01&until=2025-01-01T00:00:00Z", "badArgument"),
        ("verb=ListIdentifiers&set=nope", "badArgument"),
        ("verb=ListRecords&set=interactiveResources", "noRecordsMatch"),
        ("verb=ListRecords&set=datasets&from=2024-01-01T00:00:00Z", None),
        ("verb=GetRecord&identifier=x&metadataPrefix=oai_dc", None),
        ("verb=ListRecords&metadataPrefix=evil", "cannotDisseminateFormat"),
        ("verb=GetRecord&identifier=x&metadataPrefix=evil", "cannotDisseminateFormat"),
        ("verb=ListIdentifiers&metadataPrefix=iso19139", None),
        ("verb=ListRecords&resumptionToken=abc", None),  # the token carries the format
        ("verb=Identify&verb=ListSets", "badVerb"),
        ("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc", "badArgument"),
    ],
)
def test_oai_pmh_arguments(query: str, code: str | None) -> None:
    repeated = catalogue_edge.repeated_keys(query)
    error = catalogue_edge.oai_error(catalogue_edge.lowered(query), repeated)
    assert (error[0] if error else None) == code


def test_an_empty_oai_getrecord_is_unknown() -> None:
    params = {"verb": "GetRecord"}
    assert catalogue_edge.is_unknown_record(params, b"<oai:OAI-PMH><oai:GetRecord/></oai:OAI-PMH>")
    assert not catalogue_edge.is_unknown_record(params, b"<oai:GetRecord><oai:record/>")


@pytest.mark.parametrize(
    "query", ["maxrecords=abc", "maxrecords=1e400", "maxrecords=-1", "startposition=0"]
)
def test_csw_paging_numbers_are_checked(query: str) -> None:
    with pytest.raises(InvalidParameterValue):
        catalogue_edge.check_paging(catalogue_edge.lowered(query))


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("GET", "/?service=CSW&request=GetCapabilities&updatesequence=zzz", None),
        ("GET", "/?service=CSW&version=2.0.2&request=GetCapabilities&updateSequence=1.5", None),
        (
            "POST",
            "/",
            b'<csw:GetCapabilities xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" '
            b'service="CSW" updateSequence="zzz"/>',
        ),
        (
            "POST",
            "/",
            b'<csw30:GetCapabilities xmlns:csw30="http://www.opengis.net/cat/csw/3.0" '
            b'service="CSW" updateSequence="zzz"/>',
        ),
    ],
)
def test_csw_update_sequence_that_is_no_number_is_400(
    tmp_path: Path, method: str, target: str, body: bytes | None
) -> None:
    """pycsw compared it with int() and answered a 500; refused before the proxy."""
    settings = load_settings(_config(tmp_path))
    client = Client(behind_edge(settings, "/csw"))
    response = client.open(target, method=method, data=body, content_type="application/xml")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert b'exceptionCode="InvalidUpdateSequence"' in response.data


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        (
            "GET",
            "/?service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record"
            "&elementsetname=brief&resulttype=results&responsehandler=ftp://10.1.2.3/x.xml",
            None,
        ),
        (
            "GET",
            "/?service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record"
            "&elementsetname=brief&ResponseHandler=mailto:someone@example.org",
            None,
        ),
        (
            "POST",
            "/",
            b'<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" service="CSW" '
            b'version="2.0.2" resultType="results"><csw:ResponseHandler>ftp://10.1.2.3/x'
            b'</csw:ResponseHandler><csw:Query typeNames="csw:Record"><csw:ElementSetName>'
            b"brief</csw:ElementSetName></csw:Query></csw:GetRecords>",
        ),
    ],
)
def test_a_response_handler_outside_harvest_is_refused(
    tmp_path: Path, method: str, target: str, body: bytes | None
) -> None:
    """pycsw sent GetRecords results to it by FTP (any host) or mail, unchecked, from a
    thread without a timeout, then answered a 500."""
    settings = load_settings(_config(tmp_path))
    client = Client(behind_edge(settings, "/csw"))
    response = client.open(target, method=method, data=body, content_type="application/xml")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert b'locator="ResponseHandler"' in response.data


def test_csw_whole_number_update_sequence_passes() -> None:
    catalogue_edge.check_update_sequence("1795944195")
    catalogue_edge.check_update_sequence(None)
    catalogue_edge.check_paging({"updatesequence": "", "maxrecords": "10"})


# Maps checks ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        "width=NaN&height=1",
        "width=-1",
        "width=100000",
        "bbox=nan,1,2,3",
        "bbox=1,2,inf,4",
        "bbox=2,2,1,1",
        "crs=<script>",
        "i=NaN",
    ],
)
def test_wms_numbers_are_checked(query: str) -> None:
    with pytest.raises(OgcsdlError) as raised:
        check_numbers({"QUERY_STRING": f"service=WMS&request=GetMap&{query}"})
    assert raised.value.status == 400


def test_sensible_wms_numbers_pass() -> None:
    check_numbers(
        {"QUERY_STRING": "request=GetMap&width=256&height=256&bbox=1,2,3,4&crs=EPSG:4326"}
    )
    check_numbers({"QUERY_STRING": "request=GetMap&bbox=-2e7,-2e7,2e7,2e7&bgcolor=0x00FF00"})


@pytest.mark.parametrize(
    "query",
    [
        "bbox=16,59,17,60&crs=http://www.opengis.net/def/crs/EPSG/0/3857&width=64&height=64",
        "bbox=16,59,0,17,60,1&bbox-crs=[EPSG:4326]",
        "subset=Lat(59:60)&subset=Lon(16:17)&subset-crs=EPSG:4326",
        "center=16.5,59.5&scale-denominator=50000&bgcolor=red",
        "",
    ],
)
def test_sensible_ogcapi_map_values_pass(query: str) -> None:
    check_numbers({"PATH_INFO": "/ogcapi/collections/x/map", "QUERY_STRING": query})


# OGC API - Coverages query ---------------------------------------------------------------
@pytest.fixture
def utm_record(tmp_path: Path) -> Any:
    return write_product(tmp_path)


def test_a_one_axis_subset_keeps_the_full_other_axis(utm_record: Any) -> None:
    query = checked_query("subset=x(600000:601000)&f=json", utm_record)
    assert "x%28600000.0%3A601000.0%29" in query
    with rasterio.open(utm_record.file_path) as dataset:
        bottom, top = dataset.bounds.bottom, dataset.bounds.top
    assert f"y%28{bottom}%3A{top}%29" in query


@pytest.mark.parametrize(
    "query",
    [
        "subset=x(nan:1)",
        "subset=x(5:1)",
        "subset=x(0:10)",
        "subset=x(600000)",
        "subset=time(1:2)",
        "bbox=nan,1,2,3",
        "bbox=16,60,15,59",
        "bbox=100,10,101,11",
        "bbox=15,59,16,60&bbox-crs=EPSG:99999",
        "bbox=-1e308,-1e308,1e308,1e308",  # NaN in the coverage's UTM: a 500 in rasterio
        "bbox=-1e20,-1e20,1e20,1e20",
    ],
)
def test_bad_coverage_queries_are_refused(utm_record: Any, query: str) -> None:
    with pytest.raises(InvalidParameterValue):
        checked_query(query, utm_record)


def test_a_world_bbox_still_reaches_a_utm_coverage(utm_record: Any) -> None:
    assert "bbox=" in checked_query("bbox=-180,-90,180,90&f=json", utm_record)


def test_bbox_crs_uris_become_epsg_codes() -> None:
    assert epsg_code("http://www.opengis.net/def/crs/OGC/1.3/CRS84") == 4326
    assert epsg_code("http://www.opengis.net/def/crs/EPSG/0/32633") == 32633
    assert epsg_code("EPSG:3857") == 3857
    with pytest.raises(InvalidParameterValue):
        epsg_code("<script>")


def test_tiny_cog_helper_is_georeferenced(utm_record: Any) -> None:
    with rasterio.open(utm_record.file_path) as dataset:
        assert dataset.crs.to_epsg() == 32633 and dataset.count == 4
        assert dataset.transform == from_origin(600000, 6580000, 20, 20)
        assert np.asarray(dataset.read(1)).max() > 0


# Product files (/data) -------------------------------------------------------------------
@pytest.fixture
def data_gateway(tmp_path: Path) -> tuple[Client, int]:
    settings = load_settings(_config(tmp_path))
    create_schema(settings)
    record = write_product(settings.cog_dir)
    product_store(settings).upsert(record)
    return Client(Gateway(settings)), Path(record.file_path).stat().st_size


@pytest.mark.parametrize(
    "value",
    ["bytes=999999999-", "bytes=abc", "bytes=5-1", "bytes=-0", "bytes=-99999999999999999999"],
)
def test_an_unusable_byte_range_is_a_416(data_gateway: tuple[Client, int], value: str) -> None:
    """werkzeug's RequestedRangeNotSatisfiable escaped the gateway's /data route: a 500."""
    client, size = data_gateway
    response = client.get("/data/hostile-corpus-s2.tif", headers={"Range": value})
    assert response.status_code == 416, response.get_data(as_text=True)
    assert response.headers["Content-Range"] == f"bytes */{size}"
    assert local_name(response.data) == "ExceptionReport"


@pytest.mark.parametrize(
    "value", ["items=0-10", "bytes=0-0,5-10", "bytes=" + ",".join(["0-1"] * 50)]
)
def test_other_units_and_multi_ranges_get_the_whole_file(
    data_gateway: tuple[Client, int], value: str
) -> None:
    client, size = data_gateway
    response = client.get("/data/hostile-corpus-s2.tif", headers={"Range": value})
    assert response.status_code == 200 and len(response.data) == size


def test_one_byte_range_is_still_a_206(data_gateway: tuple[Client, int]) -> None:
    client, size = data_gateway
    response = client.get("/data/hostile-corpus-s2.tif", headers={"Range": "bytes=0-15"})
    assert response.status_code == 206 and len(response.data) == 16
    assert response.headers["Content-Range"] == f"bytes 0-15/{size}"


# Errors gunicorn answers itself ------------------------------------------------------------
def test_gunicorn_errors_are_ows_exception_reports() -> None:
    """gunicorn's own 4xx answers (URI too long, a method it cannot read) were HTML."""
    import socket

    from gunicorn import util

    original = util.write_error
    try:
        render_gunicorn_errors_as_ogc()
        ours, theirs = socket.socketpair()
        with ours, theirs:
            util.write_error(ours, 414, "URI Too Long", "Request Line is too large (9000 > 8190)")
            answer = theirs.recv(65536)
    finally:
        util.write_error = original
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 URI Too Long")
    assert b"Content-Type: application/xml" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert local_name(body) == "ExceptionReport" and b"Request Line is too large" in body
    assert b"<html" not in body

"""CSW-T at the catalogue edge, in-process (the /csw mount behind its edge, no pycsw
needed: these requests never reach it): Harvest only for administrators, its request
checked, its answers valid against CSW-publication.xsd; Transaction refused. The
harvest of a real second instance through OWSLib is in ``test_harvest_live.py``."""

from __future__ import annotations

import queue
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests
from lxml import etree
from owslib.catalogue.csw2 import CatalogueServiceWeb
from werkzeug.test import Client

from conformance.xmlcheck import schema
from ogcsdl.config import Settings
from ogcsdl.harvest import runner
from ogcsdl.harvest.csw_t import (
    CSW,
    RESOURCE_TYPES,
    HarvestRequest,
    acknowledgement,
    harvest_response,
    request_document,
)
from ogcsdl.harvest.model import HarvestSource
from ogcsdl.harvest.state import HarvestState
from ogcsdl.schema import create_schema
from ogcsdl.security.identity import IDENTITY_KEY, Identity
from tests.canary import serving
from tests.catalogue_fixtures import Catalogue, require_catalogue_env
from tests.edge_support import behind_edge
from tests.harvest_support import TEN, ScriptedRemote

OWS = "http://www.opengis.net/ows/1.1"
ADMIN = Identity("key:root", "admin")
USER = Identity("key:alice", "user")
STAC_TYPE = "https://api.stacspec.org/v1.0.0/core"


def _client(tmp_path: Path, **harvest: object) -> Client:
    settings = Settings(data_dir=tmp_path / "var", harvest=harvest)
    settings.ensure_dirs()
    create_schema(settings)
    return Client(behind_edge(settings, "/csw"))


def _kvp(**params: str) -> dict[str, str]:
    return {"service": "CSW", "version": "2.0.2", "request": "Harvest", **params}


def _exception(response: object) -> tuple[int, str, str]:
    root = etree.fromstring(response.data)  # type: ignore[attr-defined]
    assert root.tag == f"{{{OWS}}}ExceptionReport", response.data  # type: ignore[attr-defined]
    node = root.find(f"{{{OWS}}}Exception")
    assert node is not None
    return (
        response.status_code,  # type: ignore[attr-defined]
        node.get("exceptionCode", ""),
        node.get("locator", ""),
    )


def test_harvest_needs_an_administrator(tmp_path: Path) -> None:
    client = _client(tmp_path)
    query = _kvp(source="https://peer.example/stac", resourcetype=STAC_TYPE)
    assert _exception(client.get("/", query_string=query))[:2] == (401, "NotAuthenticated")
    user = client.get("/", query_string=query, environ_overrides={IDENTITY_KEY: USER})
    assert _exception(user)[:2] == (403, "AccessDenied")


def test_harvest_disabled_in_the_configuration_is_refused(tmp_path: Path) -> None:
    client = _client(tmp_path, csw_harvest=False)
    query = _kvp(source="https://peer.example/stac", resourcetype=STAC_TYPE)
    answer = client.get("/", query_string=query, environ_overrides={IDENTITY_KEY: ADMIN})
    assert _exception(answer)[:2] == (400, "OperationNotSupported")


@pytest.mark.parametrize(
    ("params", "code", "locator"),
    [  # a loopback Source is the URL check's 403 (see jobs/urls.py); the rest 400
        ({"resourcetype": STAC_TYPE}, "MissingParameterValue", "Source"),
        (
            {"source": "file:///etc/passwd", "resourcetype": STAC_TYPE},
            "InvalidParameterValue",
            "Source",
        ),
        (
            {"source": "http://127.0.0.1:9/csw", "resourcetype": STAC_TYPE},
            "InvalidParameterValue",
            "Source",
        ),
        ({"source": "https://peer.example/x"}, "MissingParameterValue", "ResourceType"),
        (
            {"source": "https://peer.example/x", "resourcetype": "urn:x-fgdc"},
            "InvalidParameterValue",
            "ResourceType",
        ),
        (
            {"source": "https://peer.example/x", "resourcetype": CSW, "harvestinterval": "P1D"},
            "InvalidParameterValue",
            "HarvestInterval",
        ),
        (
            {
                "source": "https://peer.example/x",
                "resourcetype": CSW,
                "responsehandler": "mailto:a@b",
            },
            "InvalidParameterValue",
            "ResponseHandler",
        ),
        (
            {"source": "https://peer.example/x", "resourcetype": CSW, "version": "3.0.0"},
            "InvalidParameterValue",
            "version",
        ),
    ],
)
def test_harvest_requests_are_checked(
    tmp_path: Path, params: dict[str, str], code: str, locator: str
) -> None:
    client = _client(tmp_path)
    answer = client.get("/", query_string=_kvp(**params), environ_overrides={IDENTITY_KEY: ADMIN})
    expected = 403 if "127.0.0.1" in params.get("source", "") else 400
    assert _exception(answer) == (expected, code, locator)


def test_harvest_of_an_unreachable_source_is_a_gateway_error_and_xml_post_is_read(
    tmp_path: Path,
) -> None:
    """Port 9 on a listed host: the URL check passes, the fetch fails (502, no trace)."""
    client = _client(tmp_path, allowed_hosts=["127.0.0.1"], timeout_s=2)
    body = request_document(HarvestRequest("http://127.0.0.1:9/stac", STAC_TYPE))
    answer = client.post(
        "/",
        data=body,
        content_type="application/xml",
        environ_overrides={IDENTITY_KEY: ADMIN},
    )
    status, code, locator = _exception(answer)
    assert (status, code, locator) == (502, "NoApplicableCode", "Source")
    assert b"127.0.0.1:9" in answer.data and b"Traceback" not in answer.data


def test_a_csw_3_harvest_body_is_refused_by_version(tmp_path: Path) -> None:
    body = request_document(HarvestRequest("https://peer.example/csw", CSW)).replace(
        CSW.encode(), b"http://www.opengis.net/cat/csw/3.0"
    )
    answer = _client(tmp_path).post(
        "/", data=body, content_type="application/xml", environ_overrides={IDENTITY_KEY: ADMIN}
    )
    assert _exception(answer) == (400, "InvalidParameterValue", "version")


def test_transaction_is_refused_for_everyone(tmp_path: Path) -> None:
    client = _client(tmp_path)
    body = (
        f'<csw:Transaction xmlns:csw="{CSW}" service="CSW" version="2.0.2">'
        '<csw:Delete typeName="csw:Record"><csw:Constraint version="1.1.0"/></csw:Delete>'
        "</csw:Transaction>"
    ).encode()
    answer = client.post(
        "/", data=body, content_type="application/xml", environ_overrides={IDENTITY_KEY: ADMIN}
    )
    status, code, _ = _exception(answer)
    assert (status, code) == (400, "OperationNotSupported")
    assert b"product store" in answer.data


def test_harvest_answers_are_valid_csw_publication_documents() -> None:
    require_catalogue_env()  # the CSW schemas come with pycsw
    xsd = schema("csw202-publication")
    summary = etree.fromstring(
        harvest_response([("S2-1", "A scene"), ("S2-2", "Another")], updated=3, deleted=1)
    )
    assert xsd.validate(summary), xsd.error_log.last_error
    assert summary.findtext(f".//{{{CSW}}}totalInserted") == "2"
    assert summary.findtext(f".//{{{CSW}}}totalDeleted") == "1"
    nothing_new = etree.fromstring(harvest_response([], updated=0, deleted=0))
    assert xsd.validate(nothing_new), xsd.error_log.last_error
    request = HarvestRequest("https://peer.example/stac", STAC_TYPE, "https://me.example/hook")
    ack = etree.fromstring(acknowledgement(request_document(request), "urn:uuid:1"))
    assert xsd.validate(ack), xsd.error_log.last_error


class _Handler(BaseHTTPRequestHandler):
    """A ResponseHandler endpoint: keeps what the catalogue POSTs to it."""

    received: queue.Queue[bytes] = queue.Queue()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        _Handler.received.put(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_harvest_with_a_response_handler_acknowledges_then_posts_the_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = ScriptedRemote(HarvestSource("x", "http://127.0.0.1:9/stac", "stac"), TEN)
    monkeypatch.setitem(runner.HARVESTERS, "stac", remote)  # the remote archive
    with serving(_Handler) as url:
        client = _client(tmp_path, allowed_hosts=["127.0.0.1"])
        handler = f"{url}/hook"
        query = _kvp(
            source="http://127.0.0.1:9/stac", resourcetype=STAC_TYPE, responsehandler=handler
        )
        answer = client.get("/", query_string=query, environ_overrides={IDENTITY_KEY: ADMIN})
        assert answer.status_code == 200, answer.data
        ack = etree.fromstring(answer.data)
        assert ack.find(f"{{{CSW}}}Acknowledgement/{{{CSW}}}RequestId") is not None
        outcome = etree.fromstring(_Handler.received.get(timeout=30))
        assert outcome.findtext(f".//{{{CSW}}}totalInserted") == "10"


def test_a_harvest_outlasting_the_request_budget_is_acknowledged_and_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """server.timeout_s 5: after 3.75 s the answer is an Acknowledgement, and the
    harvest, released later, still lands every record."""
    release = threading.Event()

    class SlowRemote(ScriptedRemote):
        def pages(self, source: HarvestSource, since: object, settings: Settings):  # type: ignore[no-untyped-def, override]
            release.wait(30)
            return super().pages(source, None, settings)

    remote = SlowRemote(HarvestSource("x", "http://127.0.0.1:9/stac", "stac"), TEN)
    monkeypatch.setitem(runner.HARVESTERS, "stac", remote)
    settings = Settings(
        data_dir=tmp_path / "var", harvest={"allowed_hosts": ["127.0.0.1"]}, server={"timeout_s": 5}
    )
    settings.ensure_dirs()
    create_schema(settings)
    client = Client(behind_edge(settings, "/csw"))
    query = _kvp(source="http://127.0.0.1:9/stac", resourcetype=STAC_TYPE)
    answer = client.get("/", query_string=query, environ_overrides={IDENTITY_KEY: ADMIN})
    assert answer.status_code == 200, answer.data
    assert etree.fromstring(answer.data).find(f"{{{CSW}}}Acknowledgement") is not None
    release.set()
    owned: list[str] = []
    deadline = time.monotonic() + 60  # the harvest runs in the background
    while time.monotonic() < deadline:
        owned = HarvestState(settings.database_url).owned("stac-127.0.0.1-9")
        if len(owned) == 10:
            break
        time.sleep(0.1)
    assert sorted(owned) == TEN


def test_capabilities_advertise_harvest_with_its_resource_types(catalogue: Catalogue) -> None:
    """pycsw's transactions are off; its CSW 2.0.2 capabilities still list Harvest (the
    gateway's), with the resource types it takes, and stay schema-valid."""
    csw = CatalogueServiceWeb(catalogue.url)
    harvest = csw.get_operation_by_name("Harvest")
    assert set(harvest.parameters["ResourceType"]["values"]) == set(RESOURCE_TYPES)
    answer = requests.get(
        catalogue.url,
        params={"service": "CSW", "version": "2.0.2", "request": "GetCapabilities"},
        timeout=10,
    )
    root = etree.fromstring(answer.content)
    xsd = schema("csw202")
    assert xsd.validate(root), xsd.error_log.last_error
    types = root.xpath(
        "//ows:Operation[@name='Harvest']/ows:Parameter[@name='ResourceType']/ows:Value/text()",
        namespaces={"ows": "http://www.opengis.net/ows"},
    )
    assert set(types) == set(RESOURCE_TYPES)
    assert harvest.methods and harvest.methods[0]["url"] == catalogue.url

"""CSW-T ``Harvest`` (CSW 2.0.2, OGC 07-006r1 section 10.12) answered by our harvest
runner, not by pycsw's own: every record goes through ``ProductStore.upsert_many`` and
the pycsw projection in one transaction, so pycsw's table never holds a record the
product store does not (pycsw 2.6's harvest would write only its own table).

The gateway's access control classifies ``Harvest`` as an administrator's operation
(401/403 otherwise); this module checks that again, reads the request (KVP or XML POST),
maps ``ResourceType`` to one of our protocols, runs the harvest synchronously and
answers a ``csw:HarvestResponse`` holding a ``csw:TransactionResponse``. A harvest still
running when three quarters of the gateway's request timeout (``server.timeout_s``)
have passed goes on in the background and the answer is a ``csw:Acknowledgement``
(gunicorn would otherwise kill the worker mid-harvest; its outcome shows in
``ogcsdl harvest --list``). With a ``ResponseHandler`` (an http(s) URL) it answers a
``csw:Acknowledgement`` at once, harvests in a background thread and POSTs the
``csw:HarvestResponse`` to the handler through the checked fetcher. ``HarvestInterval`` is refused: periodic harvests are
``harvest.sources`` in the configuration, where the operator sees them.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lxml import etree
from lxml.builder import ElementMaker

from ogcsdl.config import Settings
from ogcsdl.errors import (
    InvalidParameterValue,
    MissingParameterValue,
    OgcsdlError,
    OperationNotSupported,
)
from ogcsdl.harvest.model import HarvestSource, default_name
from ogcsdl.harvest.transport import SAFE_PARSER
from ogcsdl.security.identity import AccessDenied, NotAuthenticated, identity_of

log = logging.getLogger(__name__)

CSW = "http://www.opengis.net/cat/csw/2.0.2"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
PUBLICATION_XSD = "http://schemas.opengis.net/csw/2.0.2/CSW-publication.xsd"
# ResourceType -> our protocol. CSW 2.0.2 and ISO 19139 are the types CSW 2.0.2 and
# its ISO application profile name; OpenSearch and STAC API sources by their
# specification's namespace (the standard leaves other types to the server).
RESOURCE_TYPES = {
    CSW: "csw",
    "http://www.isotc211.org/2005/gmd": "iso",
    "http://a9.com/-/spec/opensearch/1.1/": "opensearch",
    "https://api.stacspec.org/v1.0.0/core": "stac",
}


class HarvestFailed(OgcsdlError):
    """The source could not be harvested (down, refused, garbage): a gateway error."""

    status = 502


@dataclass(frozen=True)
class HarvestRequest:
    source: str
    resource_type: str
    response_handler: str | None = None

    @property
    def protocol(self) -> str:
        return RESOURCE_TYPES[self.resource_type]


def _kvp(query: str) -> dict[str, str]:
    return {key.lower(): value for key, value in parse_qsl(query, keep_blank_values=True)}


def _xml(body: bytes) -> dict[str, str]:
    try:
        root = etree.fromstring(body, SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidParameterValue(f"the Harvest request is not well-formed XML: {exc}") from None
    if root.tag != f"{{{CSW}}}Harvest":
        raise InvalidParameterValue(
            "Harvest is offered for CSW 2.0.2 (a csw:Harvest of that namespace)", "version"
        )
    values = {key.lower(): value for key, value in root.attrib.items()}
    for child in root:
        if isinstance(child.tag, str) and child.tag.startswith(f"{{{CSW}}}"):
            values[etree.QName(child).localname.lower()] = (child.text or "").strip()
    return values


def parse_request(query: str, body: bytes | None) -> HarvestRequest:
    """The Harvest request from KVP (GET) or an XML body (POST)."""
    values = _xml(body) if body else _kvp(query)
    if values.get("service", "CSW").upper() != "CSW":
        raise InvalidParameterValue("service must be CSW", "service")
    if values.get("version", "2.0.2") != "2.0.2":
        raise InvalidParameterValue("Harvest is offered for CSW version 2.0.2", "version")
    source = values.get("source", "").strip()
    if not source:
        raise MissingParameterValue("Harvest needs a Source (the URL to harvest)", "Source")
    if urlsplit(source).scheme not in ("http", "https") or not urlsplit(source).hostname:
        raise InvalidParameterValue("Source must be an http(s) URL", "Source")
    resource_type = values.get("resourcetype", "").strip()
    if not resource_type:
        raise MissingParameterValue("Harvest needs a ResourceType", "ResourceType")
    if resource_type not in RESOURCE_TYPES:
        raise InvalidParameterValue(
            f"ResourceType {resource_type!r} is not harvested here; use one of "
            + ", ".join(RESOURCE_TYPES),
            "ResourceType",
        )
    if values.get("harvestinterval", "").strip():
        raise InvalidParameterValue(
            "HarvestInterval is not offered: periodic harvests are configured by the "
            "operator (harvest.sources); this server harvests a Harvest request once",
            "HarvestInterval",
        )
    handler = values.get("responsehandler", "").strip() or None
    if handler is not None and urlsplit(handler).scheme not in ("http", "https"):
        raise InvalidParameterValue(
            "ResponseHandler must be an http(s) URL (the response is POSTed there)",
            "ResponseHandler",
        )
    return HarvestRequest(source, resource_type, handler)


def authorize(environ: dict[str, Any], settings: Settings) -> None:
    """Harvest is an administrator's operation (the gateway's access control already
    refused everyone else; checked again here, where the operation runs)."""
    if not settings.harvest.csw_harvest:
        raise OperationNotSupported(
            "Harvest is disabled on this server (harvest.csw_harvest)", "request"
        )
    identity = identity_of(environ)
    if identity is None or identity.is_anonymous:
        raise NotAuthenticated("Harvest needs an administrator's credential")
    if not identity.is_admin:
        raise AccessDenied("Harvest needs the admin role")


def _source(request: HarvestRequest) -> HarvestSource:
    return HarvestSource(
        default_name(request.source, request.protocol), request.source, request.protocol
    )


def check_source(request: HarvestRequest, settings: Settings) -> None:
    """The suite's URL check on Source (and ResponseHandler) before anything runs:
    a refused address is the caller's mistake (400), not a failed harvest."""
    from ogcsdl.harvest.transport import trusted
    from ogcsdl.jobs import urls

    for url, locator in ((request.source, "Source"), (request.response_handler, "ResponseHandler")):
        if url is not None:
            urls.resolve(url, settings, locator, trusted(url, settings))


def run(request: HarvestRequest, settings: Settings) -> bytes:
    """Harvest now; the ``csw:HarvestResponse`` document, or :class:`HarvestFailed`."""
    from ogcsdl.config import HarvestSourceSettings
    from ogcsdl.harvest.runner import run_harvest

    # Repeated Harvest requests of a source are incremental; like a configured source,
    # it is listed completely (remote deletions) once per default full_every_s.
    full_every_s = HarvestSourceSettings.model_fields["full_every_s"].default
    result = run_harvest(settings, _source(request), full_every_s=full_every_s)
    if not result.ok:
        raise HarvestFailed(f"harvesting {request.source} failed: {result.error}", "Source")
    return harvest_response(result.inserted, result.updated, result.deleted)


def run_within_request(request: HarvestRequest, settings: Settings) -> bytes:
    """:func:`run`, or an Acknowledgement when it outlasts the request's time budget
    (the harvest then finishes in the background)."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["document"] = run(request, settings)
        except Exception as exc:  # noqa: BLE001 - handed to the request thread below
            outcome["error"] = exc
            if "late" in outcome:
                log.warning("background harvest of %s failed: %s", request.source, exc)

    thread = threading.Thread(target=work, name="csw-harvest", daemon=True)
    thread.start()
    thread.join(settings.server.timeout_s * 0.75)
    if thread.is_alive():
        outcome["late"] = True
        log.info("harvest of %s continues in the background", request.source)
        return acknowledgement(request_document(request), f"urn:uuid:{uuid.uuid4()}")
    if "error" in outcome:
        raise outcome["error"]
    return bytes(outcome["document"])


def harvest_response(inserted: list[tuple[str, str]], updated: int, deleted: int) -> bytes:
    csw = ElementMaker(namespace=CSW, nsmap={"csw": CSW, "dc": DC, "xsi": XSI})
    dc = ElementMaker(namespace=DC)
    summary = csw.TransactionSummary(
        csw.totalInserted(str(len(inserted))),
        csw.totalUpdated(str(updated)),
        csw.totalDeleted(str(deleted)),
        requestId=f"urn:uuid:{uuid.uuid4()}",
    )
    transaction = csw.TransactionResponse(summary, version="2.0.2")
    if inserted:
        transaction.append(
            csw.InsertResult(
                *(
                    csw.BriefRecord(dc.identifier(identifier), dc.title(title), dc.type("dataset"))
                    for identifier, title in inserted
                )
            )
        )
    root = csw.HarvestResponse(transaction)
    root.set(f"{{{XSI}}}schemaLocation", f"{CSW} {PUBLICATION_XSD}")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def acknowledgement(request_xml: bytes, request_id: str) -> bytes:
    """``csw:Acknowledgement`` echoing the request (as CSW 2.0.2 asks)."""
    csw = ElementMaker(namespace=CSW, nsmap={"csw": CSW, "xsi": XSI})
    echoed = csw.EchoedRequest()
    echoed.append(etree.fromstring(request_xml, SAFE_PARSER))
    root = csw.HarvestResponse(
        csw.Acknowledgement(
            echoed,
            csw.RequestId(request_id),
            timeStamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    )
    root.set(f"{{{XSI}}}schemaLocation", f"{CSW} {PUBLICATION_XSD}")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def request_document(request: HarvestRequest) -> bytes:
    """The request as a ``csw:Harvest`` document (a KVP request has none to echo)."""
    csw = ElementMaker(namespace=CSW, nsmap={"csw": CSW})
    root = csw.Harvest(
        csw.Source(request.source),
        csw.ResourceType(request.resource_type),
        service="CSW",
        version="2.0.2",
    )
    if request.response_handler:
        root.append(csw.ResponseHandler(request.response_handler))
    return bytes(etree.tostring(root))


def start_async(request: HarvestRequest, settings: Settings) -> bytes:
    """Acknowledge now; harvest in a thread and POST the outcome to the handler."""
    request_id = f"urn:uuid:{uuid.uuid4()}"
    thread = threading.Thread(
        target=_harvest_and_report,
        args=(request, settings, request_id),
        name=f"csw-harvest-{request_id[-8:]}",
        daemon=True,
    )
    thread.start()
    return acknowledgement(request_document(request), request_id)


def _harvest_and_report(request: HarvestRequest, settings: Settings, request_id: str) -> None:
    from ogcsdl.errors import render_error
    from ogcsdl.harvest.transport import SourceError, fetch

    try:
        body = run(request, settings)
    except OgcsdlError as error:
        body = render_error(error, "ows11")[2]
    except Exception:  # noqa: BLE001 - a thread has nobody else to tell
        log.exception("asynchronous harvest %s of %s failed", request_id, request.source)
        return
    assert request.response_handler is not None
    try:
        fetch(request.response_handler, settings, body=body)
    except SourceError as error:
        log.warning(
            "harvest %s: the ResponseHandler did not take the answer: %s", request_id, error
        )

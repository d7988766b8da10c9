"""The catalogue proxy's checks: what pycsw 2.6 answers with a 500 or a wrong 200.

* CSW/OpenSearch ``maxrecords`` and ``startposition`` must be whole numbers (pycsw
  converts ``maxrecords=abc`` or ``1e400`` with ``int()`` and fails with a 500, and takes
  a negative ``startposition`` as given): refused here as InvalidParameterValue; so is
  a GetCapabilities ``updateSequence`` that is not a whole number (KVP or XML; pycsw's
  ``int()`` again), as InvalidUpdateSequence.
* OAI-PMH (``mode=oaipmh``) errors are OAI-PMH documents (OAI-PMH 2.0 section 3.6: HTTP
  200 with an ``<error code=...>``): an unknown or repeated verb is ``badVerb``, another
  repeated argument or a malformed ``from``/``until`` is ``badArgument``, an unknown
  ``metadataPrefix`` is ``cannotDisseminateFormat``, a
  ``set`` the repository does not have is ``noRecordsMatch`` (pycsw ignores ``set``), and a
  GetRecord of an unknown identifier, which pycsw answers with an empty ``GetRecord``, is
  ``idDoesNotExist``; so is a ListMetadataFormats of one (pycsw ignores its
  ``identifier`` and lists every format; the proxy asks pycsw for the record first).
* A ``ResponseHandler`` outside Harvest is refused (:func:`refuse_response_handler`):
  pycsw would send the answer to it by FTP or mail itself, unchecked.
* CSW-T (``publication``): ``Harvest`` is answered by our harvest runner
  (``ogcsdl.harvest.csw_t``), never by pycsw, whose harvest would write its own table
  only; ``Transaction`` (Insert/Update/Delete of raw records) is refused: records are
  published by ingest, processes and harvests into the product store, the one source
  of truth of which pycsw's table is a projection.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from ogcsdl.config import Settings
from ogcsdl.errors import InvalidParameterValue, OperationNotSupported, coded_error
from ogcsdl.wsgi import respond

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_VERBS = {
    "Identify",
    "ListMetadataFormats",
    "ListSets",
    "ListIdentifiers",
    "ListRecords",
    "GetRecord",
}
# The sets pycsw's ListSets offers; every record this suite publishes is a dataset.
OAI_SETS_WITH_RECORDS = {"datasets"}
OAI_SETS = {"datasets", "interactiveResources"}
# pycsw 2.6's output schemas, the metadata formats its ListMetadataFormats lists.
OAI_PREFIXES = {"csw-record", "dif", "fgdc-std", "gm03", "iso19139", "oai_dc"}
_UTC_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UTC_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_WHOLE = re.compile(r"^\d{1,9}$")
_EMPTY_GET_RECORD = re.compile(rb"<(\w+:)?GetRecord\s*/>")


def lowered(query: str) -> dict[str, str]:
    return {key.lower(): value for key, value in parse_qsl(query, keep_blank_values=True)}


def check_update_sequence(value: str | None) -> None:
    """A GetCapabilities ``updateSequence`` (KVP or XML attribute): this catalogue's are
    whole numbers, and pycsw compares the client's with ``int()`` (a 500 for ``zzz``)."""
    if value is not None and value.strip() and not value.strip().isdigit():
        raise coded_error(
            "InvalidUpdateSequence",
            f"updateSequence {value!r} is not one this service issued (they are whole numbers)",
            "updateSequence",
        )


def check_paging(params: dict[str, str]) -> None:
    """CSW 2.0.2/3.0 and OpenSearch paging numbers (maxRecords >= 0, startPosition >= 1)."""
    check_update_sequence(params.get("updatesequence"))
    for key, minimum in (("maxrecords", 0), ("startposition", 1)):
        value = params.get(key)
        if value is None or value == "":
            continue
        if not _WHOLE.match(value.strip()) or int(value) < minimum:
            raise InvalidParameterValue(
                f"{key} must be a whole number of at least {minimum}, not {value!r}", key
            )


def _oai_time(value: str) -> datetime | None:
    if _UTC_DATE.match(value):
        try:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            return None
    if _UTC_DATETIME.match(value):
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


def repeated_keys(query: str) -> set[str]:
    """The (lower-cased) arguments a query string gives more than once."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for key, _value in parse_qsl(query, keep_blank_values=True):
        (repeated if key.lower() in seen else seen).add(key.lower())
    return repeated


def oai_error(params: dict[str, str], repeated: set[str] | None = None) -> tuple[str, str] | None:
    """(OAI-PMH error code, message) for a request pycsw would answer wrongly (it took
    the last of repeated arguments, and called an unknown metadataPrefix a badArgument)."""
    verb = params.get("verb", "")
    if verb not in OAI_VERBS or "verb" in (repeated or ()):
        return "badVerb", "verb must be one of " + ", ".join(sorted(OAI_VERBS)) + ", once"
    if repeated:
        return "badArgument", f"arguments given more than once: {', '.join(sorted(repeated))}"
    prefix = params.get("metadataprefix")
    if prefix is not None and "resumptiontoken" not in params and prefix not in OAI_PREFIXES:
        if verb in ("ListRecords", "ListIdentifiers", "GetRecord"):
            return (
                "cannotDisseminateFormat",
                f"no metadata format {prefix!r}; ListMetadataFormats lists them",
            )
    if verb not in ("ListRecords", "ListIdentifiers"):
        return None
    times = {}
    for key in ("from", "until"):
        if key in params:
            parsed = _oai_time(params[key])
            if parsed is None:
                return "badArgument", f"{key} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ"
            times[key] = params[key], parsed
    if len(times) == 2:
        (start_text, start), (end_text, end) = times["from"], times["until"]
        if len(start_text) != len(end_text):
            return "badArgument", "from and until must have the same granularity"
        if start > end:
            return "badArgument", "from is later than until"
    if "set" in params and "resumptiontoken" not in params:
        if params["set"] not in OAI_SETS:
            return "badArgument", f"no set {params['set']!r}; ListSets lists the sets"
        if params["set"] not in OAI_SETS_WITH_RECORDS:
            return "noRecordsMatch", f"set {params['set']!r} has no records"
    return None


def oai_error_document(
    base_url: str, params: dict[str, str], code: str, message: str, original: dict[str, str]
) -> bytes:
    """An OAI-PMH response carrying one error (OAI-PMH 2.0 section 3.6)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The request element echoes the arguments only when they were legal (section 3.6).
    echo = (
        ""
        if code in ("badVerb", "badArgument")
        else "".join(
            f" {key}={quoteattr(value)}"
            for key, value in original.items()
            if key in ("verb", "identifier", "metadataPrefix", "from", "until", "set")
        )
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAI-PMH xmlns="{OAI_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
        f"  <responseDate>{now}</responseDate>\n"
        f"  <request{echo}>{escape(base_url)}</request>\n"
        f'  <error code="{code}">{escape(message)}</error>\n'
        "</OAI-PMH>\n"
    ).encode()


def is_unknown_record(params: dict[str, str], body: bytes) -> bool:
    """pycsw's answer to a GetRecord of an identifier it does not hold."""
    return params.get("verb") == "GetRecord" and bool(_EMPTY_GET_RECORD.search(body))


CSW_NS = "http://www.opengis.net/cat/csw/2.0.2"
CSW30_NS = "http://www.opengis.net/cat/csw/3.0"
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _post_body(environ: dict[str, Any]) -> bytes:
    """The request body (the gateway's edge bounded it), put back for the proxy."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _root_operation(body: bytes) -> str | None:
    """``Harvest`` or ``Transaction`` when the body is that CSW 2.0.2 or 3.0 request
    (a 3.0 Harvest is then refused by version, not handed to pycsw); a GetCapabilities
    body has its ``updateSequence`` checked."""
    if not body.strip():
        return None
    try:
        root = etree.fromstring(body, _SAFE_PARSER)
    except etree.XMLSyntaxError:
        return None  # pycsw answers what it cannot parse
    name = etree.QName(root)
    if name.namespace in (CSW_NS, CSW30_NS) and name.localname == "GetCapabilities":
        check_update_sequence(root.get("updateSequence"))
    if name.namespace in (CSW_NS, CSW30_NS) and name.localname in ("Harvest", "Transaction"):
        return name.localname
    if any(
        isinstance(child.tag, str) and etree.QName(child).localname == "ResponseHandler"
        for child in root
    ):
        refuse_response_handler()
    return None


def refuse_response_handler() -> None:
    """A ResponseHandler outside Harvest (GetRecords' asynchronous answer).

    pycsw would start the search in a thread and send its result to the handler by
    itself, unchecked and without a timeout: ``ftp://<any host>/`` connected to that host
    (private addresses included), ``mailto:<anyone>`` mailed the results through the
    configured SMTP host, and then answered the request with a 500 (its acknowledgement
    fails in 2.6.2). Our Harvest's ResponseHandler goes through the checked fetcher."""
    raise InvalidParameterValue(
        "ResponseHandler (an asynchronous answer) is offered for Harvest only; "
        "ask again without it for the answer in the response",
        "ResponseHandler",
    )


def publication(
    environ: dict[str, Any], start_response: Callable[..., Any], settings: Settings
) -> list[bytes] | None:
    """Answer a CSW-T request here (None: not one, the proxy passes it to pycsw)."""
    query = environ.get("QUERY_STRING") or ""
    pairs = parse_qsl(query, keep_blank_values=True)
    operations = {value.strip().lower() for key, value in pairs if key.strip().lower() == "request"}
    body = _post_body(environ) if environ.get("REQUEST_METHOD", "GET").upper() == "POST" else b""
    in_body = _root_operation(body)
    if "transaction" in operations or in_body == "Transaction":
        raise OperationNotSupported(
            "Transaction is not offered: records are published by ingest, processes and "
            "harvests into the product store, of which this catalogue is a projection "
            "(use Harvest, or ogcsdl ingest)",
            "request",
        )
    if "harvest" not in operations and in_body != "Harvest":
        if any(key.strip().lower() == "responsehandler" for key, _value in pairs):
            refuse_response_handler()
        return None
    from ogcsdl.harvest import csw_t  # the harvest machinery only when it is used

    csw_t.authorize(environ, settings)
    request = csw_t.parse_request(query, body if in_body else None)
    csw_t.check_source(request, settings)
    if request.response_handler:
        document = csw_t.start_async(request, settings)
    else:
        document = csw_t.run_within_request(request, settings)
    return respond(start_response, 200, document, "application/xml; charset=UTF-8")

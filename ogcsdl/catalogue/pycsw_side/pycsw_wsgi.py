"""The WSGI application gunicorn runs in the catalogue environment: pycsw, hardened.

Like ``pycsw_mappings`` this file runs INSIDE pycsw's interpreter and imports only pycsw
and the standard library. It differs from ``pycsw.wsgi:application`` in these ways:

* the configuration is always ``$PYCSW_CONFIG``: stock pycsw takes ``config=<path>``
  from the query string of any request (and any parameter *containing* "config"),
  letting a client point it at another file;
* an OWS ExceptionReport never travels with ``200 OK``: CSW 2.0.2 answers every
  exception with 200, so the status is taken from the exception code (400 for a
  client's mistake, 404 for an unknown item), as CSW 3.0 does;
* responses are never gzip-compressed (pycsw's gzip path truncates at some levels);
* an OpenSearch query with only ``eo:*`` parameters gets the empty ``q`` that pycsw 2.6
  needs to apply them (it otherwise ignores them and returns everything), and a
  ``time``/``start``/``stop``/``bbox`` (OpenSearch, CSW 3.0 KVP) that is not a date or
  a box is an InvalidParameterValue (pycsw compares it as text: "0 results");
* OAI-PMH ListIdentifiers lists proper headers (pycsw 2.6.2 repeats the first record's
  identifier for every record and wraps headers in ``record`` elements);
* the OpenSearch description's CSW 3.0 Atom template is usable (pycsw 2.6.2 writes
  ``atom%%2Bxml``);
* OAI-PMH lists page in a stable order, end with an empty resumption token and
  take ``from``/``until`` on the datestamp (``pycsw_oai``);
* ``eo:cloudCover`` takes the OpenSearch EO intervals and sets (``[0,20]``, ``{5,80}``;
  ``pycsw_eo_intervals``), and a malformed one is an InvalidParameterValue;
* distributed search forwards hopCount - 1 and bounds slow peers (``pycsw_federation``);
* OpenSearch answers GeoJSON too (``outputFormat=application/geo+json``,
  ``pycsw_geojson``), advertised in the description;
* OpenSearch Atom entries carry time, footprint, EO attributes and enclosures
  (``pycsw_atom``);
* a CSW 3.0 POST request with a GML 3.2 geometry (a BBOX filter) passes pycsw's own
  schema check: pycsw 2.6.2 validates it against a FES 2.0 schema that has no GML
  loaded, so the strict wildcard refuses every gml:Envelope (upstream issue #796, fixed
  in pycsw 3.0); its CSW 3.0 request schemas are compiled with pycsw's own GML 3.2.1
  and its geometry parser reads GML 3.2 as well as 3.1.1;
* GDAL's CSW driver (3.6) echoes the version of the capabilities (3.0.0) into the
  ``version`` attribute of its CSW 2.0.2 request; such a request is read as 2.0.2;
* a search costs little more than its SQL: request schemas are compiled once per
  process, the configuration is parsed once per change of the file (``pycsw_config``),
  the database is not asked whether it is up before each request (``pycsw_database``),
  a worker's long-lived objects are frozen out of the garbage collector's full passes,
  GetRecords' count and page run as SQL text around pycsw's own WHERE clause on an
  AUTOCOMMIT engine (``pycsw_query``) and OAI-PMH headers are read from their record
  (``pycsw_oai``), each giving the answer pycsw gives.
"""

import copy
import functools
import gc
import io
import os
import re
from datetime import datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

import pycsw_database
from lxml import etree
from pycsw import oaipmh, server
from pycsw_atom import enrich_atom_entries
from pycsw_bbox_precision import keep_bbox_precision
from pycsw_config import configuration
from pycsw_eo_intervals import (
    add_numeric_intervals,
    advertise_modification_date,
    invalid_parameter,
)
from pycsw_federation import bound_distributed_search
from pycsw_geojson import GEOJSON, advertise_geojson, atom_to_geojson, wants_geojson
from pycsw_harvest_caps import advertise_harvest, resource_types
from pycsw_oai import expand_resumption_token, fix_oai_paging, headers_from_the_record
from pycsw_query import autocommit_reads, lean_getrecords_query
from pycsw_xml import parse, parse_or_none

CONFIG_PATH = os.environ["PYCSW_CONFIG"]
PYCSW_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(server.__file__)))
HARVEST_RESOURCE_TYPES = resource_types(CONFIG_PATH)  # empty: Harvest is disabled

_EXCEPTION_CODE = re.compile(rb'<(?:\w+:)?Exception\s[^>]*exceptionCode="([A-Za-z]+)"')
_STATUS_BY_CODE = {
    "NotFound": "404 Not Found",
    "OperationProcessingFailed": "500 Internal Server Error",
}
# pycsw says NoApplicableCode both for a malformed/invalid request document (the
# client's fault) and when its configuration or database fails (ours):
_SERVER_FAULTS = (b"Could not initialize repository", b"Could not load")


def _status(status: str, body: bytes) -> str:
    """The HTTP status of a pycsw answer: an ExceptionReport is never 200, and its
    status follows the exception code (pycsw 3.0 sends "400 Internal Server Error")."""
    if b"ExceptionReport" not in body[:600]:
        return status
    match = _EXCEPTION_CODE.search(body)
    code = match.group(1).decode() if match else "NoApplicableCode"
    if code == "NoApplicableCode" and any(fault in body for fault in _SERVER_FAULTS):
        return "503 Service Unavailable"
    return _STATUS_BY_CODE.get(code, "400 Bad Request")


def _fix_oai_list_identifiers() -> None:
    """Answer ListIdentifiers by building ListRecords (whose headers pycsw gets right)
    and keeping only the headers."""
    original = oaipmh.OAIPMH.response

    def response(self, csw_response, kvp, repository, server_url):
        if kvp.get("verb") != "ListIdentifiers":
            return original(self, csw_response, kvp, repository, server_url)
        node = original(self, csw_response, {**kvp, "verb": "ListRecords"}, repository, server_url)
        oai = self.namespaces["oai"]
        for request in node.iter(f"{{{oai}}}request"):
            request.set("verb", "ListIdentifiers")
        for listing in node.iter(f"{{{oai}}}ListRecords"):
            listing.tag = f"{{{oai}}}ListIdentifiers"
            for record in listing.findall(f"{{{oai}}}record"):
                header = record.find(f"{{{oai}}}header")
                if header is not None:
                    record.addprevious(header)
                listing.remove(record)
        return node

    oaipmh.OAIPMH.response = response


_fix_oai_list_identifiers()
enrich_atom_entries()
keep_bbox_precision()
add_numeric_intervals()
fix_oai_paging()
headers_from_the_record()
lean_getrecords_query()
autocommit_reads()
bound_distributed_search(CONFIG_PATH)


def _csw3_filters_take_gml() -> None:
    """pycsw's CSW 3.0 request check compiles ``csw<Request>.xsd`` with FES 2.0 but no GML,
    and its geometry parser reads GML 3.1.1 only: compile the request schemas with
    pycsw's bundled GML 3.2.1 beside them (3.1.1 cannot be compiled offline: it needs
    SMIL), and read GML 3.2 geometries (the GML of FES 2.0) as their 3.1.1 twins, which
    have the same element names."""
    from functools import lru_cache

    from pycsw.ogc.csw import csw3
    from pycsw.ogc.gml import gml3

    schemas = os.path.join(PYCSW_ROOT, "pycsw", "core", "schemas", "ogc", "gml")
    gml = os.path.join(schemas, "3.2.1", "gml.xsd")
    imports = f'<xsd:import namespace="{_GML32}" schemaLocation={quoteattr(gml)}/>'

    @lru_cache(maxsize=8)
    def with_gml(path: str) -> etree.XMLSchema:
        wrapper = (
            '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'targetNamespace="http://www.opengis.net/cat/csw/3.0" elementFormDefault="qualified">'
            f"<xsd:include schemaLocation={quoteattr(path)}/>{imports}</xsd:schema>"
        )
        return etree.XMLSchema(parse(wrapper, base_url=path + ".with-gml.xsd"))

    class _Etree:
        """lxml.etree as pycsw's CSW 3 module sees it, but for its request schemas."""

        def __getattr__(self, name: str):
            return getattr(etree, name)

        @staticmethod
        def XMLSchema(*args, file=None, **kwargs):  # noqa: N802 - lxml's name
            if file and os.path.dirname(file).endswith(os.path.join("csw", "3.0")):
                return with_gml(os.path.abspath(file))
            if file and not args and not kwargs:  # e.g. the Filter 1.1 schema of OpenSearch
                return _compiled_schema(os.path.abspath(file))
            return etree.XMLSchema(*args, file=file, **kwargs)

    csw3.etree = _Etree()
    read_geometry = gml3.Geometry.__init__

    def read_gml32_too(self, element, nsmap):
        if any(
            node.tag.startswith(f"{{{_GML32}}}")
            for node in element.iter()
            if isinstance(node.tag, str)
        ):
            element = copy.deepcopy(element)
            for node in element.iter():
                if isinstance(node.tag, str) and node.tag.startswith(f"{{{_GML32}}}"):
                    node.tag = f"{{{_GML311}}}" + node.tag[len(_GML32) + 2 :]
        read_geometry(self, element, nsmap)

    gml3.Geometry.__init__ = read_gml32_too


_GML32 = "http://www.opengis.net/gml/3.2"
_GML311 = "http://www.opengis.net/gml"


@functools.lru_cache(maxsize=16)
def _compiled_schema(path: str) -> etree.XMLSchema:
    return etree.XMLSchema(file=path)


def _csw2_request_schemas_compiled_once() -> None:
    """pycsw's CSW 2.0.2 compiles ``CSW-discovery.xsd`` (with FES, GML and OWS) to check
    every POST request: about half a second, most of a GetRecords whatever the
    catalogue's size (and CSW 3.0 / OpenSearch compile the Filter 1.1 schema for each
    query: about 10 ms). Each schema file is compiled once per process instead (the
    request is still validated against it)."""
    from pycsw.ogc.csw import csw2

    compiled = _compiled_schema

    class _Etree:
        """lxml.etree as pycsw's CSW 2 module sees it, its schemas compiled once."""

        def __getattr__(self, name: str):
            return getattr(etree, name)

        @staticmethod
        def XMLSchema(*args, file=None, **kwargs):  # noqa: N802 - lxml's name
            if file and not args and not kwargs:
                return compiled(os.path.abspath(file))
            return etree.XMLSchema(*args, file=file, **kwargs)

    csw2.etree = _Etree()


def _database_answers(engine) -> None:
    """Raise sqlalchemy's error unless the database answers a trivial query."""
    from sqlalchemy import text

    with engine.connect() as connection:
        connection.execute(text("SELECT 1")).scalar()  # consumed: no statement left open


def _repository_reflected_once() -> None:
    """pycsw builds a ``Repository`` for every request, and with it reflects the records
    table from the database (about 60 columns and 60 indexes) and probes for PostGIS:
    0.1-0.4 s before any query, whatever the catalogue's size. The reflected mapping and
    the probe results are kept per process (and database, table); every request still
    gets its own session, filter and queryables from its own context. The database is
    checked first only when a first answer could not reach it (``pycsw_database``)."""
    from pycsw.core import repository
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import create_session

    if getattr(repository.Repository, "_ogcsdl_reflected_once", False):
        return
    original = repository.Repository.__init__
    known: dict = {}
    kept = ("engine", "dataset", "dbtype", "postgis_geometry_column", "fts")

    def __init__(self, database, context, app_root=None, table="records", repo_filter=None):
        key = (database, app_root, table)
        if key not in known:
            original(self, database, context, app_root, table, repo_filter)
            pycsw_database.watch(self.engine)
            known[key] = {name: getattr(self, name) for name in kept}
            return
        self.context = context
        self.filter = repo_filter
        for name, value in known[key].items():
            setattr(self, name, value)
        if pycsw_database.checks_first():  # as pycsw's own __init__ would fail: 503, not 400
            try:
                _database_answers(self.engine)
            except SQLAlchemyError:
                self.engine.dispose()  # pooled connections of a database that restarted
                _database_answers(self.engine)  # raises: "could not load repository"
        self.session = create_session(self.engine)
        # As pycsw's __init__ ends: the queryables of this request's context.
        self.queryables = {}
        for tname in self.context.model["typenames"]:
            for qname in self.context.model["typenames"][tname]["queryables"]:
                self.queryables[qname] = dict(
                    self.context.model["typenames"][tname]["queryables"][qname]
                )
        self.queryables["_all"] = {}
        for qbl in self.queryables:
            self.queryables["_all"].update(self.queryables[qbl])
        self.queryables["_all"].update(self.context.md_core_model["mappings"])

    repository.Repository.__init__ = __init__
    repository.Repository._ogcsdl_reflected_once = True


_csw3_filters_take_gml()
_csw2_request_schemas_compiled_once()
_repository_reflected_once()

_GEO_TIME_PARAMETERS = {"q", "bbox", "time", "start", "stop"}


def _opensearch_query(query: str) -> str:
    keys = {key.lower() for key, _ in parse_qsl(query, keep_blank_values=True)}
    eo_only = any(key.startswith("eo:") for key in keys) and not keys & _GEO_TIME_PARAMETERS
    if eo_only and ("mode", "opensearch") in parse_qsl(query.lower()):
        return query + "&q="
    return query


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_box(text: str) -> bool:
    parts = text.split(",")
    try:
        minx, miny, maxx, maxy = (float(part) for part in parts[:4])
    except ValueError:
        return False
    return len(parts) in (4, 5) and minx <= maxx and miny <= maxy


def _geo_time_error(query: str) -> tuple[str, str] | None:
    """(locator, message) of the first invalid geo/time parameter of an OpenSearch or
    CSW 3.0 KVP GetRecords request (both go through pycsw's OpenSearch filter)."""
    kvp = {key.lower(): value for key, value in parse_qsl(query, keep_blank_values=True)}
    if kvp.get("mode") != "opensearch" and kvp.get("request", "").lower() != "getrecords":
        return None
    for key in ("time", "start", "stop"):
        parts = [part for part in kvp.get(key, "").split("/") if part]
        if key == "time" and len(kvp.get(key, "").split("/")) > 2:
            return key, f"{key} must be START/END (ISO 8601)"
        if not all(_is_datetime(part) for part in parts):
            return key, f"{key} is not an ISO 8601 date or date-time: {kvp[key]!r}"
    if kvp.get("bbox") and not _is_box(kvp["bbox"]):
        return "bbox", f"bbox must be minx,miny,maxx,maxy: {kvp['bbox']!r}"
    return invalid_parameter(kvp)


def _exception_report(locator: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ows20:ExceptionReport xmlns:ows20="http://www.opengis.net/ows/2.0" version="3.0.0">'
        f'<ows20:Exception exceptionCode="InvalidParameterValue" locator={quoteattr(locator)}>'
        f"<ows20:ExceptionText>{escape(message)}</ows20:ExceptionText>"
        "</ows20:Exception></ows20:ExceptionReport>"
    ).encode()


def _oai_error(code: str, message: str) -> bytes:
    """An OAI-PMH error answer (the protocol reports errors with HTTP 200)."""
    stamp = datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f"<responseDate>{stamp}</responseDate><request/>"
        f"<error code={quoteattr(code)}>{escape(message)}</error></OAI-PMH>"
    ).encode()


_CSW202 = b"http://www.opengis.net/cat/csw/2.0.2"


def _gdal_version_fix(environ) -> None:
    if environ.get("REQUEST_METHOD") != "POST":
        return
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if _CSW202 in body[:2000] and b'version="3.0.0"' in body[:2000]:
        root = parse_or_none(body)  # None: pycsw reports the syntax error itself
        if root is not None and root.tag.startswith("{http://www.opengis.net/cat/csw/2.0.2}"):
            if root.get("version") == "3.0.0":
                root.set("version", "2.0.2")
                body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _dispatch(environ):
    """pycsw's answer; a request that could not reach the database is answered once more,
    checking the database first (``pycsw_database``): the answer of a database that is
    back, or pycsw's own "Could not initialize repository"."""
    for check_first in (False, True):
        pycsw_database.begin(check_first)
        csw = server.Csw(configuration(CONFIG_PATH), environ)
        status, contents = csw.dispatch_wsgi()
        if check_first or not pycsw_database.troubled():
            break
        if environ.get("REQUEST_METHOD") == "POST":  # its body: a BytesIO (_gdal_version_fix)
            environ["wsgi.input"].seek(0)
    return csw, status, contents


_answered = [0]


def _long_lived_objects_frozen() -> None:
    """Once the first request has loaded what a worker keeps (pycsw, SQLAlchemy, the
    reflected table, compiled schemas: about 90,000 objects), move it out of the
    garbage collector's sight (``gc.freeze``): every full collection walked all of it,
    about 35 ms that fell on some search, and the younger collections carry less."""
    if _answered[0] == 1:
        gc.collect()  # the first request's own garbage is not kept forever
        gc.freeze()
    _answered[0] = min(_answered[0] + 1, 2)


def application(environ, start_response):
    _long_lived_objects_frozen()
    environ["local.app_root"] = PYCSW_ROOT
    query = environ.get("QUERY_STRING", "")
    invalid = _geo_time_error(query)
    if invalid is not None:
        body = _exception_report(*invalid)
        start_response(
            "400 Bad Request",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
        )
        return [body]
    expanded = expand_resumption_token(query)
    if expanded is None:
        body = _oai_error("badResumptionToken", "the resumptionToken is not one this server issued")
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]
    geojson, expanded = wants_geojson(expanded)
    environ["QUERY_STRING"] = _opensearch_query(expanded)
    _gdal_version_fix(environ)
    environ.pop("HTTP_ACCEPT_ENCODING", None)
    csw, status, contents = _dispatch(environ)
    if isinstance(contents, str):
        contents = contents.encode("utf-8")
    if b"OpenSearchDescription" in contents[:1000]:
        # pycsw 2.6.2 leaves a "%%" of its own string formatting in the CSW 3.0 Atom
        # template (outputformat=application/atom%%2Bxml): clients following it get 400.
        contents = contents.replace(b"application/atom%%2Bxml", b"application/atom%2Bxml")
        contents = advertise_geojson(advertise_modification_date(contents))
    contents = advertise_harvest(contents, HARVEST_RESOURCE_TYPES)
    content_type = str(csw.contenttype)
    converted = atom_to_geojson(contents) if geojson else None
    if converted is not None:  # an exception report stays XML
        contents, content_type = converted, GEOJSON
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(contents))),
    ]
    start_response(_status(status, contents), headers)
    return [contents]

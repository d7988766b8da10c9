"""Harvest a CSW 2.0.2 catalogue (ISO application profile) with OWSLib.

GetRecords in ``outputSchema=gmd``, paged by ``startPosition``, sorted by modification
date, filtered on ``apiso:Modified >= since`` (incremental), the parent identifier
(``--collection``) and a box. OWSLib builds the requests and reads the search results;
the ISO records are read from the page's safely parsed tree by ``iso_reader`` (OWSLib's
full ISO parse of every record cost most of a harvest). Its HTTP goes through the
suite's checked fetcher (``transport.fetch``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from io import BytesIO
from typing import Any

from lxml import etree
from owslib import util
from owslib.catalogue.csw2 import CatalogueServiceWeb, namespaces
from owslib.fes import (
    And,
    BBox,
    PropertyIsEqualTo,
    PropertyIsGreaterThanOrEqualTo,
    SortBy,
    SortProperty,
)
from owslib.ows import ExceptionReport

from ogcsdl.catalogue.iso19139 import iso_datetime
from ogcsdl.config import Settings
from ogcsdl.harvest.iso_reader import identifier_of, iso_record, records_in
from ogcsdl.harvest.model import HarvestSource, Page
from ogcsdl.harvest.transport import SAFE_PARSER, SourceError, fetch

GMD = "http://www.isotc211.org/2005/gmd"
CRS84 = "urn:ogc:def:crs:OGC:1.3:CRS84"
_CSW_ROOTS = {
    util.nspath_eval(name, namespaces)
    for name in ("ows:ExceptionReport", "csw:GetRecordsResponse", "csw:Capabilities")
}


class CheckedCatalogueServiceWeb(CatalogueServiceWeb):
    """OWSLib's CSW client whose requests go through :func:`transport.fetch` (the
    suite's URL check, no redirects, size and time limits) and whose answers are
    parsed without entities or network access."""

    def __init__(self, url: str, settings: Settings) -> None:
        self._settings = settings
        super().__init__(url, skip_caps=True, timeout=settings.harvest.timeout_s)

    def _invoke(self) -> None:  # replaces OWSLib's requests-based transport
        pending: Any = getattr(self, "request")  # noqa: B009 - set by OWSLib, untyped
        request: Any = util.cleanup_namespaces(pending)
        for query in request.findall(util.nspath_eval("csw:Query", namespaces)):
            prefixes = [name.split(":")[0] for name in query.get("typeNames", "").split()]
            request = util.add_namespaces(request, prefixes)
        request = util.add_namespaces(request, "ows")
        self.request = util.element_to_string(request, encoding="utf-8")
        self.response = fetch(self.url, self._settings, body=self.request)
        try:
            self._exml = etree.parse(BytesIO(self.response), SAFE_PARSER)
        except etree.XMLSyntaxError as exc:
            raise SourceError(f"{self.url} answered malformed XML: {exc}") from None
        if self._exml.getroot().tag not in _CSW_ROOTS:
            raise SourceError(f"{self.url} answered XML that is not a CSW GetRecords response")
        if self._exml.getroot().tag == util.nspath_eval("ows:ExceptionReport", namespaces):
            raise ExceptionReport(self._exml, self.owscommon.namespace)
        self.exceptionreport = None

    def _parserecords(self, outputschema: str, esn: str) -> None:
        """ISO records are read by :mod:`.iso_reader` from the page's tree; OWSLib still
        reads brief Dublin Core records (a reconciliation listing)."""
        if outputschema != GMD:
            super()._parserecords(outputschema, esn)


def _constraints(source: HarvestSource, since: datetime | None) -> list[Any]:
    parts: list[Any] = []
    if since is not None:
        parts.append(PropertyIsGreaterThanOrEqualTo("apiso:Modified", iso_datetime(since)))
    if source.collection:
        parts.append(PropertyIsEqualTo("apiso:ParentIdentifier", source.collection))
    if source.bbox:
        parts.append(BBox(list(source.bbox), crs=CRS84))
    if len(parts) > 1:
        return [And(parts)]
    return parts


CSW_RECORD = "http://www.opengis.net/cat/csw/2.0.2"


class CswHarvester:
    def pages(
        self, source: HarvestSource, since: datetime | None, settings: Settings
    ) -> Iterator[Page]:
        for page, root in _paged(
            source,
            settings,
            constraints=_constraints(source, since),
            sort="apiso:Modified",
            esn="full",
            schema=GMD,
        ):
            for metadata in records_in(root):
                page.take(identifier_of(metadata), partial(iso_record, source, metadata))
            page.since_applied = since is not None
            yield page

    def listing(self, source: HarvestSource, settings: Settings) -> Iterator[Page]:
        """Every identifier in scope, as brief Dublin Core records sorted by identifier
        (a stable order while paging): a few hundred bytes per record, not the ISO
        document."""
        for page, _root in _paged(
            source,
            settings,
            constraints=_constraints(source, None),
            sort="apiso:Identifier",
            esn="brief",
            schema=CSW_RECORD,
        ):
            yield page


def _paged(
    source: HarvestSource,
    settings: Settings,
    *,
    constraints: list[Any],
    sort: str,
    esn: str,
    schema: str,
) -> Iterator[tuple[Page, dict[str, Any]]]:
    """GetRecords pages: the page and the answer's root element. OWSLib reads brief
    Dublin Core records (``seen`` then holds their identifiers); ISO records are left to
    the caller."""
    csw = CheckedCatalogueServiceWeb(source.url, settings)
    position = 1
    while True:
        try:
            csw.getrecords2(
                constraints=constraints,
                sortby=SortBy([SortProperty(sort, "ASC")]),
                typenames="gmd:MD_Metadata",
                esn=esn,
                outputschema=schema,
                startposition=position,
                maxrecords=settings.harvest.page_size,
            )
        except ExceptionReport as exc:
            raise SourceError(f"{source.url} answered an exception: {exc}") from None
        except (ValueError, TypeError, AttributeError) as exc:  # OWSLib on odd answers
            raise SourceError(f"{source.url} answered an unusable page: {exc}") from None
        root = csw._exml.getroot()
        if root.tag != util.nspath_eval("csw:GetRecordsResponse", namespaces):
            raise SourceError(f"{source.url} answered {etree.QName(root).localname}, not records")
        if csw.results.get("matches") is None:
            raise SourceError(f"{source.url} answered records without numberOfRecordsMatched")
        page = Page([], matched=csw.results.get("matches"))
        page.seen = [
            identifier
            for identifier in csw.records
            if not identifier.startswith("owslib_random_")  # OWSLib's key for "none"
        ]
        yield page, root
        returned = int(csw.results.get("returned") or 0)
        following = csw.results.get("nextrecord")
        if returned == 0 or not following or following <= position:
            return
        if page.matched is not None and following > page.matched:
            return
        position = following

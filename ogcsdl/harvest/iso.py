"""Harvest one ISO 19139 metadata document (``gmd:MD_Metadata`` at a URL): what a CSW-T
``Harvest`` with ``ResourceType`` ``http://www.isotc211.org/2005/gmd`` asks for. The
document is fetched through the checked fetcher, parsed without entities or network,
and read by OWSLib exactly as a CSW harvest reads each ISO record (``csw.iso_record``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from lxml import etree
from owslib.iso import MD_Metadata

from ogcsdl.config import Settings
from ogcsdl.harvest.csw import GMD, iso_record
from ogcsdl.harvest.model import HarvestSource, Page, RejectedEntry
from ogcsdl.harvest.transport import SourceError, fetch

_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_ROOTS = {f"{{{GMD}}}MD_Metadata", "{http://www.isotc211.org/2005/gmi}MI_Metadata"}


class IsoDocumentHarvester:
    def pages(
        self, source: HarvestSource, since: datetime | None, settings: Settings
    ) -> Iterator[Page]:
        return self.listing(source, settings)

    def listing(self, source: HarvestSource, settings: Settings) -> Iterator[Page]:
        """The one document is the whole source."""
        content = fetch(source.url, settings)
        try:
            root = etree.fromstring(content, _SAFE_PARSER)
        except etree.XMLSyntaxError as exc:
            raise SourceError(f"{source.url} answered malformed XML: {exc}") from None
        if root.tag not in _ROOTS:
            raise SourceError(
                f"{source.url} answered {etree.QName(root).localname}, not an ISO 19139 "
                "MD_Metadata document"
            )
        metadata = MD_Metadata(root)
        page = Page([], matched=1)
        if metadata.identifier:
            page.seen.append(metadata.identifier)
        try:
            page.records.append(iso_record(source, metadata))
        except RejectedEntry as why:
            page.rejected.append(f"{metadata.identifier or source.url}: {why}")
        yield page

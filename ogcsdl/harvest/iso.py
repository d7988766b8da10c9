"""Harvest one ISO 19139 metadata document (``gmd:MD_Metadata`` at a URL): what a CSW-T
``Harvest`` with ``ResourceType`` ``http://www.isotc211.org/2005/gmd`` asks for. The
document is fetched through the checked fetcher, parsed without entities or network,
and read exactly as a CSW harvest reads each ISO record (``iso_reader.iso_record``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial

from lxml import etree

from ogcsdl.config import Settings
from ogcsdl.harvest.iso_reader import RECORD_TAGS, identifier_of, iso_record
from ogcsdl.harvest.model import HarvestSource, Page
from ogcsdl.harvest.transport import SourceError, fetch, parse_xml


class IsoDocumentHarvester:
    def pages(
        self, source: HarvestSource, since: datetime | None, settings: Settings
    ) -> Iterator[Page]:
        return self.listing(source, settings)

    def listing(self, source: HarvestSource, settings: Settings) -> Iterator[Page]:
        """The one document is the whole source."""
        root = parse_xml(fetch(source.url, settings), source.url)
        if root.tag not in RECORD_TAGS:
            raise SourceError(
                f"{source.url} answered {etree.QName(root).localname}, not an ISO 19139 "
                "MD_Metadata document"
            )
        identifier = identifier_of(root)
        page = Page([], matched=1)
        page.take(identifier, partial(iso_record, source, root), label=identifier or source.url)
        yield page

"""Every HTTP request of a harvest goes through the suite's checked fetcher.

GET requests (OpenSearch, STAC, descriptions) and POSTs (CSW GetRecords, STAC searches)
use :func:`ogcsdl.jobs.urls.fetch` itself: its URL check (public addresses only, the
connection pinned to the checked address, GET redirects re-checked, POSTs never
redirected), a size limit (``harvest.max_page_bytes``) and a total deadline
(``harvest.timeout_s``). Until 2026-11 a POST was checked and then sent by name with
requests, which looked the name up again: a DNS answer re-bound between the two lookups
(or an ``HTTP_PROXY`` in the environment) sent it somewhere unchecked. Private and loopback hosts pass only when the operator lists them in
``harvest.allowed_hosts`` (a peer on the same private network; tests on loopback).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode, urlsplit

from lxml import etree

from ogcsdl.config import Settings
from ogcsdl.errors import OgcsdlError
from ogcsdl.jobs import urls


class SourceError(OgcsdlError):
    """The remote catalogue is down, slow, refused or answered something unusable."""


# The one XML parser for everything a remote source sends: no entities, no network, no
# huge-tree mode (a page is bounded by ``harvest.max_page_bytes`` anyway).
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse_xml(content: bytes, url: str) -> etree._Element:
    """The root element of a remote answer; malformed XML is a :class:`SourceError`."""
    try:
        return etree.fromstring(content, SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"{url} answered malformed XML: {exc}") from None


def trusted(url: str, settings: Settings) -> bool:
    """Private hosts are fetched only when the operator listed this host in
    ``harvest.allowed_hosts`` (the fetcher's ``trusted``: operator-configured)."""
    host = (urlsplit(url).hostname or "").lower()
    return bool(host) and host in {name.lower() for name in settings.harvest.allowed_hosts}


def fetch(
    url: str,
    settings: Settings,
    *,
    params: dict[str, str] | None = None,
    body: bytes | None = None,
    content_type: str = "application/xml",
) -> bytes:
    """GET (or POST ``body``) ``url`` and return the answer's bytes; raise
    :class:`SourceError` for anything but a complete 200 answer."""
    if body is None and params:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
    sink = io.BytesIO()
    try:
        urls.fetch(
            url,
            sink,
            settings,
            locator="url",
            max_bytes=settings.harvest.max_page_bytes,
            timeout_s=settings.harvest.timeout_s,
            trusted=trusted(url, settings),
            body=body,
            content_type=content_type,
        )
    except OgcsdlError as error:
        raise SourceError(f"cannot harvest {url}: {error.message}") from None
    return sink.getvalue()

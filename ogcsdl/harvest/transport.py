"""Every HTTP request of a harvest goes through the suite's checked fetcher.

GET requests (OpenSearch, STAC, descriptions) use :func:`ogcsdl.jobs.urls.fetch` itself:
its URL check (public addresses only, the connection pinned to the checked address,
redirects re-checked), a size limit (``harvest.max_page_bytes``) and a deadline
(``harvest.timeout_s``). That fetcher is GET-only, so the CSW POST of OWSLib runs the
same check (:func:`~ogcsdl.jobs.urls.resolve`) first and then posts without following
redirects. Private and loopback hosts pass only when the operator lists them in
``harvest.allowed_hosts`` (a peer on the same private network; tests on loopback).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode, urlsplit

import requests
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
    trusted_host = trusted(url, settings)
    if body is None:
        if params:
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
                trusted=trusted_host,
            )
        except OgcsdlError as error:
            raise SourceError(f"cannot harvest {url}: {error.message}") from None
        return sink.getvalue()
    try:
        urls.resolve(url, settings, "url", trusted_host)
    except OgcsdlError as error:
        raise SourceError(f"refused to fetch {url}: {error.message}") from None
    limit = settings.harvest.max_page_bytes
    try:
        with requests.post(
            url,
            data=body,
            headers={"Content-Type": content_type},
            timeout=settings.harvest.timeout_s,
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.is_redirect:
                raise SourceError(f"{url} redirects to {response.headers.get('Location')}")
            if response.status_code != 200:
                raise SourceError(f"{url} answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise SourceError(f"{url} answered more than {limit} bytes")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise SourceError(f"cannot fetch {url}: {exc.__class__.__name__}") from None
    return b"".join(chunks)

"""Every HTTP request of a harvest: the suite's URL check first, then a bounded fetch.

The check is the suite's one (:func:`ogcsdl.jobs.urls.check_url`): private and loopback
addresses are refused unless the host is in ``harvest.allowed_hosts``. Redirects are
not followed (a public URL must not bounce the server to a private one); a page larger
than ``harvest.max_page_bytes`` or slower than ``harvest.timeout_s`` is a failure.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from ogcsdl.config import Settings
from ogcsdl.errors import OgcsdlError
from ogcsdl.jobs.urls import check_url


class SourceError(OgcsdlError):
    """The remote catalogue is down, slow, refused or answered something unusable."""


def _check_settings(url: str, settings: Settings) -> Settings:
    """The settings the URL check runs with: private hosts are allowed only when the
    operator listed this host in ``harvest.allowed_hosts``."""
    host = (urlsplit(url).hostname or "").lower()
    if host and host in {name.lower() for name in settings.harvest.allowed_hosts}:
        security = settings.security.model_copy(update={"allow_private_urls": True})
        return settings.model_copy(update={"security": security})
    return settings


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
    try:
        check_url(url, _check_settings(url, settings), locator="url")
    except OgcsdlError as error:
        raise SourceError(f"refused to fetch {url}: {error.message}") from None
    limit = settings.harvest.max_page_bytes
    try:
        with requests.request(
            "POST" if body is not None else "GET",
            url,
            params=params,
            data=body,
            headers={"Content-Type": content_type} if body is not None else None,
            timeout=settings.harvest.timeout_s,
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.is_redirect:
                raise SourceError(f"{url} redirects to {response.headers.get('Location')}")
            if response.status_code != 200:
                raise SourceError(f"{response.url} answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise SourceError(f"{url} answered more than {limit} bytes")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise SourceError(f"cannot fetch {url}: {exc.__class__.__name__}: {exc}") from None
    return b"".join(chunks)

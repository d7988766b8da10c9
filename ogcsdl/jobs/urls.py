"""Which URLs a job may fetch, and fetching them safely.

Only http(s). The host is resolved and every address it resolves to must be public
(not private, loopback, link-local, multicast, reserved or unspecified) unless
``security.allow_private_urls`` is set. The check runs when the job is submitted (so
the user gets a 4xx at once) and again right before the fetch (DNS may have changed).
URLs of this suite itself are never fetched over HTTP: see :func:`own_product_id`.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from ogcsdl.config import Settings
from ogcsdl.errors import Forbidden, InvalidParameterValue, PayloadTooLarge


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_url(url: str, settings: Settings, locator: str = "href") -> str:
    """Return ``url`` if the suite may fetch it, else raise :class:`Forbidden`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Forbidden(
            f"only http and https references are allowed, not {parts.scheme or 'a bare path'!r}",
            locator,
        )
    if not parts.hostname:
        raise InvalidParameterValue(f"the reference {url!r} has no host", locator)
    if settings.security.allow_private_urls:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 0, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InvalidParameterValue(f"the host of {url!r} cannot be resolved", locator) from None
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise Forbidden(
                f"the reference {url!r} points to a private or loopback address ({address}); "
                "the server refuses to fetch it",
                locator,
            )
    return url


def own_product_id(url: str, settings: Settings) -> str | None:
    """The catalogue product id a URL of this suite names, or None if it is not ours.

    Recognised: ``<public>/data/<id>.tif``, WCS 2.0 ``<public>/wcs?...&coverageId=<id>``,
    WMS ``...?layers=<id>`` (the layer name is the product id) and OGC API - Coverages
    ``<public>/coverages/collections/<id>/coverage``."""
    public = urlsplit(settings.public_url)
    parts = urlsplit(url)
    if (parts.scheme, parts.netloc) != (public.scheme, public.netloc):
        return None
    path = (
        parts.path[len(public.path.rstrip("/")) :]
        if parts.path.startswith(public.path)
        else parts.path
    )
    if path.startswith("/data/") and path.endswith(".tif"):
        return path[len("/data/") : -len(".tif")] or None
    if path.startswith("/coverages/collections/"):  # OGC API - Coverages
        return path[len("/coverages/collections/") :].split("/")[0] or None
    query = {key.lower(): values for key, values in parse_qs(parts.query).items()}
    for key in ("coverageid", "identifier", "layers", "layer"):
        if query.get(key):
            return query[key][0].split(",")[0] or None
    return None


def fetch_to_file(url: str, target: Path, settings: Settings) -> Path:
    """Download ``url`` into ``target`` after re-checking it; refuses redirects so a
    public URL cannot bounce the server to a private one."""
    check_url(url, settings)
    limit = settings.processing.fetch_max_bytes
    written = 0
    try:
        with requests.get(
            url, stream=True, timeout=settings.processing.fetch_timeout_s, allow_redirects=False
        ) as response:
            if response.is_redirect:
                raise InvalidParameterValue(
                    f"the reference {url!r} redirects; give the final URL", "href"
                )
            if response.status_code != 200:
                raise InvalidParameterValue(
                    f"fetching {url!r} answered HTTP {response.status_code}", "href"
                )
            with target.open("wb") as sink:
                for chunk in response.iter_content(1024 * 1024):
                    written += len(chunk)
                    if written > limit:
                        raise PayloadTooLarge(
                            f"the reference {url!r} is larger than {limit} bytes", "href"
                        )
                    sink.write(chunk)
    except requests.RequestException as exc:
        raise InvalidParameterValue(
            f"cannot fetch {url!r}: {exc.__class__.__name__}", "href"
        ) from None
    return target

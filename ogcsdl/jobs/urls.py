"""The one checked fetcher: every URL the suite fetches goes through :func:`fetch`.

Rules for a URL a user gave us (a job input, a reference):

- only ``http`` and ``https``;
- the host is resolved once and every address must be public: not private, loopback,
  link-local, multicast, reserved, unspecified, shared (100.64.0.0/10, carrier NAT),
  nor an IPv6 form that embeds such an IPv4 address (IPv4-mapped, 6to4 ``2002::/16``,
  NAT64 ``64:ff9b::/96``); Teredo ``2001::/32`` tunnels are refused outright;
- the connection goes to the address that was checked (no second DNS lookup, so a
  name cannot be re-bound to an internal address between check and fetch);
- redirects are followed by hand, at most :data:`MAX_REDIRECTS`, each hop checked again
  (a POST is never redirected: its body would go to a place nobody checked it for);
- a total deadline holds from the first connection to the last byte, whatever the remote
  does (see :class:`_Deadline`), and a size limit while the body streams.

Errors never say what an internal name resolved to. ``security.allow_private_urls``
lifts the address rule (tests, closed networks); the scheme rule always holds. URLs of
this suite itself are never fetched over HTTP: see :func:`own_product_id`. The check runs
when the job is submitted (the user gets a 4xx at once) and again at fetch time.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import parse_qs, urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

from ogcsdl.config import Settings
from ogcsdl.errors import Forbidden, InvalidParameterValue, PayloadTooLarge

MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_TEREDO = ipaddress.ip_network("2001::/32")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Whether the suite may connect to ``ip`` on a user's behalf."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _TEREDO:
            return False  # the client address is obfuscated; nothing to check it against
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public(embedded)
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


@dataclass(frozen=True)
class Target:
    """A URL split into what the connection needs, with the address that was checked."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def _parse(url: str, locator: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Forbidden(
            f"only http and https references are allowed, not {parts.scheme or 'a bare path'!r}",
            locator,
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidParameterValue(f"the reference {url!r} has an invalid port", locator) from None
    if not parts.hostname:
        raise InvalidParameterValue(f"the reference {url!r} has no host", locator)
    return parts.scheme, parts.hostname, port


def resolve(url: str, settings: Settings, locator: str = "href", trusted: bool = False) -> Target:
    """Check ``url`` and pick the address to connect to; raise a 4xx error otherwise.

    ``trusted``: the operator configured this URL (e.g. an OIDC issuer's JWKS), so a
    private address is allowed; the scheme rule still holds."""
    scheme, host, port = _parse(url, locator)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise InvalidParameterValue(f"the host of {url!r} cannot be resolved", locator) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise InvalidParameterValue(f"the host of {url!r} cannot be resolved", locator)
    if any(address.is_link_local for address in addresses):
        # Link-local holds cloud metadata services (169.254.169.254): never, whatever
        # allow_private_urls says.
        raise Forbidden(
            f"the reference {url!r} points to a link-local address; the server refuses to fetch it",
            locator,
        )
    if not (trusted or settings.security.allow_private_urls):
        if not all(is_public(address) for address in addresses):
            # Which address it was stays in the server: it maps the internal network.
            raise Forbidden(
                f"the reference {url!r} points to a private, loopback or otherwise "
                "non-public address; the server refuses to fetch it",
                locator,
            )
    return Target(url, scheme, host, port, str(addresses[0]))


def check_url(url: str, settings: Settings, locator: str = "href") -> str:
    """Return ``url`` if the suite may fetch it, else raise (used at submission)."""
    resolve(url, settings, locator)
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


class _Deadline:
    """Ends a fetch at its deadline, whatever the remote does. A socket timeout bounds each
    read, not the fetch: a server that sends a byte every few seconds, in its headers or
    its body, would hold a fetch (and the worker running it) for as long as it liked. At
    the deadline every socket the fetch opened is shut down, which ends a blocked read at
    once; the fetch then fails with "took too long"."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()

    def too_long(self, url: str, locator: str) -> InvalidParameterValue:
        return InvalidParameterValue(
            f"fetching {url!r} took too long: the whole answer must arrive within "
            f"{self.seconds:g} s",
            locator,
        )

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the raw socket, under TLS too
    except OSError:
        pass  # already closed


if TYPE_CHECKING:
    _ConnectionBase = HTTPConnection  # what the mixin below extends
else:
    _ConnectionBase = object


class _Watched(_ConnectionBase):
    """A connection whose socket its fetch's :class:`_Deadline` shuts down."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()
        self._deadline.watch(self.sock)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _pool(target: Target, deadline: _Deadline) -> urllib3.HTTPConnectionPool:
    """A connection pool to the checked address; TLS still verifies the host's name."""
    remaining = deadline.remaining()
    timeout = urllib3.Timeout(connect=min(10.0, remaining), read=remaining)
    if target.scheme == "https":
        return _HTTPSPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
            deadline=deadline,
        )
    return _HTTPPool(target.address, target.port, timeout=timeout, retries=False, deadline=deadline)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _failed(url: str, error: Exception, locator: str, deadline: _Deadline) -> InvalidParameterValue:
    if deadline.expired:
        return deadline.too_long(url, locator)
    return InvalidParameterValue(f"cannot fetch {url!r}: {error.__class__.__name__}", locator)


@contextmanager
def _open(
    url: str,
    settings: Settings,
    locator: str,
    trusted: bool,
    deadline: _Deadline,
    body: bytes | None = None,
    content_type: str | None = None,
) -> Iterator[urllib3.BaseHTTPResponse]:
    """The final response of ``url`` after checked redirects (status still to check)."""
    headers = {"User-Agent": "ogcsdl"}
    if body is not None:
        headers["Content-Type"] = content_type or "application/octet-stream"
    for _hop in range(MAX_REDIRECTS + 1):
        target = resolve(url, settings, locator, trusted)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if deadline.remaining() <= 0:
            raise deadline.too_long(url, locator)
        pool = _pool(target, deadline)
        try:
            response = pool.urlopen(
                "GET" if body is None else "POST",
                path,
                body=body,
                headers={**headers, "Host": _host_header(target)},
                redirect=False,
                preload_content=False,
                assert_same_host=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            pool.close()
            raise _failed(url, exc, locator, deadline) from None
        try:
            location = response.headers.get("Location")
            if response.status in _REDIRECTS and location:
                if body is not None:
                    raise InvalidParameterValue(
                        f"{url!r} redirects a POST to {urljoin(url, location)!r}", locator
                    )
                url = urljoin(url, location)
                continue
            yield response
            return
        finally:
            response.release_conn()
            pool.close()
    raise InvalidParameterValue(f"the reference redirects more than {MAX_REDIRECTS} times", locator)


def fetch(
    url: str,
    sink: BinaryIO,
    settings: Settings,
    locator: str = "href",
    max_bytes: int | None = None,
    timeout_s: float | None = None,
    trusted: bool = False,
    body: bytes | None = None,
    content_type: str | None = None,
) -> int:
    """Stream ``url`` into ``sink`` after every check above; return the byte count. With
    ``body``, POST it (as ``content_type``) instead of a GET."""
    limit = max_bytes or settings.processing.fetch_max_bytes
    written = 0
    with _Deadline(timeout_s or settings.processing.fetch_timeout_s) as deadline:
        with _open(url, settings, locator, trusted, deadline, body, content_type) as response:
            if response.status != 200:
                raise InvalidParameterValue(
                    f"fetching {url!r} answered HTTP {response.status}", locator
                )
            chunks = response.stream(64 * 1024)
            while True:
                try:  # only the remote's failures are the reference's fault, not the sink's
                    chunk = next(chunks, None)
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    raise _failed(url, exc, locator, deadline) from None
                if chunk is None:
                    break
                written += len(chunk)
                if written > limit:
                    raise PayloadTooLarge(
                        f"the reference {url!r} is larger than {limit} bytes", locator
                    )
                sink.write(chunk)
        if deadline.expired:  # a body without a length ends at the shutdown: not complete
            raise deadline.too_long(url, locator)
    return written


def fetch_bytes(url: str, settings: Settings, max_bytes: int, trusted: bool = False) -> bytes:
    """Small documents (e.g. a JWKS) fetched with the same rules, into memory."""
    import io

    buffer = io.BytesIO()
    fetch(url, buffer, settings, max_bytes=max_bytes, trusted=trusted)
    return buffer.getvalue()


def fetch_to_file(url: str, target: Path, settings: Settings, locator: str = "href") -> Path:
    """Download ``url`` into ``target`` (a job's work directory) through :func:`fetch`."""
    with target.open("wb") as sink:
        fetch(url, sink, settings, locator)
    return target

"""The client's address behind trusted reverse proxies (``server.trusted_proxies``).

Behind a front proxy (nginx, see ``config/nginx-front.conf.template``) every request
comes from the proxy's address, so anonymous quotas (``security/middleware.py``), which
key on ``REMOTE_ADDR``, would put every anonymous client in one bucket. When the peer is
a trusted proxy, the client is the right-most ``X-Forwarded-For`` address that is not
itself a trusted proxy (each proxy appends the address it received the request from;
everything left of the first untrusted address was written by the client and could be
anything). From an untrusted peer the header is ignored.

werkzeug's ``ProxyFix`` trusts a fixed number of hops whatever the peer is, so a client
reaching the gateway directly could choose its own address: not used for that reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The proxy's own address, kept for the logs when REMOTE_ADDR is replaced.
PEER_KEY = "ogcsdl.proxy_peer"


def _address(text: str) -> IPAddress | None:
    """An address as proxies write it ("203.0.113.7", "2001:db8::1", "[2001:db8::1]")."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: str, trusted: Sequence[IPNetwork]) -> str:
    """The client's address for a request from ``peer`` carrying ``forwarded_for``."""

    def is_trusted(address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in trusted)

    peer_address = _address(peer)
    if peer_address is None or not is_trusted(peer_address):
        return peer
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        address = _address(entry)
        if address is None:
            break  # a malformed entry: nothing further left can be believed
        client = str(address)
        if not is_trusted(address):
            break
    return client


class TrustedProxies:
    """WSGI middleware setting ``REMOTE_ADDR`` (and, from a trusted peer, the scheme from
    ``X-Forwarded-Proto``) before access control runs."""

    def __init__(self, app: Callable[..., Iterable[bytes]], trusted: Sequence[Any]) -> None:
        self.app = app
        self.trusted = [ipaddress.ip_network(net) for net in trusted]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        peer = str(environ.get("REMOTE_ADDR") or "")
        client = client_address(peer, str(environ.get("HTTP_X_FORWARDED_FOR") or ""), self.trusted)
        if client != peer:
            environ[PEER_KEY] = peer
            environ["REMOTE_ADDR"] = client
            proto = str(environ.get("HTTP_X_FORWARDED_PROTO") or "").strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)


def trust_proxies(app: Callable[..., Iterable[bytes]], trusted: Sequence[Any]) -> Any:
    """``app`` itself when no proxy is trusted (the default: nothing to do per request)."""
    return TrustedProxies(app, trusted) if trusted else app

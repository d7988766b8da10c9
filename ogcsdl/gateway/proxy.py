"""A small streaming reverse proxy to services that run as their own process on loopback
(pycsw lives in another Python environment)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import requests

from ogcsdl.config import Settings
from ogcsdl.errors import OgcsdlError, PayloadTooLarge, ServiceUnavailable
from ogcsdl.wsgi import StartResponse, respond_error

LOG = logging.getLogger(__name__)

# RFC 7230 hop-by-hop headers, plus ones requests/gunicorn recompute.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
}


class ReverseProxy:
    def __init__(self, target: str, name: str, max_body_bytes: int, timeout_s: float = 60) -> None:
        self.target = target.rstrip("/")
        self.name = name
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            body = self._read_body(environ)
        except PayloadTooLarge as exc:
            return self._error(exc, start_response)
        url = self.target + (environ.get("PATH_INFO") or "/")
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP
        }
        headers.pop("Host", None)
        headers.pop("Accept-Encoding", None)  # let requests negotiate; we stream plain bytes
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        try:
            upstream = self.session.request(
                environ["REQUEST_METHOD"],
                url,
                params=environ.get("QUERY_STRING") or None,
                data=body,
                headers=headers,
                stream=True,
                timeout=self.timeout_s,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            LOG.warning("%s unreachable at %s: %s", self.name, self.target, exc)
            error = ServiceUnavailable(
                f"The {self.name} service is not available; try again later."
            )
            return self._error(error, start_response)
        response_headers = [
            (key, value)
            for key, value in upstream.headers.items()
            if key.lower() not in _HOP_BY_HOP
        ]
        start_response(f"{upstream.status_code} {upstream.reason}", response_headers)
        return _stream(upstream)

    def _read_body(self, environ: dict[str, Any]) -> bytes | None:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > self.max_body_bytes:
            raise PayloadTooLarge(f"request body larger than {self.max_body_bytes} bytes")
        return environ["wsgi.input"].read(length) if length else None

    @staticmethod
    def _error(error: OgcsdlError, start_response: StartResponse) -> list[bytes]:
        return respond_error(start_response, error)


def _stream(upstream: requests.Response) -> Iterator[bytes]:
    try:
        yield from upstream.iter_content(chunk_size=64 * 1024)
    finally:
        upstream.close()


def make_catalogue_proxy(settings: Settings) -> ReverseProxy:
    return ReverseProxy(
        settings.catalogue_internal_url,
        "catalogue",
        max_body_bytes=settings.security.max_request_bytes,
    )

"""A small streaming reverse proxy to services that run as their own process on loopback
(pycsw lives in another Python environment)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import requests

from ogcsdl.config import Settings
from ogcsdl.errors import ServiceUnavailable
from ogcsdl.gateway import catalogue_edge
from ogcsdl.wsgi import StartResponse, respond

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
        body = self._read_body(environ)
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
            raise ServiceUnavailable(
                f"The {self.name} service is not available; try again later."
            ) from None
        response_headers = [
            (key, value)
            for key, value in upstream.headers.items()
            if key.lower() not in _HOP_BY_HOP
        ]
        start_response(f"{upstream.status_code} {upstream.reason}", response_headers)
        return _stream(upstream)

    def _read_body(self, environ: dict[str, Any]) -> bytes | None:
        # The gateway's edge bounded the body and gave a chunked one its length.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return environ["wsgi.input"].read(min(length, self.max_body_bytes)) if length else None


def _stream(upstream: requests.Response) -> Iterator[bytes]:
    try:
        yield from upstream.iter_content(chunk_size=64 * 1024)
    finally:
        upstream.close()


class CatalogueProxy(ReverseProxy):
    """The proxy to pycsw, with the checks of ``catalogue_edge`` in front of it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            settings.catalogue_internal_url,
            "catalogue",
            max_body_bytes=settings.security.max_request_bytes,
        )
        self.settings = settings
        self.public_url = settings.url("csw")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        answered = catalogue_edge.publication(environ, start_response, self.settings)
        if answered is not None:  # CSW-T: Harvest by our runner, Transaction refused
            return answered
        query = environ.get("QUERY_STRING") or ""
        params = catalogue_edge.lowered(query)
        if params.get("mode", "").lower() != "oaipmh":
            catalogue_edge.check_paging(params)
            return super().__call__(environ, start_response)
        original = dict(parse_qsl(query, keep_blank_values=True))
        refused = catalogue_edge.oai_error(params)
        if refused is not None:
            return self._oai_error(start_response, params, original, *refused)
        if params.get("verb") != "GetRecord":
            return super().__call__(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda _data: None

        body = b"".join(super().__call__(environ, capture))
        if catalogue_edge.is_unknown_record(params, body):
            message = f"no record {params.get('identifier', '')!r} in this repository"
            return self._oai_error(start_response, params, original, "idDoesNotExist", message)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _oai_error(
        self,
        start_response: StartResponse,
        params: dict[str, str],
        original: dict[str, str],
        code: str,
        message: str,
    ) -> list[bytes]:
        body = catalogue_edge.oai_error_document(self.public_url, params, code, message, original)
        return respond(start_response, 200, body, "text/xml; charset=utf-8")


def make_catalogue_proxy(settings: Settings) -> CatalogueProxy:
    return CatalogueProxy(settings)

"""A small streaming reverse proxy to services that run as their own process on loopback
(pycsw lives in another Python environment).

It speaks urllib3 directly rather than through requests: a hop to a fixed loopback
address needs none of requests' per-request work (reading the proxy variables and
``~/.netrc`` from the environment, cookies, hooks), which was about half of the
gateway's own CPU time on a catalogue search; and an ``HTTP_PROXY`` or ``.netrc`` of the
service's account must not route or authenticate the internal hop anyway.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import urllib3
from requests.utils import requote_uri

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
        parts = urlsplit(self.target)
        self.base_path = parts.path
        self.pool = urllib3.HTTPConnectionPool(
            parts.hostname or "127.0.0.1",
            parts.port or 80,
            maxsize=4,
            block=False,
            timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
            retries=False,  # one attempt, as before (a POST is not safely repeated)
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = self._read_body(environ)
        url = self.base_path + (environ.get("PATH_INFO") or "/")
        if environ.get("QUERY_STRING"):
            url += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP
        }
        headers.pop("Host", None)
        headers.pop("Accept-Encoding", None)  # we stream plain bytes
        headers.setdefault("Accept", "*/*")  # what pycsw's CSW 3.0 checks outputFormat against
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        try:
            upstream = self.pool.urlopen(
                environ["REQUEST_METHOD"],
                requote_uri(url),  # as requests sent it: illegal characters quoted
                body=body,
                headers=headers,
                preload_content=False,
                decode_content=True,  # none is asked for; decoded should one come
                redirect=False,
                assert_same_host=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            LOG.warning("%s unreachable at %s: %s", self.name, self.target, exc)
            raise ServiceUnavailable(
                f"The {self.name} service is not available; try again later."
            ) from None
        response_headers = [
            (key, value)
            for key, value in upstream.headers.items()
            if key.lower() not in _HOP_BY_HOP
        ]
        start_response(f"{upstream.status} {upstream.reason}", response_headers)
        return _stream(upstream)

    def _read_body(self, environ: dict[str, Any]) -> bytes | None:
        # The gateway's edge bounded the body and gave a chunked one its length.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return environ["wsgi.input"].read(min(length, self.max_body_bytes)) if length else None


def _stream(upstream: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    finished = False
    try:
        yield from upstream.stream(64 * 1024)
        finished = True
    finally:
        if not finished:  # the client went away: the rest of the answer is not read
            upstream.close()
        upstream.release_conn()


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
        refused = catalogue_edge.oai_error(params, catalogue_edge.repeated_keys(query))
        if refused is not None:
            return self._oai_error(start_response, params, original, *refused)
        verb = params.get("verb")
        if verb == "ListMetadataFormats" and "identifier" in params:
            # pycsw ignores the identifier and lists every format; ask it for the record.
            if self._unknown_record(environ, params["identifier"]):
                message = f"no record {params['identifier']!r} in this repository"
                return self._oai_error(start_response, params, original, "idDoesNotExist", message)
            return super().__call__(environ, start_response)
        if verb != "GetRecord":
            return super().__call__(environ, start_response)
        status, headers, body = self._answer(environ)
        if catalogue_edge.is_unknown_record(params, body):
            message = f"no record {params.get('identifier', '')!r} in this repository"
            return self._oai_error(start_response, params, original, "idDoesNotExist", message)
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """pycsw's whole answer: (status, headers but Content-Length, body)."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda _data: None

        body = b"".join(super().__call__(environ, capture))
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        return captured["status"], headers, body

    def _unknown_record(self, environ: dict[str, Any], identifier: str) -> bool:
        """Whether pycsw holds no record ``identifier`` (its OAI-PMH GetRecord is empty)."""
        query = {"mode": "oaipmh", "verb": "GetRecord", "identifier": identifier}
        probe = {
            **environ,
            "REQUEST_METHOD": "GET",
            "QUERY_STRING": urlencode({**query, "metadataPrefix": "oai_dc"}),
            "CONTENT_LENGTH": "0",
            "wsgi.input": io.BytesIO(),
        }
        probe.pop("CONTENT_TYPE", None)
        _status, _headers, body = self._answer(probe)
        return catalogue_edge.is_unknown_record(query, body)

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

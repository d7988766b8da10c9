"""The edge of every mounted service: request-body limits and errors, handled once.

:class:`ServiceEdge` wraps each mounted WSGI application (see ``mounts.py``):

* the request body is bounded before the service sees it: a ``Content-Length`` above
  ``security.max_request_bytes`` is refused, and a chunked body is read here (at most the
  limit plus one byte) and handed on with its length, so no service reads an unbounded
  body or mistakes a chunked one for an empty one;
* an :class:`~ogcsdl.errors.OgcsdlError` a service raises is rendered in the mount's
  exception style; any other exception is logged and answered with a generic
  ``NoApplicableCode`` 500;
* an error answer a library renders itself (MapProxy, pycsw, pywps, pygeoapi) is checked:
  a 5xx whose exception code names a client mistake gets that code's status from
  :data:`~ogcsdl.errors.STATUS_BY_CODE`, a 5xx the library marked as the client's
  (``X-Ogcsdl-Client-Error``, see ``gateway/maps.py``) becomes a 400, and any error
  answer that is not an exception document of the mount's kind (plain text or HTML,
  which may reflect the request unescaped), or whose text names a server path, is
  re-rendered as one (paths redacted). 502/503/504 pass.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote_plus

from lxml import etree

from ogcsdl.errors import (
    STATUS_BY_CODE,
    ErrorStyle,
    InvalidRequest,
    OgcsdlError,
    PayloadTooLarge,
    as_ogcsdl_error,
    coded_error,
    redact_paths,
    render_error,
)
from ogcsdl.wsgi import StartResponse, WSGIEnviron, status_line

LOG = logging.getLogger(__name__)
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]
StyleChooser = Callable[[WSGIEnviron], ErrorStyle]

CLIENT_ERROR_HEADER = "X-Ogcsdl-Client-Error"  # set by a wrapped library: "the client's fault"
_PASS_THROUGH = {502, 503, 504}
_MAX_ERROR_BODY = 256 * 1024  # error documents are small; a larger "error" is cut here
_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
_DOCTYPE_TEXT = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_GENERIC = "The server could not complete the request; the error was logged."
# Phrases of Python's own exception messages, which libraries pass on to clients.
_PYTHON_TEXT = re.compile(
    r"list index out of range|object has no attribute|'NoneType'|NoneType object|"
    r"positional argument|object is not subscriptable|invalid literal for int|"
    r"unexpected keyword argument|object is not iterable|Traceback \(most recent"
)


class RequestTooLarge(PayloadTooLarge):
    code = "RequestTooLarge"


def limit_body(environ: WSGIEnviron, limit: int) -> None:
    """Refuse a body above ``limit`` bytes; buffer a chunked one and give it a length."""
    declared = (environ.get("CONTENT_LENGTH") or "").strip()
    chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
    if declared and not chunked:
        if not declared.isdigit():
            raise InvalidRequest("Content-Length is not a byte count", "Content-Length")
        if int(declared) > limit:
            raise RequestTooLarge(f"the request body is larger than {limit} bytes", "body")
        return
    if not chunked:
        return
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise RequestTooLarge(f"the request body is larger than {limit} bytes", "body")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def refuse_dtd(environ: WSGIEnviron) -> None:
    """Refuse an XML body (or XML in a KVP parameter) with a document type declaration.

    No OGC request needs a DTD, and every XML attack (entity expansion, XXE, external
    DTDs, parameter entities) starts with one; the libraries behind the edge parse
    without resolving entities, but refusing here answers a clear 400 instead of
    whatever each library does with an unexpanded entity."""
    query = unquote_plus(environ.get("QUERY_STRING") or "")
    if "<!" in query and _DOCTYPE_TEXT.search(query):  # XML in KVP: a CSW FILTER constraint
        raise InvalidRequest("XML in request parameters must not contain a DOCTYPE or ENTITY")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if not length:
        return
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    texts = _as_parsers_may_read_it(body)
    looks_xml = "xml" in (environ.get("CONTENT_TYPE") or "") or any(
        text.lstrip("\ufeff \t\r\n")[:1] == "<" for text in texts
    )
    if looks_xml and any(_DOCTYPE_TEXT.search(text) for text in texts):
        raise InvalidRequest("XML request bodies must not contain a DOCTYPE or ENTITY", "body")


# Byte-order marks, and the first bytes of "<?" in encodings that are not
# ASCII-compatible (XML 1.0 Appendix F), longest first.
_ENCODING_SIGNS = (
    (b"\xef\xbb\xbf", "utf-8", 3),
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\x00\x00\x00<", "utf-32-be", 0),
    (b"<\x00\x00\x00", "utf-32-le", 0),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\x00<", "utf-16-be", 0),
    (b"<\x00", "utf-16-le", 0),
)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z][\w.:-]{0,40})[\"']")
_ASCII_COMPATIBLE = re.compile(r"^(?:utf-?8|us-?ascii|ascii|iso-?8859-?\d+|latin-?1)$", re.I)


def _as_parsers_may_read_it(body: bytes) -> list[str]:
    """``body`` as text in the encodings an XML parser may read it in: the bytes as they
    are, and the encoding its byte-order mark, first bytes or declaration name. A
    DOCTYPE in UTF-16, UTF-32 or a declared UTF-7 is no ``<!DOCTYPE`` in bytes, and
    passed the edge to the libraries behind it (which parse those encodings)."""
    texts = [body.decode("latin-1")]
    for sign, codec, skip in _ENCODING_SIGNS:
        if body.startswith(sign):
            return [*texts, body[skip:].decode(codec, errors="replace")]
    declared = _DECLARED.match(body)
    if declared and not _ASCII_COMPATIBLE.match(declared.group(1).decode("ascii")):
        try:
            texts.append(body.decode(declared.group(1).decode("ascii"), errors="replace"))
        except LookupError:  # an encoding Python does not know: the bytes are checked
            pass
    return texts


def parse_exception(body: bytes, media_type: str) -> tuple[str | None, str | None, str] | None:
    """(code, locator, message) of an exception document (OWS/WMS XML, problem JSON,
    pygeoapi JSON), or None when ``body`` is not one."""
    text = body.lstrip()
    if text.startswith(b"<") and "html" not in media_type:
        try:
            root = etree.fromstring(body, _XML_PARSER)
        except etree.XMLSyntaxError:
            return None
        if not etree.QName(root).localname.endswith("ExceptionReport"):
            return None
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            name = etree.QName(element).localname
            if name in ("Exception", "ServiceException"):
                message = " ".join(t.strip() for t in element.itertext() if t.strip())
                code = element.get("exceptionCode") or element.get("code")
                return code, element.get("locator"), message
        return None
    if text.startswith(b"{"):
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if isinstance(document, dict):
            code = document.get("code") or document.get("title") or document.get("type")
            message = document.get("detail") or document.get("description") or ""
            if isinstance(code, str) and isinstance(message, str):
                return code.rsplit("/", 1)[-1], document.get("locator"), message
    return None


def _is_document_of(style: ErrorStyle, media_type: str, parsed: Any) -> bool:
    """An exception document of the mount's kind (an XML report, or problem JSON)."""
    if parsed is None:
        return False
    if style == "problem":
        return "problem+json" in media_type
    return "xml" in media_type


def normalise_error(
    status: int, headers: list[tuple[str, str]], body: bytes, style: ErrorStyle
) -> OgcsdlError | None:
    """The error to answer instead of a library's own error answer, or None to keep it."""
    if status < 400 or status in _PASS_THROUGH:
        return None
    media_type = next((v for k, v in headers if k.lower() == "content-type"), "").lower()
    client_fault = any(k.lower() == CLIENT_ERROR_HEADER.lower() for k, _ in headers)
    parsed = parse_exception(body, media_type)
    if status < 500:
        if _is_document_of(style, media_type, parsed) and not _needs_cleaning(parsed):
            return None
        code, locator, message = parsed or (None, None, _plain_message(body, media_type))
        fallback = "NotFound" if status == 404 else "InvalidParameterValue"
        message = _without_python_text(message)
        return coded_error(code or fallback, message or fallback, locator, status)
    code, locator, message = parsed or (None, None, _plain_message(body, media_type))
    known = STATUS_BY_CODE.get(code or "", 500)
    if known < 500:
        return coded_error(code or "", message, locator)
    if client_fault:
        return coded_error("InvalidParameterValue", message or "invalid request", locator, 400)
    LOG.error("server error answer (%s): %s", status, body[:2000])
    if not message or "Traceback" in message:
        message = _GENERIC
    return coded_error("NoApplicableCode", message, locator, 500)


def _needs_cleaning(parsed: tuple[str | None, str | None, str] | None) -> bool:
    """A library's exception text naming a server path (pycsw quotes the schema file it
    could not load for a request whose root element it does not know) or quoting
    Python's own exception text (pycsw: 'Invalid Filter request: list index out of
    range')."""
    if parsed is None:
        return False
    message = parsed[2]
    return redact_paths(message) != message or bool(_PYTHON_TEXT.search(message))


def _without_python_text(message: str) -> str:
    """``message`` without its ': '-separated parts that are Python's exception text."""
    return ": ".join(part for part in message.split(": ") if not _PYTHON_TEXT.search(part))


def _plain_message(body: bytes, media_type: str) -> str:
    if "html" in media_type:
        return ""  # a framework's HTML page: its text is not meant for API clients
    text = body.decode("utf-8", errors="replace").strip()
    text = re.sub(r"^internal error:?\s*", "", text)
    if text.startswith("invalid request"):  # MapProxy, quoting the path it could not route
        return "the path and parameters do not form a request this service understands"
    return text[:500]


class ServiceEdge:
    """One mounted service behind its body limit and its exception style."""

    def __init__(
        self,
        app: WSGIApp,
        style: ErrorStyle | StyleChooser,
        max_body_bytes: int,
        name: str = "service",
    ) -> None:
        self.app = app
        self.style: StyleChooser = style if callable(style) else (lambda _environ: style)
        self.max_body_bytes = max_body_bytes
        self.name = name

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        style = self.style(environ)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None  # the legacy write() callable: unused by our apps

        try:
            limit_body(environ, self.max_body_bytes)
            refuse_dtd(environ)
            result = self.app(environ, capture)
            chunks = iter(result)
            first = next(chunks, b"")
        except Exception as exc:  # noqa: BLE001 - the edge: every error becomes an OGC one
            LOG.debug("error in the %s service", self.name, exc_info=True)
            return self.error(exc, style, start_response)
        status = int(str(captured.get("status", "500"))[:3])
        headers: list[tuple[str, str]] = list(captured.get("headers", []))
        if status < 400:
            start_response(captured["status"], headers)
            return _chain(first, chunks, result)
        body = first + _read_rest(chunks, result)
        replacement = normalise_error(status, headers, body, style)
        if replacement is None:
            start_response(captured["status"], _with_length(headers, len(body)))
            return [body]
        return self.render(replacement, style, start_response)

    @staticmethod
    def error(exc: BaseException, style: ErrorStyle, start_response: StartResponse) -> list[bytes]:
        """An exception as the answer: user-safe, and logged when it is not ours."""
        if not isinstance(exc, OgcsdlError):
            LOG.error("unhandled error", exc_info=exc)
        return ServiceEdge.render(as_ogcsdl_error(exc), style, start_response)

    @staticmethod
    def render(error: OgcsdlError, style: ErrorStyle, start_response: StartResponse) -> list[bytes]:
        status, media_type, body = render_error(error, style)
        start_response(
            status_line(status),
            [("Content-Type", media_type), ("Content-Length", str(len(body))), *error.headers],
        )
        return [body]


def _with_length(headers: list[tuple[str, str]], length: int) -> list[tuple[str, str]]:
    kept = [
        (k, v)
        for k, v in headers
        if k.lower() not in ("content-length", CLIENT_ERROR_HEADER.lower())
    ]
    return [*kept, ("Content-Length", str(length))]


def _read_rest(chunks: Iterator[bytes], result: Iterable[bytes]) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size > _MAX_ERROR_BODY:
                break
    finally:
        _close(result)
    return b"".join(parts)


def _chain(first: bytes, chunks: Iterator[bytes], result: Iterable[bytes]) -> Iterator[bytes]:
    try:
        if first:
            yield first
        yield from chunks
    finally:
        _close(result)


def _close(result: Iterable[bytes]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()

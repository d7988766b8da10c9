"""One error family for the whole suite, rendered once at the edge.

Code raises an :class:`OgcsdlError` subclass carrying an OGC exception code, an HTTP
status and a message meant for the user. The gateway's edge (``gateway/edge.py``) turns
it into the exception document of the mount's style (:data:`ErrorStyle`): an OWS 1.1
ExceptionReport (CSW, WPS, WMTS), an OWS 2.0 one (WCS 2.0), a WMS 1.3.0
ServiceExceptionReport or an OGC API problem document. Anything else that escapes
becomes ``NoApplicableCode``/500 with a generic message: the traceback goes to the log,
never to the client. Every message is passed through :func:`redact_paths` on its way
out, so no server path reaches a client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr


class OgcsdlError(Exception):
    """Base of every error the suite reports to a user."""

    code = "NoApplicableCode"
    status = 500
    # HTTP headers the answer must carry (the edge adds them): Allow of a 405,
    # WWW-Authenticate of a 401 (``security/identity.py``).
    headers: Sequence[tuple[str, str]] = ()

    def __init__(self, message: str, locator: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.locator = locator

    def __str__(self) -> str:
        return self.message


class ConfigError(OgcsdlError, ValueError):
    """The configuration is invalid; the message names the key."""


class InvalidParameterValue(OgcsdlError, ValueError):
    code = "InvalidParameterValue"
    status = 400


class MissingParameterValue(OgcsdlError, ValueError):
    code = "MissingParameterValue"
    status = 400


class OperationNotSupported(OgcsdlError):
    code = "OperationNotSupported"
    status = 400


class MethodNotAllowed(OgcsdlError):
    """RFC 9110 section 15.5.6: the resource exists, but not for this method; the
    answer's ``Allow`` header lists the methods it has."""

    code = "OperationNotSupported"
    status = 405

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.headers = (("Allow", ", ".join(allowed)),)


class VersionNegotiationFailed(OgcsdlError):
    code = "VersionNegotiationFailed"
    status = 400


class NotFound(OgcsdlError, LookupError):
    code = "NotFound"
    status = 404


class Forbidden(OgcsdlError):
    """A request asked us to fetch something we refuse to fetch (file://, private address)."""

    code = "InvalidParameterValue"
    status = 403


class PayloadTooLarge(OgcsdlError):
    code = "ResponseTooLarge"
    status = 413


class IngestError(OgcsdlError, ValueError):
    """A file could not be ingested; the message says why and what to do."""

    code = "InvalidParameterValue"
    status = 400


class ServiceUnavailable(OgcsdlError):
    code = "NoApplicableCode"
    status = 503


class InvalidRequest(OgcsdlError, ValueError):
    """The request cannot be read at all (malformed body, wrong protocol version)."""

    code = "InvalidRequest"
    status = 400


# The status of an OGC exception code, for codes other libraries (MapProxy, pycsw, pywps,
# pygeoapi) put in their documents: the edge re-renders those with this status.
STATUS_BY_CODE: dict[str, int] = {
    "InvalidParameterValue": 400,
    "MissingParameterValue": 400,
    "MissingParameter": 400,
    "InvalidRequest": 400,
    "InvalidFormat": 400,
    "InvalidCRS": 400,
    "InvalidSRS": 400,
    "InvalidPoint": 400,
    "InvalidDimensionValue": 400,
    "MissingDimensionValue": 400,
    "InvalidUpdateSequence": 400,
    "LayerNotDefined": 400,
    "LayerNotQueryable": 400,
    "StyleNotDefined": 400,
    "TileOutOfRange": 400,
    "VersionNegotiationFailed": 400,
    "OperationNotSupported": 400,
    "OptionNotSupported": 400,
    "CurrentUpdateSequence": 400,
    "InvalidEncodingSyntax": 400,
    "InvalidAxisLabel": 404,
    "InvalidSubsetting": 404,
    "NoSuchCoverage": 404,
    "NotFound": 404,
    "NoSuchProcess": 400,
    "NoApplicableCode": 500,
}

# How a mount answers errors (see ``gateway/mounts.py``).
ErrorStyle = Literal["ows11", "ows20", "wms13", "wms111", "problem"]
MEDIA_TYPES: dict[str, str] = {
    "ows11": "application/xml",
    "ows20": "application/xml",
    "wms13": "text/xml",
    "wms111": "application/vnd.ogc.se_xml",
    "problem": "application/problem+json",
}

# An absolute file-system path (POSIX or Windows), optionally as a file: URL; not the
# path part of an http(s) URL (preceded by a host name) nor a relative path.
_PATH = re.compile(
    r"(?:file:(?://)?(?=/)|(?<![\w:/.~-]))(?:[A-Za-z]:\\|/)(?:[^\s/\\'\"<>,;()\[\]]+[/\\])+"
    r"([^\s/\\'\"<>,;()\[\]]*)"
)


def redact_paths(text: str) -> str:
    """``text`` with every absolute server path replaced by its last component.

    Applied to everything a client can read that may quote a path: error messages, job
    failure messages, catalogue lineage and source fields."""
    return _PATH.sub(lambda match: match.group(1) or "(server path)", text)


def exception_report_xml(error: OgcsdlError, ows_version: str = "1.1.0") -> bytes:
    """An OWS ExceptionReport document (OWS 1.1.0 by default, 2.0.0 for WCS 2.0)."""
    namespace = (
        "http://www.opengis.net/ows/2.0"
        if ows_version.startswith("2")
        else "http://www.opengis.net/ows/1.1"
    )
    locator = f" locator={quoteattr(error.locator)}" if error.locator else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ows:ExceptionReport xmlns:ows="{namespace}" version="{ows_version}" xml:lang="en">\n'
        f'  <ows:Exception exceptionCode="{error.code}"{locator}>\n'
        f"    <ows:ExceptionText>{escape(redact_paths(error.message))}</ows:ExceptionText>\n"
        "  </ows:Exception>\n"
        "</ows:ExceptionReport>\n"
    )
    return body.encode("utf-8")


def problem_json(error: OgcsdlError) -> bytes:
    """An OGC API / RFC 7807 problem document."""
    document: dict[str, Any] = {
        "type": f"http://www.opengis.net/def/exceptions/ogcapi-common-1/1.0/{error.code}",
        "title": error.code,
        "status": error.status,
        "detail": redact_paths(error.message),
    }
    if error.locator:
        document["locator"] = error.locator
    # Escaped markup: a reflected "<script>" stays inert even if a browser sniffs it.
    text = json.dumps(document).replace("<", "\\u003c").replace(">", "\\u003e")
    return text.encode("utf-8")


def wms_exception_xml(error: OgcsdlError, version: str = "1.3.0") -> bytes:
    """A WMS ServiceExceptionReport (WMS clients do not read OWS reports); 1.1.1's has no
    namespace."""
    code = f' code="{error.code}"' if error.code != "NoApplicableCode" else ""
    locator = f" locator={quoteattr(error.locator)}" if error.locator else ""
    root = (
        '<ServiceExceptionReport version="1.1.1">'
        if version == "1.1.1"
        else '<ServiceExceptionReport version="1.3.0" xmlns="http://www.opengis.net/ogc">'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"{root}\n"
        f"  <ServiceException{code}{locator}>{escape(redact_paths(error.message))}"
        "</ServiceException>\n</ServiceExceptionReport>\n"
    ).encode()


def render_error(error: OgcsdlError, style: ErrorStyle) -> tuple[int, str, bytes]:
    """(HTTP status, media type, body) of ``error`` in a mount's exception style."""
    if style == "problem":
        body = problem_json(error)
    elif style in ("wms13", "wms111"):
        body = wms_exception_xml(error, "1.1.1" if style == "wms111" else "1.3.0")
    else:
        body = exception_report_xml(error, "2.0.1" if style == "ows20" else "1.1.0")
    return error.status, MEDIA_TYPES[style], body


def coded_error(
    code: str, message: str, locator: str | None = None, status: int = 0
) -> OgcsdlError:
    """An error with another library's exception code and its status from the table."""
    error = OgcsdlError(message, locator)
    error.code = code if re.fullmatch(r"[A-Za-z][\w.-]{0,63}", code) else "NoApplicableCode"
    error.status = status or STATUS_BY_CODE.get(error.code, 400)
    return error


def as_ogcsdl_error(exc: BaseException) -> OgcsdlError:
    """Map any exception to a user-safe error (unknown ones hide their details)."""
    if isinstance(exc, OgcsdlError):
        return exc
    return OgcsdlError("The server could not complete the request; the error was logged.")

"""One error family for the whole suite, rendered once at the edge.

Code raises an :class:`OgcsdlError` subclass carrying an OGC exception code, an HTTP
status and a message meant for the user. The gateway turns it into an OWS
ExceptionReport (XML services) or an OGC API problem document (JSON APIs). Anything else
that escapes becomes ``NoApplicableCode``/500 with a generic message: the traceback goes
to the log, never to the client.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr


class OgcsdlError(Exception):
    """Base of every error the suite reports to a user."""

    code = "NoApplicableCode"
    status = 500

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
        f"    <ows:ExceptionText>{escape(error.message)}</ows:ExceptionText>\n"
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
        "detail": error.message,
    }
    if error.locator:
        document["locator"] = error.locator
    return json.dumps(document).encode("utf-8")


def as_ogcsdl_error(exc: BaseException) -> OgcsdlError:
    """Map any exception to a user-safe error (unknown ones hide their details)."""
    if isinstance(exc, OgcsdlError):
        return exc
    return OgcsdlError("The server could not complete the request; the error was logged.")

"""Small helpers every WSGI application of the suite uses to answer."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Literal

from ogcsdl.errors import OgcsdlError, exception_report_xml, problem_json

StartResponse = Callable[..., Any]
WSGIEnviron = dict[str, Any]


def status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def respond(
    start_response: StartResponse,
    code: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(
        status_line(code),
        [("Content-Type", content_type), ("Content-Length", str(len(body))), *(headers or [])],
    )
    return [body]


def respond_error(
    start_response: StartResponse,
    error: OgcsdlError,
    style: Literal["xml", "json"] = "xml",
    ows_version: str = "1.1.0",
) -> list[bytes]:
    """An OGC exception: an OWS ExceptionReport (``xml``) or problem JSON (``json``)."""
    if style == "json":
        return respond(
            start_response, error.status, problem_json(error), "application/problem+json"
        )
    return respond(
        start_response, error.status, exception_report_xml(error, ows_version), "application/xml"
    )

"""Small helpers every WSGI application of the suite uses to answer."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

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

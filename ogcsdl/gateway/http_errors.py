"""Errors gunicorn answers itself, before any WSGI application runs, as OGC exceptions.

A request line longer than ``--limit-request-line`` (a KVP GetMap with many layers, a
STAC search with many ids), a method gunicorn cannot read (``get``), a malformed header
or chunk: gunicorn writes a 4xx HTML page (``gunicorn.util.write_error``), which no OGC
client expects. The gateway's workers write an OWS ExceptionReport instead, the
gateway's own exception style (the path may not even have been read); the status is
gunicorn's."""

from __future__ import annotations

from typing import Any

from ogcsdl.errors import coded_error, render_error

# gunicorn's hard maximum; its default (4094) refused KVP requests clients send.
MAX_REQUEST_LINE = 8190


def exception_answer(status: int, reason: str, message: str) -> bytes:
    """The raw HTTP answer for an error gunicorn found in the request."""
    code = "InvalidRequest" if status < 500 else "NoApplicableCode"
    error = coded_error(code, f"{reason}: {message}", None, status)
    _status, media_type, body = render_error(error, "ows11")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {media_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def render_gunicorn_errors_as_ogc() -> None:
    """Replace gunicorn's HTML error page in this (worker) process."""
    try:
        from gunicorn import util
    except ImportError:  # not served by gunicorn
        return

    def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        util.write_nonblock(sock, exception_answer(int(status_int), str(reason), str(mesg)))

    util.write_error = write_error

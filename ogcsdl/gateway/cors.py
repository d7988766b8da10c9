"""CORS for every public service, in one place (``cors`` in the configuration).

Simple requests get ``Access-Control-Allow-Origin`` (and the headers a browser client
needs to read: ``Location`` of an async job, ``Content-Range`` of a COG range read).
Preflight requests (``OPTIONS`` with ``Access-Control-Request-Method``) are answered here
with 204 before any service sees them, so POST endpoints (STAC search, WPS, OGC API
execution, CSW) are callable from a web page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ogcsdl.config import CorsSettings
from ogcsdl.wsgi import StartResponse, WSGIEnviron

ALLOWED_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS"


class Cors:
    def __init__(self, settings: CorsSettings) -> None:
        self.settings = settings
        self.any_origin = "*" in settings.allow_origins

    def allowed_origin(self, environ: WSGIEnviron) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for this request, or None."""
        if self.any_origin:
            return "*"
        origin = environ.get("HTTP_ORIGIN")
        return origin if origin in self.settings.allow_origins else None

    def headers(self, environ: WSGIEnviron) -> list[tuple[str, str]]:
        origin = self.allowed_origin(environ)
        if origin is None:
            return []
        headers = [("Access-Control-Allow-Origin", origin)]
        if not self.any_origin:
            headers.append(("Vary", "Origin"))
        if self.settings.expose_headers:
            headers.append(
                ("Access-Control-Expose-Headers", ", ".join(self.settings.expose_headers))
            )
        return headers

    def is_preflight(self, environ: WSGIEnviron) -> bool:
        return environ.get("REQUEST_METHOD") == "OPTIONS" and bool(
            environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        )

    def preflight(self, environ: WSGIEnviron, start_response: StartResponse) -> list[bytes]:
        headers = self.headers(environ)
        if headers:
            headers += [
                ("Access-Control-Allow-Methods", ALLOWED_METHODS),
                ("Access-Control-Allow-Headers", ", ".join(self.settings.allow_headers)),
                ("Access-Control-Max-Age", str(self.settings.max_age_s)),
            ]
        start_response("204 No Content", [*headers, ("Content-Length", "0")])
        return []

    def wrap(
        self, app: Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]
    ) -> Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]:
        """``app`` answering preflights and adding the CORS headers to every answer."""

        def with_cors(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
            if self.is_preflight(environ):
                return self.preflight(environ, start_response)
            extra = self.headers(environ)
            if not extra:
                return app(environ, start_response)

            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                # Ours win over a library's own (MapProxy can add one of its own).
                kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
                return start_response(status, [*kept, *extra], exc_info)

            return app(environ, start)

        return with_cors

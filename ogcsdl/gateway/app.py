"""The gateway: one WSGI application in front of every service of the suite.

It answers ``/`` (landing page), ``/health`` and ``/data/<product id>.tif`` (the
analysis-ready COGs, with HTTP range requests for GDAL's /vsicurl/), and dispatches
every other path to the service mounted at its prefix (see ``mounts.py``).
Run it with gunicorn: ``gunicorn 'ogcsdl.gateway.app:create_app()'``.
"""

from __future__ import annotations

import html
import importlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.utils import send_file

from ogcsdl import __version__
from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import COG_MEDIA_TYPE
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings, load_settings
from ogcsdl.errors import NotFound, OgcsdlError, ServiceUnavailable, render_error
from ogcsdl.gateway.cors import Cors
from ogcsdl.gateway.edge import ServiceEdge
from ogcsdl.gateway.forwarded import trust_proxies
from ogcsdl.gateway.health import health_report
from ogcsdl.gateway.http_errors import render_gunicorn_errors_as_ogc
from ogcsdl.gateway.mounts import EXTRA_LINKS, MOUNTS, Mount
from ogcsdl.gateway.unread_body import DrainUnreadBody
from ogcsdl.security.middleware import protect
from ogcsdl.wsgi import StartResponse, WSGIEnviron, respond, status_line

LOG = logging.getLogger(__name__)

WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]


class RangeNotSatisfiable(OgcsdlError):
    code = "InvalidParameterValue"
    status = 416


def ignore_unusable_range(environ: WSGIEnviron) -> None:
    """Drop a ``Range`` this server ignores rather than refuses (RFC 9110 14.2): one in
    another unit than bytes (which it MUST ignore) and a multi-range request (werkzeug
    serves single ranges only, and answered every multi-range with an exception, a 500;
    the whole file is the allowed answer). A malformed or unsatisfiable byte range is a
    416 with ``Content-Range: bytes */size``."""
    value = (environ.get("HTTP_RANGE") or "").strip()
    if value and (not value.lower().startswith("bytes=") or "," in value):
        del environ["HTTP_RANGE"]


class Gateway:
    def __init__(self, settings: Settings, mounts: list[Mount] | None = None) -> None:
        self.settings = settings
        self.mounts = sorted(mounts or MOUNTS, key=lambda mount: len(mount.prefix), reverse=True)
        self._apps: dict[str, WSGIApp] = {}
        self._lock = threading.Lock()
        self._store: ProductStore | None = None
        self._handle = Cors(settings.cors).wrap(self._route)

    @property
    def store(self) -> ProductStore:
        if self._store is None:  # once per worker, not per request
            self._store = product_store(self.settings)
        return self._store

    # WSGI entry ---------------------------------------------------------------------
    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        """CORS, then each mounted service behind its own edge (``edge.py``)."""
        return self._handle(environ, start_response)

    def _route(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._dispatch(environ, start_response)
        except Exception as exc:  # noqa: BLE001 - the gateway's own routes (landing, data)
            return ServiceEdge.error(exc, "ows11", start_response)

    def _dispatch(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path in ("/", "/index.html"):
            return self._landing(environ, start_response)
        if path == "/health":
            status, body = health_report(self.settings)
            return respond(start_response, status, body, "application/json")
        if path.startswith("/data/"):
            return self._serve_cog(environ, start_response, path[len("/data/") :])
        mount = self._match(path)
        if mount is None:
            raise NotFound(f"nothing at {path}; the landing page / lists every service")
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + mount.prefix
        environ["PATH_INFO"] = path[len(mount.prefix) :]
        return self._app(mount)(environ, start_response)

    def _match(self, path: str) -> Mount | None:
        for mount in self.mounts:
            if path == mount.prefix or path.startswith(mount.prefix + "/"):
                return mount
        return None

    def _app(self, mount: Mount) -> WSGIApp:
        with self._lock:
            app = self._apps.get(mount.prefix)
            if app is None:
                module_name, _, attribute = mount.factory.partition(":")
                try:
                    factory = getattr(importlib.import_module(module_name), attribute)
                    app = ServiceEdge(
                        factory(self.settings),
                        mount.errors,
                        self.settings.security.max_request_bytes,
                        mount.title,
                    )
                except Exception as exc:
                    LOG.exception("cannot start the service at %s", mount.prefix)
                    raise ServiceUnavailable(
                        f"The {mount.title} service failed to start; see the server log."
                    ) from exc
                self._apps[mount.prefix] = app
            return app

    # Built-in routes ----------------------------------------------------------------
    def _serve_cog(
        self, environ: WSGIEnviron, start_response: StartResponse, name: str
    ) -> Iterable[bytes]:
        if not name.endswith(".tif"):
            raise NotFound("product files are at /data/<product id>.tif")
        record = self.store.get(name[: -len(".tif")])
        if not Path(record.file_path).is_file():
            raise NotFound(
                f"the data file of product {record.identifier!r} is missing; re-ingest it"
            )
        ignore_unusable_range(environ)
        try:
            response = send_file(
                record.file_path,
                environ,
                mimetype=COG_MEDIA_TYPE,
                conditional=True,  # ETag, Last-Modified and Range: what /vsicurl/ needs
                download_name=name,
            )
        except RequestedRangeNotSatisfiable:
            size = Path(record.file_path).stat().st_size
            error = RangeNotSatisfiable(
                f"the Range {environ.get('HTTP_RANGE', '')!r} is not one byte range within "
                f"the file's {size} bytes",
                "Range",
            )
            status, media_type, body = render_error(error, "ows11")
            start_response(
                status_line(status),
                [
                    ("Content-Type", media_type),
                    ("Content-Length", str(len(body))),
                    ("Content-Range", f"bytes */{size}"),
                ],
            )
            return [body]
        return response(environ, start_response)

    def _landing(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        links = [
            {
                "title": mount.title,
                "standard": mount.standard,
                "href": self.settings.url(mount.prefix.lstrip("/") + (mount.capabilities or "")),
            }
            for mount in sorted(self.mounts, key=lambda mount: mount.prefix)
        ]
        links += [
            {"title": title, "standard": "", "href": self.settings.url(path)}
            for title, path in EXTRA_LINKS
        ]
        links.append({"title": "Health", "standard": "JSON", "href": self.settings.url("health")})
        wants_json = "f=json" in (environ.get("QUERY_STRING") or "") or "application/json" in (
            environ.get("HTTP_ACCEPT") or ""
        )
        if wants_json:
            body = json.dumps({"title": "ogcsdl", "version": __version__, "links": links})
            return respond(start_response, 200, body.encode("utf-8"), "application/json")
        return respond(start_response, 200, _landing_html(links).encode("utf-8"), "text/html")


def _landing_html(links: list[dict[str, Any]]) -> str:
    rows = "\n".join(
        f"<tr><td>{html.escape(link['title'])}</td><td>{html.escape(link['standard'])}</td>"
        f'<td><a href="{html.escape(link["href"])}">{html.escape(link["href"])}</a></td></tr>'
        for link in links
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ogcsdl</title>
<style>body{{font-family:sans-serif;margin:2em}}td{{padding:.3em .8em}}</style></head>
<body><h1>ogcsdl {__version__}</h1>
<p>Earth-observation data through OGC standards: discover, process and view.</p>
<table><tr><th>Service</th><th>Standard</th><th>Capabilities</th></tr>
{rows}
</table></body></html>
"""


def create_app(settings: Settings | None = None) -> WSGIApp:
    """The gunicorn entry point; reads the configuration named by $OGCSDL_CONFIG."""
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level)
    render_gunicorn_errors_as_ogc()
    # CORS outermost too, so access control's 401/403/429 reach a browser page as well
    # (the inner headers are replaced, never doubled). The client's address behind a
    # trusted front proxy is set before access control keys quotas on it.
    protected = protect(Gateway(settings), settings)
    app = Cors(settings.cors).wrap(trust_proxies(protected, settings.server.trusted_proxies))
    # A refused body up to twice the limit is read after the answer (a front proxy gets
    # the answer, not a reset; unread_body.py); nginx's client_max_body_size is below.
    return DrainUnreadBody(app, 2 * settings.security.max_request_bytes)

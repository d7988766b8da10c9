"""Access control and quotas: one WSGI middleware in front of the whole gateway.

Every request gets an :class:`~ogcsdl.security.identity.Identity` from its
``Authorization: Bearer <credential>`` header (an API key ``ogk_...`` or an OIDC JWT;
none: anonymous), stored in the environ for the apps (job owners). Then, by what the
request does:

========  ==========================================================  ====================
action    requests                                                    who
========  ==========================================================  ====================
open      ``/``, ``/health``                                          anyone
view      discovery and viewing (CSW, STAC, maps, WCS, descriptions)  anyone if
                                                                      ``open_discovery``
jobs      job status, lists and results (``/ogcapi/jobs``, WPS        a credential (or
          status documents); the apps show a user only their own      open processing)
compute   WPS Execute, OGC API execution, job dismissal               a credential (or
                                                                      open processing)
admin     CSW-T Transaction and Harvest                               role admin
========  ==========================================================  ====================

"Open processing" is ``anonymous_processing: always``, or ``auto`` while no key and no
OIDC issuer are configured and the server listens on loopback only (a local demo).
Quotas per user (per client address when anonymous): requests per minute (429 +
Retry-After; counted per gateway worker process, each allowed its share), concurrent
jobs and jobs per hour (from the job store, so exact across workers), image size of
GetMap/GetCoverage and body size of execute requests. Refusals are OGC exceptions:
problem JSON under the OGC APIs, OWS ExceptionReports elsewhere, with
``WWW-Authenticate`` on 401/403.
"""

from __future__ import annotations

import io
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from ogcsdl.config import Settings
from ogcsdl.errors import (
    InvalidParameterValue,
    OgcsdlError,
    PayloadTooLarge,
    ServiceUnavailable,
    render_error,
)
from ogcsdl.gateway.mounts import error_style
from ogcsdl.jobs.store import job_store
from ogcsdl.security.identity import (
    ANONYMOUS,
    IDENTITY_KEY,
    AccessDenied,
    Identity,
    NotAuthenticated,
    TooManyRequests,
)
from ogcsdl.security.keys import KeyStore, key_id_of
from ogcsdl.security.tokens import TokenValidator
from ogcsdl.wsgi import respond

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_ROOT_ELEMENT = re.compile(rb"<\s*(?:[A-Za-z_][\w.-]*:)?(Execute|Transaction|Harvest)\b")
_NUMBERS = re.compile(r"\d+(?:\.\d+)?")


def _query(environ: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in parse_qsl(environ.get("QUERY_STRING") or "")}


def _operations(environ: dict[str, Any]) -> set[str]:
    """Every ``request=`` value, lower case: a repeated parameter must not let
    ``request=Execute&request=GetCapabilities`` pass as the harmless one."""
    pairs = parse_qsl(environ.get("QUERY_STRING") or "", keep_blank_values=True)
    return {value.strip().lower() for key, value in pairs if key.strip().lower() == "request"}


def _body_operation(environ: dict[str, Any], limit: int) -> str:
    """The root element of an XML POST (Execute, Transaction, Harvest, or "" for any
    other), read once and put back for the app; "?" when the body cannot be inspected
    (too large), which the caller treats as the most demanding operation."""
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
    try:
        length = limit + 1 if chunked else int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "?"
    if length <= 0:
        return ""
    if length > limit:
        return "?"
    body = environ["wsgi.input"].read(length)
    if chunked and len(body) > limit:
        return "?"
    environ["wsgi.input"] = io.BytesIO(body)
    if chunked:  # the app now reads a plain body of known length
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
    match = _ROOT_ELEMENT.search(body[:4096])
    return match.group(1).decode() if match else ""


def classify(environ: dict[str, Any], body_limit: int) -> str:
    """open | view | jobs | compute | admin (see the module table)."""
    path = environ.get("PATH_INFO") or "/"
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if path in ("/", "/index.html", "/health"):
        return "open"
    operations = _operations(environ)
    if path == "/wps" or path.startswith("/wps/"):
        if path.startswith("/wps/status/"):
            return "jobs"
        if "execute" in operations:
            return "compute"
        if method == "POST" and _body_operation(environ, body_limit) in ("Execute", "?"):
            return "compute"
        return "view"
    if path.startswith("/ogcapi/"):
        if method == "POST" and path.rstrip("/").endswith("/execution"):
            return "compute"
        if path.startswith("/ogcapi/jobs"):
            return "compute" if method == "DELETE" else "jobs"
        return "view"
    if path == "/csw" or path.startswith("/csw/"):
        if operations & {"transaction", "harvest"}:
            return "admin"
        if method == "POST" and _body_operation(environ, body_limit) in (
            "Transaction",
            "Harvest",
            "?",
        ):
            return "admin"
    return "view"


def _image_pixels(environ: dict[str, Any]) -> int:
    """Pixels a GetMap (WIDTH x HEIGHT) or GetCoverage (SCALESIZE) asks for; 0 if unsaid.
    Repeated parameters count with their largest value."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(environ.get("QUERY_STRING") or ""):
        values.setdefault(key.strip().lower(), []).append(value)

    def largest(key: str) -> float:
        return max((float(v) for v in values.get(key, ["0"])), default=0.0)

    try:
        if "getmap" in _operations(environ):
            pixels = largest("width") * largest("height")
            return int(pixels) if math.isfinite(pixels) else 0
        sizes = [float(n) for v in values.get("scalesize", []) for n in _NUMBERS.findall(v)]
        return int(math.prod(sizes)) if sizes else 0
    except (ValueError, OverflowError):
        return 0  # the service itself says what is wrong with the number


class _RateLimiter:
    """Fixed one-minute windows per caller, in this process."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, caller: str) -> int | None:
        """None if allowed, else the seconds until the window resets."""
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.get(caller, (now, 0))
            if now - start >= 60:
                start, count = now, 0
            if count >= self.per_minute:
                return int(60 - (now - start)) + 1
            self._windows[caller] = (start, count + 1)
            if len(self._windows) > 10_000:  # forget idle callers
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < 60}
        return None


class AccessControl:
    def __init__(self, app: WSGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.auth = settings.security.auth
        self.keys: KeyStore | None = None
        self.tokens = TokenValidator(settings)
        self.jobs = job_store(settings.database_url)
        share = math.ceil(self.auth.quotas.requests_per_minute / settings.server.workers)
        self.limiter = _RateLimiter(share)

    def _keys(self) -> KeyStore:
        if self.keys is None:  # lazily: the database may be down at start-up
            self.keys = KeyStore(self.settings)
        return self.keys

    # Who ------------------------------------------------------------------------
    def identify(self, environ: dict[str, Any]) -> Identity:
        header = str(environ.get("HTTP_AUTHORIZATION") or "").strip()
        if not header:
            return Identity(ANONYMOUS, ANONYMOUS)
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise NotAuthenticated("send the credential as 'Authorization: Bearer <key or token>'")
        if key_id_of(credential) is not None:
            identity = self._keys().identify(credential)
            if identity is None:
                raise NotAuthenticated("the API key is not valid", invalid=True)
            return identity
        if self.tokens.configured:
            return self.tokens.identify(credential)
        raise NotAuthenticated("the bearer credential is not a valid API key", invalid=True)

    def processing_open(self) -> bool:
        mode = self.auth.anonymous_processing
        if mode != "auto":
            return mode == "always"
        loopback = (
            self.settings.server.host in _LOOPBACK_HOSTS
            or self.settings.server.host.startswith("127.")
        )
        return loopback and not self.tokens.configured and not self._keys().any_configured()

    # What -----------------------------------------------------------------------
    def authorize(self, identity: Identity, action: str) -> None:
        if action == "open":
            return
        if action == "admin":
            if identity.is_anonymous:
                raise NotAuthenticated("this operation needs an administrator's credential")
            if not identity.is_admin:
                raise AccessDenied("this operation needs the admin role")
            return
        if action == "view" and (self.auth.open_discovery or not identity.is_anonymous):
            return
        if action in ("jobs", "compute") and (not identity.is_anonymous or self.processing_open()):
            return
        what = "processing and jobs need" if action != "view" else "this server needs"
        raise NotAuthenticated(
            f"{what} a credential: send 'Authorization: Bearer <API key or token>' "
            "(an operator creates keys with 'ogcsdl keys create')"
        )

    def enforce_quotas(self, environ: dict[str, Any], identity: Identity, action: str) -> None:
        quotas = self.auth.quotas
        caller = identity.user if not identity.is_anonymous else f"ip:{environ.get('REMOTE_ADDR')}"
        retry = self.limiter.hit(caller)
        if retry is not None:
            raise TooManyRequests(
                f"more than {quotas.requests_per_minute} requests per minute", retry
            )
        pixels = _image_pixels(environ)
        if pixels > quotas.max_image_pixels:
            raise InvalidParameterValue(
                f"the requested image has {pixels} pixels; the limit is {quotas.max_image_pixels}",
                "WIDTH" if "width" in _query(environ) else "SCALESIZE",
            )
        if action != "compute" or environ.get("REQUEST_METHOD", "GET").upper() == "DELETE":
            return
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > quotas.max_input_bytes:
            raise PayloadTooLarge(
                f"the request body is larger than {quotas.max_input_bytes} bytes", "body"
            )
        running, last_hour = self.jobs.usage(identity.user, datetime.now(UTC) - timedelta(hours=1))
        if running >= quotas.concurrent_jobs:
            raise TooManyRequests(
                f"{running} of your jobs are still running; the limit is {quotas.concurrent_jobs}",
                10,
            )
        if last_hour >= quotas.jobs_per_hour:
            raise TooManyRequests(f"the limit is {quotas.jobs_per_hour} jobs per hour", 300)

    # WSGI -----------------------------------------------------------------------
    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            action = classify(environ, self.settings.security.max_request_bytes)
            identity = self._identity(environ, action)
            self.authorize(identity, action)
            if action != "open":
                self.enforce_quotas(environ, identity, action)
        except OgcsdlError as error:
            return self._refuse(environ, start_response, error)
        environ[IDENTITY_KEY] = identity
        return self.app(environ, start_response)

    def _identity(self, environ: dict[str, Any], action: str) -> Identity:
        """Who calls; an open request (/health, landing pages) goes on as anonymous when
        the key store cannot be reached, so /health can say that the database is down."""
        try:
            return self.identify(environ)
        except ServiceUnavailable:
            if action != "open":
                raise
            return Identity(ANONYMOUS, ANONYMOUS)

    @staticmethod
    def _refuse(
        environ: dict[str, Any], start_response: Callable[..., Any], error: OgcsdlError
    ) -> list[bytes]:
        headers = list(getattr(error, "headers", []))
        # The exception document of the service asked (the edge's styles, one renderer).
        status, media_type, body = render_error(error, error_style(environ))
        return respond(start_response, status, body, media_type, headers)


def protect(app: WSGIApp, settings: Settings) -> AccessControl:
    """Wrap the gateway (``ogcsdl.gateway.app.create_app``)."""
    return AccessControl(app, settings)

"""What every pygeoapi-backed mount shares (OGC API - Coverages, OGC API - Records):
the server/metadata part of pygeoapi's configuration, built from our settings instead of
a config file, and calling one of pygeoapi's framework-neutral API handlers as WSGI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from pygeoapi.api import API, APIRequest
from werkzeug.wrappers import Request

from ogcsdl.config import Settings

StartResponse = Callable[..., Any]
Handler = Callable[..., tuple[dict[str, str], int, Any]]


def pygeoapi_config(
    settings: Settings,
    path: str,
    title: str,
    description: str,
    keywords: list[str],
    resources: dict[str, Any],
) -> dict[str, Any]:
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": settings.server.port},
            "url": settings.url(path),
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 1000},
            "map": {"url": "", "attribution": ""},
            "pretty_print": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": title,
                "description": description,
                "keywords": keywords,
                "keywords_type": "theme",
                "terms_of_service": "",
                "url": settings.public_url,
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": settings.catalogue.organisation, "url": settings.public_url},
            "contact": {
                "name": settings.catalogue.contact_name,
                "email": settings.catalogue.contact_email,
            },
        },
        "resources": resources,
    }


def call_handler(
    api: API,
    handler: Handler,
    args: tuple[str, ...],
    environ: dict[str, Any],
    start_response: StartResponse,
) -> Iterable[bytes]:
    """One pygeoapi API function answering a WSGI request."""
    request = APIRequest.from_flask(Request(environ), api.locales)
    headers, status, content = handler(api, request, *args)
    if isinstance(content, bytes):
        body = content
    elif isinstance(content, str):
        body = content.encode("utf-8")
    else:
        body = json.dumps(content).encode()
    start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
    return [body]

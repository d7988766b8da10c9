"""The STAC API's service description (OpenAPI 3.0, ``/stac/api``) and its human
documentation (``/stac/api.html``, rendered from the same document)."""

from __future__ import annotations

import html
from typing import Any

from ogcsdl import __version__
from ogcsdl.stac.params import MAX_LIMIT

MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
_GEOJSON = "application/geo+json"
_JSON = "application/json"


def _parameter(name: str, description: str, schema: dict[str, Any], style: str = "form") -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        "style": style,
        "explode": False,
    }


_SEARCH_PARAMETERS = [
    _parameter(
        "bbox",
        "minx,miny,maxx,maxy in WGS84 (or 6 numbers with heights)",
        {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6},
    ),
    _parameter("intersects", "a GeoJSON geometry (JSON text)", {"type": "string"}),
    _parameter(
        "datetime",
        "RFC 3339 instant or interval start/end, '..' or empty for an open end",
        {"type": "string"},
    ),
    _parameter(
        "limit",
        f"items per page; above {MAX_LIMIT} is clamped",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 10},
    ),
    _parameter("ids", "item identifiers", {"type": "array", "items": {"type": "string"}}),
    _parameter(
        "collections", "collection identifiers", {"type": "array", "items": {"type": "string"}}
    ),
    _parameter("token", "paging token from a next link", {"type": "string"}),
    _parameter("filter", "CQL2 filter", {"type": "string"}),
    _parameter(
        "filter-lang",
        "filter language",
        {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"},
    ),
    _parameter("sortby", "e.g. -eo:cloud_cover,+datetime", {"type": "string"}),
    _parameter("query", 'e.g. {"eo:cloud_cover": {"lt": 20}}', {"type": "string"}),
    _parameter("fields", "e.g. id,properties.eo:cloud_cover,-links", {"type": "string"}),
]
_COLLECTION_ID = {
    "name": "collectionId",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
_ITEM_ID = {"name": "itemId", "in": "path", "required": True, "schema": {"type": "string"}}


def _answer(description: str, media_type: str) -> dict[str, Any]:
    return {
        "200": {
            "description": description,
            "content": {media_type: {"schema": {"type": "object"}}},
        },
        "400": {"$ref": "#/components/responses/Problem"},
        "404": {"$ref": "#/components/responses/Problem"},
    }


def _get(summary: str, answer: str, media_type: str, parameters: list | None = None) -> dict:
    """A path with one GET operation."""
    operation = {
        "summary": summary,
        "parameters": parameters or [],
        "responses": _answer(answer, media_type),
    }
    return {"get": operation}


def service_description(base: str) -> dict[str, Any]:
    search_body = {
        "required": False,
        "content": {
            _JSON: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "bbox": {"type": "array", "items": {"type": "number"}},
                        "intersects": {"type": "object"},
                        "datetime": {"type": "string"},
                        "limit": {"type": "integer", "minimum": 1},
                        "ids": {"type": "array", "items": {"type": "string"}},
                        "collections": {"type": "array", "items": {"type": "string"}},
                        "token": {"type": "string"},
                        "filter": {"oneOf": [{"type": "object"}, {"type": "string"}]},
                        "filter-lang": {"type": "string", "enum": ["cql2-text", "cql2-json"]},
                        "sortby": {"type": "array", "items": {"type": "object"}},
                        "query": {"type": "object"},
                        "fields": {"type": "object"},
                    },
                }
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ogcsdl STAC API",
            "version": __version__,
            "description": "STAC API 1.0 (core, collections, features, item search) with the"
            " Filter (CQL2), Sort, Query and Fields extensions.",
        },
        "servers": [{"url": base}],
        "paths": {
            "/": _get("Landing page", "the landing page", _JSON),
            "/conformance": _get("Conformance classes", "conformance classes", _JSON),
            "/api": _get("This OpenAPI document", "the service description", MEDIA_TYPE),
            "/queryables": _get(
                "Queryables of every item", "a JSON schema", "application/schema+json"
            ),
            "/collections": _get("Collections", "the collections", _JSON),
            "/collections/{collectionId}": _get(
                "One collection", "the collection", _JSON, [_COLLECTION_ID]
            ),
            "/collections/{collectionId}/queryables": _get(
                "Queryables of a collection",
                "a JSON schema",
                "application/schema+json",
                [_COLLECTION_ID],
            ),
            "/collections/{collectionId}/items": _get(
                "Items of a collection",
                "an item collection",
                _GEOJSON,
                [_COLLECTION_ID, *_SEARCH_PARAMETERS],
            ),
            "/collections/{collectionId}/items/{itemId}": _get(
                "One item", "the item", _GEOJSON, [_COLLECTION_ID, _ITEM_ID]
            ),
            "/search": {
                **_get("Item search", "matching items", _GEOJSON, _SEARCH_PARAMETERS),
                "post": {
                    "summary": "Item search (JSON body)",
                    "requestBody": search_body,
                    "responses": _answer("matching items", _GEOJSON),
                },
            },
        },
        "components": {
            "responses": {
                "Problem": {
                    "description": "an error (RFC 7807 problem details)",
                    "content": {"application/problem+json": {"schema": {"type": "object"}}},
                }
            }
        },
    }


def service_doc_html(base: str) -> str:
    """A plain page listing each operation and its parameters (no script, no CDN)."""
    described = service_description(base)
    rows = []
    for path, operations in described["paths"].items():
        for method, operation in operations.items():
            names = ", ".join(
                html.escape(parameter["name"]) for parameter in operation.get("parameters", [])
            )
            rows.append(
                f"<tr><td>{method.upper()}</td><td><code>{html.escape(base + path)}</code></td>"
                f"<td>{html.escape(operation['summary'])}</td><td>{names}</td></tr>"
            )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ogcsdl STAC API</title></head>"
        f"<body><h1>ogcsdl STAC API</h1><p>{html.escape(described['info']['description'])}</p>"
        f"<p>Machine-readable description: <a href='{html.escape(base)}/api'>OpenAPI 3.0</a>.</p>"
        "<table border='1'><tr><th>method</th><th>path</th><th>what</th><th>parameters</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )

"""STAC API 1.0 (core, collections, features, item search; Filter, Sort, Query and
Fields extensions) over the product store, mounted at ``/stac``; errors are OGC API
problem documents. Parsing (``params``), matching (``search``, ``cql2``), extensions,
links and the OpenAPI description each live in their own module."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from ogcsdl import __version__, safe_json
from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings
from ogcsdl.errors import InvalidParameterValue, NotFound, PayloadTooLarge
from ogcsdl.stac import extensions, items, openapi, queryables, search
from ogcsdl.stac.links import GEOJSON, page_links
from ogcsdl.stac.params import parse_search
from ogcsdl.wsgi import StartResponse, WSGIEnviron, respond

_STAC = "https://api.stacspec.org/v1.0.0"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf"
CONFORMS_TO = [
    f"{_STAC}/core",
    f"{_STAC}/collections",
    f"{_STAC}/item-search",
    f"{_STAC}/ogcapi-features",
    f"{_STAC}/item-search#sort",
    f"{_STAC}/item-search#query",
    f"{_STAC}/item-search#fields",
    f"{_STAC}/ogcapi-features#sort",
    f"{_STAC}/ogcapi-features#query",
    f"{_STAC}/ogcapi-features#fields",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "https://api.stacspec.org/v1.0.0-rc.2/ogcapi-features#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    f"{_CQL2}/cql2-text",
    f"{_CQL2}/cql2-json",
    f"{_CQL2}/basic-cql2",
    f"{_CQL2}/advanced-comparison-operators",
    f"{_CQL2}/basic-spatial-functions",
    f"{_CQL2}/basic-spatial-operators",  # the draft name stac-api-validator 0.6 checks
    f"{_CQL2}/spatial-functions",
    f"{_CQL2}/temporal-functions",
    f"{_CQL2}/temporal-operators",  # the draft name stac-api-validator 0.6 checks
    f"{_CQL2}/array-functions",
]
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
SCHEMA_JSON = "application/schema+json"
_ITEMS = re.compile(r"^/collections/([^/]+)/items/?$")
_ITEM = re.compile(r"^/collections/([^/]+)/items/([^/]+)$")
_COLLECTION = re.compile(r"^/collections/([^/]+)/?$")
_COLLECTION_QUERYABLES = re.compile(r"^/collections/([^/]+)/queryables/?$")


class StacApi:
    def __init__(self, settings: Settings, store: ProductStore) -> None:
        self.settings = settings
        self.store = store
        self.base = settings.url("stac")

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        document, media_type = self._route(environ)  # the gateway's edge renders errors
        body = (
            document.encode("utf-8")
            if isinstance(document, str)
            else json.dumps(document).encode("utf-8")
        )
        return respond(start_response, 200, body, media_type)

    def _route(self, environ: WSGIEnviron) -> tuple[dict[str, Any] | str, str]:
        path = environ.get("PATH_INFO") or "/"
        method = environ["REQUEST_METHOD"]
        params = dict(parse_qsl(environ.get("QUERY_STRING") or "", keep_blank_values=True))
        if path == "/search" and method == "POST":
            return self._search(_json_body(environ), "search", None, "POST"), GEOJSON
        if method != "GET":
            raise InvalidParameterValue(f"{method} is not supported on {path}", "method")
        params.pop("f", None)
        if path in ("", "/"):
            return self._landing(), "application/json"
        if path == "/conformance":
            return {"conformsTo": CONFORMS_TO}, "application/json"
        if path == "/api":
            return openapi.service_description(self.base), openapi.MEDIA_TYPE
        if path == "/api.html":
            return openapi.service_doc_html(self.base), "text/html; charset=utf-8"
        if path == "/queryables":
            return queryables.document(f"{self.base}/queryables", "Queryables"), SCHEMA_JSON
        if path == "/collections":
            return self._collections(), "application/json"
        if path == "/search":
            return self._search(params, "search", None, "GET"), GEOJSON
        if match := _ITEM.match(path):
            record = self.store.get(match.group(2))
            if record.collection != match.group(1):
                raise NotFound(f"no item {match.group(2)!r} in collection {match.group(1)!r}")
            return items.item(record, self.settings), GEOJSON
        if match := _ITEMS.match(path):
            self._collection(match.group(1))  # 404 for an unknown collection
            name = f"collections/{match.group(1)}/items"
            return self._search(params, name, match.group(1), "GET"), GEOJSON
        if match := _COLLECTION_QUERYABLES.match(path):
            self._collection(match.group(1))
            url = f"{self.base}/collections/{match.group(1)}/queryables"
            return queryables.document(url, f"Queryables of {match.group(1)}"), SCHEMA_JSON
        if match := _COLLECTION.match(path):
            return self._collection(match.group(1)), "application/json"
        raise NotFound(f"nothing at /stac{path}")

    def _landing(self) -> dict[str, Any]:
        json_type = "application/json"
        return {
            "type": "Catalog",
            "stac_version": items.STAC_VERSION,
            "id": "ogcsdl",
            "title": "ogcsdl STAC API",
            "description": f"Earth-observation products of this ogcsdl {__version__} suite.",
            "conformsTo": CONFORMS_TO,
            "links": [
                {"rel": "self", "href": f"{self.base}/", "type": json_type},
                {"rel": "root", "href": f"{self.base}/", "type": json_type},
                {"rel": "conformance", "href": f"{self.base}/conformance", "type": json_type},
                {"rel": "data", "href": f"{self.base}/collections", "type": json_type},
                {"rel": "service-desc", "href": f"{self.base}/api", "type": openapi.MEDIA_TYPE},
                {"rel": "service-doc", "href": f"{self.base}/api.html", "type": "text/html"},
                {"rel": QUERYABLES_REL, "href": f"{self.base}/queryables", "type": SCHEMA_JSON},
                {"rel": "search", "href": f"{self.base}/search", "type": GEOJSON, "method": "GET"},
                {"rel": "search", "href": f"{self.base}/search", "type": GEOJSON, "method": "POST"},
            ]
            + [
                {"rel": "child", "href": f"{self.base}/collections/{name}", "type": json_type}
                for name in self.store.collections()
            ],
        }

    def _collections(self) -> dict[str, Any]:
        extents = self.store.collection_extents()
        return {
            "collections": [
                items.collection(name, extent, self.settings) for name, extent in extents.items()
            ],
            "links": [
                {"rel": "self", "href": f"{self.base}/collections", "type": "application/json"},
                {"rel": "root", "href": f"{self.base}/", "type": "application/json"},
            ],
        }

    def _collection(self, name: str) -> dict[str, Any]:
        extent = self.store.collection_extents().get(name)
        if extent is None:
            raise NotFound(f"no collection {name!r}; see /stac/collections", "collectionId")
        return items.collection(name, extent, self.settings)

    def _search(
        self, params: dict[str, Any], path: str, collection: str | None, method: str
    ) -> dict[str, Any]:
        request = parse_search(params, collection, from_json=method == "POST")
        result = search.run(self.store, request)
        features = [items.item(record, self.settings) for record in result.records]
        if request.fields is not None:
            features = [extensions.apply_fields(feature, request.fields) for feature in features]
        collection_page: dict[str, Any] = {"type": "FeatureCollection", "features": features}
        if result.matched is not None:
            collection_page["numberMatched"] = result.matched
        collection_page["numberReturned"] = len(features)
        collection_page["links"] = page_links(
            f"{self.base}/{path}",
            f"{self.base}/",
            params,
            method,
            request.query.limit,
            result.next_token,
            result.prev_token,
        )
        return collection_page


def _json_body(environ: WSGIEnviron) -> dict[str, Any]:
    # The gateway's edge bounded the body and gave a chunked one its length.
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > 1024 * 1024:
        raise PayloadTooLarge("search body larger than 1 MiB")
    return safe_json.loads_object(environ["wsgi.input"].read(length))


def make_app(settings: Settings) -> StacApi:
    return StacApi(settings, product_store(settings))

"""STAC API 1.0 (core, collections, item search, features) over the product store,
mounted at ``/stac``; errors are raised and rendered by the gateway's edge as OGC API
problem documents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from shapely import wkt
from shapely.geometry import box

from ogcsdl import __version__, safe_json
from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.store import ProductQuery, ProductStore
from ogcsdl.config import Settings
from ogcsdl.errors import InvalidParameterValue, NotFound
from ogcsdl.stac import items
from ogcsdl.stac.params import parse_search
from ogcsdl.wsgi import StartResponse, WSGIEnviron, respond

CONFORMS_TO = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
]
_ITEMS = re.compile(r"^/collections/([^/]+)/items/?$")
_ITEM = re.compile(r"^/collections/([^/]+)/items/([^/]+)$")
_COLLECTION = re.compile(r"^/collections/([^/]+)/?$")


class StacApi:
    def __init__(self, settings: Settings, store: ProductStore) -> None:
        self.settings = settings
        self.store = store
        self.base = settings.url("stac")

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        document, media_type = self._route(environ)
        body = json.dumps(document).encode("utf-8")
        return respond(start_response, 200, body, media_type)

    def _route(self, environ: WSGIEnviron) -> tuple[dict[str, Any], str]:
        path = environ.get("PATH_INFO") or "/"
        method = environ["REQUEST_METHOD"]
        params = dict(parse_qsl(environ.get("QUERY_STRING") or "", keep_blank_values=True))
        if path == "/search" and method == "POST":
            return self._search(_json_body(environ), "search", None), "application/geo+json"
        if method != "GET":
            raise InvalidParameterValue(f"{method} is not supported on {path}", "method")
        params.pop("f", None)
        if path in ("", "/"):
            return self._landing(), "application/json"
        if path == "/conformance":
            return {"conformsTo": CONFORMS_TO}, "application/json"
        if path == "/collections":
            return self._collections(), "application/json"
        if path == "/search":
            return self._search(params, "search", None), "application/geo+json"
        if match := _ITEM.match(path):
            record = self.store.get(match.group(2))
            if record.collection != match.group(1):
                raise NotFound(f"no item {match.group(2)!r} in collection {match.group(1)!r}")
            return items.item(record, self.settings), "application/geo+json"
        if match := _ITEMS.match(path):
            self._collection(match.group(1))  # 404 for an unknown collection
            path_name = f"collections/{match.group(1)}/items"
            return self._search(params, path_name, match.group(1)), "application/geo+json"
        if match := _COLLECTION.match(path):
            return self._collection(match.group(1)), "application/json"
        raise NotFound(f"nothing at /stac{path}")

    def _landing(self) -> dict[str, Any]:
        return {
            "type": "Catalog",
            "stac_version": items.STAC_VERSION,
            "id": "ogcsdl",
            "title": "ogcsdl STAC API",
            "description": f"Earth-observation products of this ogcsdl {__version__} suite.",
            "conformsTo": CONFORMS_TO,
            "links": [
                {"rel": "self", "href": f"{self.base}/", "type": "application/json"},
                {"rel": "root", "href": f"{self.base}/", "type": "application/json"},
                {
                    "rel": "conformance",
                    "href": f"{self.base}/conformance",
                    "type": "application/json",
                },
                {"rel": "data", "href": f"{self.base}/collections", "type": "application/json"},
                {
                    "rel": "search",
                    "href": f"{self.base}/search",
                    "type": "application/geo+json",
                    "method": "GET",
                },
                {
                    "rel": "search",
                    "href": f"{self.base}/search",
                    "type": "application/geo+json",
                    "method": "POST",
                },
            ]
            + [
                {
                    "rel": "child",
                    "href": f"{self.base}/collections/{name}",
                    "type": "application/json",
                }
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

    def _search(self, params: dict[str, Any], path: str, collection: str | None) -> dict[str, Any]:
        query = parse_search(params, collection)
        records, matched = self.store.search(query)
        if query.bbox is not None:  # refine the envelope test with the real footprints
            area = box(*query.bbox)
            records = [
                record for record in records if wkt.loads(record.footprint_wkt).intersects(area)
            ]
        features = [items.item(record, self.settings) for record in records]
        links = [{"rel": "root", "href": f"{self.base}/", "type": "application/json"}]
        if query.offset + query.limit < matched:
            links.append(self._next_link(params, path, query))
        return {
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": matched,
            "numberReturned": len(features),
            "links": links,
        }

    def _next_link(self, params: dict[str, Any], path: str, query: ProductQuery) -> dict[str, Any]:
        following = {**params, "token": query.offset + query.limit, "limit": query.limit}
        encoded = {
            key: ",".join(map(str, value)) if isinstance(value, list) else value
            for key, value in following.items()
        }
        return {
            "rel": "next",
            "href": f"{self.base}/{path}?{urlencode(encoded)}",
            "type": "application/geo+json",
            "method": "GET",
        }


def _json_body(environ: WSGIEnviron) -> dict[str, Any]:
    # The gateway's edge bounded the body and gave a chunked one its length.
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return safe_json.loads_object(environ["wsgi.input"].read(length))


def make_app(settings: Settings) -> StacApi:
    return StacApi(settings, product_store(settings))

"""OGC API - Coverages at ``/coverages``: pygeoapi's API functions and its rasterio
coverage provider over the product COGs. Collection ids are the product identifiers (the
catalogue's record ids). The pygeoapi configuration is generated from the product store
and rebuilt when the store changes; no global config file is read."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from pygeoapi.api import (
    API,
    conformance,
    describe_collections,
    get_collection_schema,
    landing_page,
)
from pygeoapi.api.coverages import get_collection_coverage

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.coverages.ogcapi_query import checked_query
from ogcsdl.errors import NotFound
from ogcsdl.pygeoapi_glue import Handler, StartResponse, call_handler, pygeoapi_config

RELOAD_INTERVAL_S = 1.0
# The GeoTIFF media type of OGC API - Coverages (and what GDAL's OGCAPI driver asks for).
GEOTIFF = "image/tiff; application=geotiff"


def coverages_config(settings: Settings, records: list[ProductRecord]) -> dict[str, Any]:
    resources = {
        record.identifier: {
            "type": "collection",
            "title": record.title,
            "description": record.abstract or f"{record.collection} product {record.identifier}",
            "keywords": record.keywords or [record.collection],
            "extents": {
                "spatial": {
                    "bbox": list(record.bbox),
                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                },
                "temporal": {"begin": record.start, "end": record.end},
            },
            "links": [],
            "providers": [
                {
                    "type": "coverage",
                    "name": "ogcsdl.coverages.oapi_provider.ProductCoverageProvider",
                    "data": record.file_path,
                    "format": {"name": "GTiff", "mimetype": GEOTIFF},
                    "bands": [
                        {
                            "name": band.name,
                            "description": band.description or "",
                            "unit": band.unit,
                        }
                        for band in record.bands
                    ],
                }
            ],
        }
        for record in records
    }
    return pygeoapi_config(
        settings,
        "/coverages",
        "ogcsdl coverages",
        "Earth-observation products as OGC API - Coverages.",
        ["coverages", "Earth observation"],
        resources,
    )


class CoveragesApiApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = product_store(settings)
        self._api: API | None = None
        self._stamp: list[tuple[str, str]] = []
        self._checked_at = 0.0

    def api(self) -> API:
        if self._api is None or time.monotonic() - self._checked_at > RELOAD_INTERVAL_S:
            records = self.store.list()
            stamp = [(r.identifier, r.updated.isoformat()) for r in records]
            if self._api is None or stamp != self._stamp:
                self._api = API(coverages_config(self.settings, records), {})
                self._stamp = stamp
            self._checked_at = time.monotonic()
        return self._api

    def route(self, path: str) -> tuple[Handler, tuple[str, ...]]:
        parts = [part for part in path.split("/") if part]
        if not parts:
            return landing_page, ()
        if parts == ["conformance"]:
            return conformance, ()
        if parts[0] == "collections" and len(parts) <= 3:
            if len(parts) == 1:
                return describe_collections, ()
            if len(parts) == 2:
                return describe_collections, (parts[1],)
            if parts[2] == "coverage":
                return get_collection_coverage, (parts[1],)
            if parts[2] == "schema":
                return get_collection_schema, (parts[1],)
        raise NotFound(f"no resource at /{'/'.join(parts)}")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        handler, args = self.route(environ.get("PATH_INFO", ""))  # the edge renders a 404
        if handler is get_collection_coverage:
            record = self.store.get(args[0])  # NotFound: 404
            environ["QUERY_STRING"] = checked_query(environ.get("QUERY_STRING", ""), record)
        return call_handler(self.api(), handler, args, environ, start_response)


def make_app(settings: Settings) -> CoveragesApiApp:
    return CoveragesApiApp(settings)

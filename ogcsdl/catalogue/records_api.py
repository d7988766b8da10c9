"""OGC API - Records at ``/records``: pygeoapi's Records API (its item-type handlers) over
our pycsw through pygeoapi's CSW facade provider, so the records have one source of truth
(the product store, projected into pycsw's table) and one query engine.

The provider is pygeoapi's ``CSWFacadeProvider`` with two changes: it talks to pycsw on
its loopback port without reading pycsw's capabilities (which advertise the public URL:
following them would call back into the gateway that is serving this request), and the
links it gives clients point at the public ``/csw`` endpoint, never at the loopback one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from owslib.csw import CatalogueServiceWeb
from pygeoapi.api import API, conformance, describe_collections, landing_page
from pygeoapi.api.itemtypes import (
    get_collection_item,
    get_collection_items,
    get_collection_queryables,
)
from pygeoapi.provider.csw_facade import CSWFacadeProvider

from ogcsdl.config import Settings
from ogcsdl.errors import InvalidParameterValue, MethodNotAllowed, NotFound
from ogcsdl.pygeoapi_glue import Handler, StartResponse, call_handler, pygeoapi_config

COLLECTION = "products"
MAX_OFFSET = 999_999_999  # as CSW startPosition (gateway/catalogue_edge.py)
# An open interval end as pycsw compares dates (ISO 8601 text).
OPEN_START, OPEN_END = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# Every resource is read-only: records are published into the product store (ingest,
# processes, harvests), never through this API. CORS preflights are answered before.
READ_METHODS = ("GET", "HEAD", "OPTIONS")


class ProductRecordsProvider(CSWFacadeProvider):
    def __init__(self, provider_def: dict[str, Any]) -> None:
        self.public_csw = str(provider_def["public_csw"])
        super().__init__(provider_def)

    def _get_csw(self) -> CatalogueServiceWeb:
        csw = CatalogueServiceWeb(self.data, skip_caps=True, timeout=30)
        return csw

    def _gen_getrecordbyid_link(self, identifier: str, csw_version: str = "2.0.2") -> dict:
        query = {
            "service": "CSW",
            "version": csw_version,
            "request": "GetRecordById",
            "id": identifier,
        }
        return {
            "rel": "alternate",
            "type": "application/xml",
            "title": "This record as CSW (Dublin Core)",
            "href": f"{self.public_csw}?{urlencode(query)}",
        }


def records_config(settings: Settings) -> dict[str, Any]:
    provider = {
        "type": "record",
        "name": f"{__name__}.ProductRecordsProvider",
        "data": settings.catalogue_internal_url,
        "public_csw": settings.url("csw"),
        "id_field": "identifier",
        "time_field": "date",
        "title_field": "title",
    }
    resources = {
        COLLECTION: {
            "type": "collection",
            "title": "Earth-observation products",
            "description": "Every product of the catalogue (ingested, harvested, "
            "published process outputs); the same records as CSW and STAC.",
            "keywords": ["Sentinel-2", "Sentinel-1", "Earth observation"],
            "links": [
                {
                    "type": "application/xml",
                    "rel": "alternate",
                    "title": "The same records through CSW",
                    "href": settings.url("csw")
                    + "?service=CSW&version=2.0.2&request=GetCapabilities",
                }
            ],
            "extents": {"spatial": {"bbox": [-180, -90, 180, 90], "crs": CRS84}},
            "providers": [provider],
        }
    }
    return pygeoapi_config(
        settings,
        "/records",
        settings.catalogue.title,
        "The catalogue's product records as OGC API - Records.",
        ["records", "catalogue", "Earth observation"],
        resources,
    )


class RecordsApp:
    def __init__(self, settings: Settings) -> None:
        self.api = API(records_config(settings), {})

    @staticmethod
    def route(path: str) -> tuple[Handler, tuple[str, ...]]:
        parts = [part for part in path.split("/") if part]
        if not parts:
            return landing_page, ()
        if parts == ["conformance"]:
            return conformance, ()
        if parts == ["collections"]:
            return describe_collections, ()
        if len(parts) >= 2 and parts[0] == "collections" and parts[1] == COLLECTION:
            rest = parts[2:]
            if not rest:
                return describe_collections, (COLLECTION,)
            if rest == ["items"]:
                return get_collection_items, (COLLECTION,)
            if len(rest) == 2 and rest[0] == "items":
                return get_collection_item, (COLLECTION, rest[1])
            if rest == ["queryables"]:
                return get_collection_queryables, (COLLECTION,)
        raise NotFound(f"no resource at /{'/'.join(parts)}")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        handler, args = self.route(environ.get("PATH_INFO", ""))  # NotFound: the edge renders it
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in READ_METHODS:
            raise MethodNotAllowed(
                f"{method} is not allowed here: the records are read-only "
                "(they are published by ingest, processes and harvests)",
                READ_METHODS,
            )
        if handler is get_collection_items:
            environ["QUERY_STRING"] = checked_items_query(environ.get("QUERY_STRING", ""))
        return call_handler(self.api, handler, args, environ, start_response)


def checked_items_query(query: str) -> str:
    """The items query, with what pygeoapi hands pycsw unchecked refused (a 500 there)
    and open datetime intervals made explicit.

    ``offset`` becomes CSW ``startPosition``: above SQLite's integers it overflowed
    inside pycsw. A ``bbox`` of NaN or infinity fails pycsw's schema validation. A
    ``datetime`` that is no date was searched for and matched nothing (a 200 that hid
    the client's mistake; OGC API - Features answers it with a 400). pygeoapi's CSW
    facade compares an interval's ends as text: ``2000-01-01/..`` (date < '..') matched
    nothing and ``2000-01-01/`` (date < '') was a 500; open ends become the first and
    last instants a record can have."""
    pairs = parse_qsl(query, keep_blank_values=True)
    checked: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "offset" and value.strip().isdigit() and int(value) > MAX_OFFSET:
            raise InvalidParameterValue(f"offset must be at most {MAX_OFFSET}", "offset")
        if key == "bbox" and not _finite_or_not_numbers(value):
            raise InvalidParameterValue("bbox values must be finite numbers", "bbox")
        if key == "datetime":
            if not _is_datetime_or_interval(value):
                raise InvalidParameterValue(
                    f"datetime {value!r} is not a date-time, a date or an interval of them "
                    "(e.g. 2024-06-01T10:30:00Z, 2024-06-01/.., ../2024-06-30)",
                    "datetime",
                )
            value = _explicit_interval(value)
        checked.append((key, value))
    return query if checked == pairs else urlencode(checked)


def _explicit_interval(value: str) -> str:
    if "/" not in value:
        return value
    start, end = value.split("/")
    start = OPEN_START if start in ("", "..") else start
    end = OPEN_END if end in ("", "..") else end
    return f"{start}/{end}"


def _is_datetime_or_interval(text: str) -> bool:
    ends = text.split("/")
    if len(ends) > 2 or all(end in ("", "..") for end in ends):
        return False
    for end in ends:
        if end in ("", ".."):
            continue
        try:
            datetime.fromisoformat(end.replace("z", "Z"))
        except ValueError:
            return False
    return True


def _finite_or_not_numbers(text: str) -> bool:
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        return True  # pygeoapi answers a bbox that is not numbers with a 400
    return all(math.isfinite(number) for number in numbers)


def make_app(settings: Settings) -> RecordsApp:
    return RecordsApp(settings)

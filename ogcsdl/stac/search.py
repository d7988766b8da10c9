"""Runs a :class:`SearchRequest` over the product store.

SQL (``ProductStore.search``, parameterised) pre-selects by collection, id, envelope and
time. When the request also needs per-item decisions (a footprint test, a CQL2 filter, a
query, a sort order) the pre-selected records are judged on their item values and paged
here; otherwise SQL pages directly."""

from __future__ import annotations

from dataclasses import dataclass, replace

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.errors import InvalidParameterValue
from ogcsdl.stac import extensions, items, queryables
from ogcsdl.stac.params import SearchRequest

# Records judged one by one in a single search; beyond it the client narrows the search
# (collections, bbox, datetime) rather than the server loading the whole table.
MAX_CANDIDATES = 50_000


@dataclass(frozen=True)
class SearchResult:
    records: list[ProductRecord]
    matched: int


def _area(request: SearchRequest) -> BaseGeometry | None:
    if request.intersects is not None:
        return request.intersects
    if request.query.bbox is not None:
        return box(*request.query.bbox)
    return None


def run(store: ProductStore, request: SearchRequest) -> SearchResult:
    area = _area(request)
    if area is None and not request.decided_per_item:
        records, matched = store.search(request.query)
        return SearchResult(records, matched)
    candidates, matched = store.search(replace(request.query, limit=MAX_CANDIDATES, offset=0))
    if matched > MAX_CANDIDATES:
        raise InvalidParameterValue(
            f"this search would judge {matched} records one by one (at most"
            f" {MAX_CANDIDATES}); narrow it with collections, bbox or datetime",
            "filter",
        )
    by_id = {record.identifier: record for record in candidates}
    judged = []
    for record in candidates:
        values = queryables.values_of(items.searchable(record))
        if area is not None and not values["geometry"].intersects(area):
            continue
        if request.filter is not None and not request.filter(values):
            continue
        if request.property_query is not None and not request.property_query(values):
            continue
        judged.append(values)
    ordered = extensions.sort_values(judged, request.sortby)
    page = ordered[request.query.offset : request.query.offset + request.query.limit]
    return SearchResult([by_id[values["id"]] for values in page], len(ordered))

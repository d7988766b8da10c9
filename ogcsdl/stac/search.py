"""Runs a :class:`SearchRequest` over the product store.

SQL (``ProductStore.search``, parameterised) pre-selects by collection, id, envelope and
time, in the store's order (newest first). What SQL cannot decide (a footprint test, a
CQL2 filter, a query) is judged per item afterwards, three ways:

- nothing to judge: SQL pages directly (the token is the SQL offset);
- judged, store order: SQL rows are scanned in batches from the token (a SQL offset)
  until the page is full, so a page costs what it scans, not the whole table; the next
  token is where the scan stopped, and a scan budget bounds each request (a page may
  then hold fewer items, with a next link to go on);
- a sort order: every candidate is judged and sorted (at most ``MAX_CANDIDATES``; the
  token is the position in the sorted list)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.errors import InvalidParameterValue
from ogcsdl.stac import extensions, items, queryables
from ogcsdl.stac.params import SearchRequest

# Records sorted in memory for one search; beyond it the client narrows the search.
MAX_CANDIDATES = 50_000
# Records judged for one page of an unsorted search, and the largest SQL batch (batches
# start at about two pages and grow while matches are rare).
SCAN_BUDGET = 100_000
BATCH = 1000


@dataclass(frozen=True)
class SearchResult:
    records: list[ProductRecord]
    matched: int | None  # None: not known without judging every record
    next_token: int | None
    prev_token: int | None = None


def _area(request: SearchRequest) -> BaseGeometry | None:
    if request.intersects is not None:
        return request.intersects
    if request.query.bbox is not None:
        return box(*request.query.bbox)
    return None


def _judge(request: SearchRequest, record: ProductRecord) -> dict[str, Any] | None:
    """The record's queryable values if it matches everything SQL could not decide."""
    values = queryables.values_of(items.searchable(record))
    area = _area(request)
    if area is not None and not values["geometry"].intersects(area):
        return None
    if request.filter is not None and not request.filter(values):
        return None
    if request.property_query is not None and not request.property_query(values):
        return None
    return values


def _paged(offset: int, limit: int, total: int) -> tuple[int | None, int | None]:
    following = offset + limit if offset + limit < total else None
    previous = max(offset - limit, 0) if offset > 0 else None
    return following, previous


def run(store: ProductStore, request: SearchRequest) -> SearchResult:
    if request.sortby:
        return _sorted(store, request)
    if not request.decided_per_item:
        records, matched = store.search(request.query)
        assert matched is not None  # counted by default
        following, previous = _paged(request.query.offset, request.query.limit, matched)
        return SearchResult(records, matched, following, previous)
    return _scanned(store, request)


def _scanned(store: ProductStore, request: SearchRequest) -> SearchResult:
    limit, start = request.query.limit, request.query.offset
    position = start
    page: list[ProductRecord] = []
    batch = min(2 * limit + 1, BATCH)
    while True:
        records, _ = store.search(replace(request.query, limit=batch, offset=position), count=False)
        for index, record in enumerate(records):
            if _judge(request, record) is None:
                continue
            if len(page) == limit:  # one more match exists: the next page starts here
                return SearchResult(page, None, position + index)
            page.append(record)
        position += len(records)
        if len(records) < batch:  # every row seen
            matched = len(page) if start == 0 else None
            return SearchResult(page, matched, None)
        if position - start >= SCAN_BUDGET:
            return SearchResult(page, None, position)
        batch = min(batch * 4, BATCH)


def _sorted(store: ProductStore, request: SearchRequest) -> SearchResult:
    candidates, matched = store.search(replace(request.query, limit=MAX_CANDIDATES, offset=0))
    if matched is not None and matched > MAX_CANDIDATES:
        raise InvalidParameterValue(
            f"sortby over {matched} records (at most {MAX_CANDIDATES} are sorted in one"
            " search); narrow it with collections, bbox or datetime",
            "sortby",
        )
    by_id = {record.identifier: record for record in candidates}
    judged = [values for record in candidates if (values := _judge(request, record))]
    ordered = extensions.sort_values(judged, request.sortby)
    offset, limit = request.query.offset, request.query.limit
    page = [by_id[values["id"]] for values in ordered[offset : offset + limit]]
    following, previous = _paged(offset, limit, len(ordered))
    return SearchResult(page, len(ordered), following, previous)

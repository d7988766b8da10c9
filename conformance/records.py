"""OGC API - Records (Part 1, core) checks runnable against any base URL (``base_url``
is the Records API landing page). Each is ``check_x(base_url, session) -> (passed,
reason)``; they discover the first collection and record themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from conformance.runner import CheckFailure, register_endpoint_checks

Check = Callable[[str, requests.Session], tuple[bool, str]]
CORE = "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/core"


def _json(session: requests.Session, url: str, **params: str) -> tuple[int, Any]:
    response = session.get(url, params={"f": "json", **params}, timeout=60)
    try:
        return response.status_code, response.json()
    except ValueError:
        kind = response.headers.get("Content-Type")
        raise CheckFailure(f"{url}: HTTP {response.status_code}, not JSON ({kind})") from None


def _first_collection(base_url: str, session: requests.Session) -> str:
    status, document = _json(session, f"{base_url}/collections")
    collections = (document or {}).get("collections") or []
    if status != 200 or not collections:
        raise LookupError("the API lists no collection")
    return f"{base_url}/collections/{collections[0]['id']}"


def check_landing_page_and_conformance(
    base_url: str, session: requests.Session
) -> tuple[bool, str]:
    status, landing = _json(session, base_url)
    if status != 200 or not isinstance(landing, dict):
        return False, f"landing page answered {status}"
    rels = {link.get("rel") for link in landing.get("links", [])}
    if not {"conformance", "data"} <= rels:
        return False, f"landing page lacks conformance/data links: {sorted(r for r in rels if r)}"
    status, conformance = _json(session, f"{base_url}/conformance")
    classes = (conformance or {}).get("conformsTo", [])
    if status != 200 or CORE not in classes:
        return False, "conformance does not declare OGC API - Records core"
    return True, f"{len(classes)} conformance classes"


def check_items_are_a_record_collection(
    base_url: str, session: requests.Session
) -> tuple[bool, str]:
    collection = _first_collection(base_url, session)
    status, items = _json(session, f"{collection}/items", limit="2")
    if status != 200 or (items or {}).get("type") != "FeatureCollection":
        return False, f"items answered {status} without a FeatureCollection"
    features = items.get("features") or []
    if not features:
        return True, "the collection is empty"
    record = features[0]
    if not record.get("id") or "properties" not in record or not record["properties"].get("title"):
        return False, "a record lacks id, properties or title"
    status, one = _json(session, f"{collection}/items/{record['id']}")
    if status != 200 or one.get("id") != record["id"]:
        return False, f"record {record['id']} answered {status}"
    return True, f"numberMatched {items.get('numberMatched')}"


def check_bbox_filters(base_url: str, session: requests.Session) -> tuple[bool, str]:
    collection = _first_collection(base_url, session)
    status, far = _json(session, f"{collection}/items", bbox="-179,-89,-178,-88")
    if status != 200:
        return False, f"bbox query answered {status}"
    if far.get("features"):
        return False, "a box at the south pole matched records"
    return True, "no record in an empty box"


def check_unknown_record_is_404(base_url: str, session: requests.Session) -> tuple[bool, str]:
    collection = _first_collection(base_url, session)
    response = session.get(f"{collection}/items/no-such-record-x", params={"f": "json"}, timeout=60)
    if response.status_code != 404:
        return False, f"unknown record answered {response.status_code}"
    return True, ""


def check_bad_bbox_is_400(base_url: str, session: requests.Session) -> tuple[bool, str]:
    collection = _first_collection(base_url, session)
    response = session.get(f"{collection}/items", params={"f": "json", "bbox": "1,2,3"}, timeout=60)
    if response.status_code != 400:
        return False, f"a three-number bbox answered {response.status_code}"
    return True, ""


RECORDS_CHECKS: list[Check] = [
    check_landing_page_and_conformance,
    check_items_are_a_record_collection,
    check_bbox_filters,
    check_unknown_record_is_404,
    check_bad_bbox_is_400,
]

ENDPOINT = "/records"
register_endpoint_checks(
    "OGC API - Records", ENDPOINT, RECORDS_CHECKS, __name__, skip_on=(LookupError,)
)

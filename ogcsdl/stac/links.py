"""Links of an item collection page: self, root and the paging links (``next``/``prev``)
in the method the page was asked with: a POST search pages with POST and its body."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

GEOJSON = "application/geo+json"


def _query_string(params: dict[str, Any]) -> str:
    encoded = {
        key: ",".join(map(str, value))
        if isinstance(value, list)
        else json.dumps(value)
        if isinstance(value, dict)
        else value
        for key, value in params.items()
    }
    return urlencode(encoded)


def _page(url: str, params: dict[str, Any], method: str, token: int, rel: str) -> dict[str, Any]:
    following = {**params, "token": str(token)}
    if method == "POST":
        return {
            "rel": rel,
            "href": url,
            "type": GEOJSON,
            "method": "POST",
            "body": following,
            "merge": False,
        }
    return {
        "rel": rel,
        "href": f"{url}?{_query_string(following)}",
        "type": GEOJSON,
        "method": "GET",
    }


def page_links(
    url: str,
    root: str,
    params: dict[str, Any],
    method: str,
    limit: int,
    next_token: int | None,
    prev_token: int | None,
) -> list[dict[str, Any]]:
    """``params`` are the request's own (query parameters or JSON body)."""
    own = {key: value for key, value in params.items() if key != "token"}
    self_href = f"{url}?{_query_string(params)}" if params and method == "GET" else url
    links = [
        {"rel": "self", "href": self_href, "type": GEOJSON},
        {"rel": "root", "href": root, "type": "application/json"},
    ]
    if next_token is not None:
        links.append(_page(url, own | {"limit": limit}, method, next_token, "next"))
    if prev_token is not None:
        links.append(_page(url, own | {"limit": limit}, method, prev_token, "prev"))
    return links

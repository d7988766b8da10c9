"""Harvest a STAC API with pystac-client: item search (GET), following its ``next``
links, optionally limited to one collection and a box.

Incremental: when the API declares the Filter extension (``item-search#filter``) and
lists ``updated`` among its queryables, the search asks for ``updated >= since``
(CQL2 text). Otherwise item search cannot filter on modification time: every run pages
through everything and the runner skips unchanged records by their ``updated`` (such a
run is also a complete listing, which shows remote deletions). pystac-client's HTTP
goes through the suite's checked fetcher.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any

from pystac_client import Client, ConformanceClasses
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from shapely.geometry import shape

from ogcsdl.catalogue.iso19139 import iso_datetime
from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.config import Settings
from ogcsdl.harvest.model import HarvestSource, Page, RejectedEntry, parse_time, remote_record
from ogcsdl.harvest.transport import SourceError, fetch


class CheckedStacApiIO(StacApiIO):
    """pystac-client's I/O with every request through :func:`transport.fetch`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(timeout=settings.harvest.timeout_s)
        self._settings = settings

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        if (method or "GET").upper() == "POST":
            body = json.dumps(parameters or {}).encode()
            content = fetch(href, self._settings, body=body, content_type="application/json")
        else:
            params = {key: str(value) for key, value in (parameters or {}).items()}
            content = fetch(href, self._settings, params=params or None)
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{href} answered text that is not UTF-8") from None


def filters_on_updated(client: Client) -> bool:
    """Whether item search can select ``updated >= since`` (the Filter extension, with
    ``updated`` a queryable; an API without a queryables document is not trusted)."""
    if not client.conforms_to(ConformanceClasses.FILTER):
        return False
    try:
        queryables = client.get_queryables()
    except (APIError, SourceError, ValueError, KeyError, TypeError, AttributeError):
        return False
    properties = queryables.get("properties") if isinstance(queryables, dict) else None
    return isinstance(properties, dict) and "updated" in properties


class StacHarvester:
    def pages(
        self, source: HarvestSource, since: datetime | None, settings: Settings
    ) -> Iterator[Page]:
        return self._search(source, since, settings)

    def listing(self, source: HarvestSource, settings: Settings) -> Iterator[Page]:
        """Every item (the Fields extension is not universal, so whole items): the
        runner also writes what an incremental run missed."""
        return self._search(source, None, settings)

    def _search(
        self, source: HarvestSource, since: datetime | None, settings: Settings
    ) -> Iterator[Page]:
        try:
            client = Client.open(source.url, stac_io=CheckedStacApiIO(settings))
            extra: dict[str, Any] = {}
            if since is not None and filters_on_updated(client):
                extra["filter"] = f"updated >= TIMESTAMP('{iso_datetime(since)}')"
                extra["filter_lang"] = "cql2-text"
            search = client.search(
                collections=[source.collection] if source.collection else None,
                bbox=list(source.bbox) if source.bbox else None,
                limit=settings.harvest.page_size,
                method="GET",
                **extra,
            )
            for answer in search.pages_as_dicts():
                if not isinstance(answer, dict) or not isinstance(answer.get("features"), list):
                    raise SourceError(f"{source.url} answered a page without features")
                matched = answer.get("numberMatched")
                page = Page(
                    [],
                    matched=matched if isinstance(matched, int) else None,
                    since_applied="filter" in extra,
                )
                for feature in answer["features"]:
                    name = feature.get("id") if isinstance(feature, dict) else None
                    page.take(
                        name if isinstance(name, str) else None,
                        partial(stac_record, source, feature),
                    )
                yield page
        except APIError as exc:
            raise SourceError(f"{source.url} answered an error: {exc}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # json and pystac raise these on garbage; the harvest stops, nothing is written
            raise SourceError(f"{source.url} answered unusable STAC: {exc!r}") from None


def _assets(feature: dict[str, Any]) -> list[dict[str, Any]]:
    assets = feature.get("assets") or {}
    return [
        {
            "href": asset.get("href"),
            "type": asset.get("type"),
            "title": asset.get("title") or key,
            "roles": asset.get("roles") or [],
        }
        for key, asset in assets.items()
        if isinstance(asset, dict) and isinstance(asset.get("href"), str)
    ]


def stac_record(source: HarvestSource, feature: Any) -> ProductRecord:
    """A harvested record from one STAC Item (a dict)."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise RejectedEntry("not a STAC Item")
    props = feature.get("properties") or {}
    try:
        geometry = shape(feature["geometry"])
        bbox = tuple(float(value) for value in (feature.get("bbox") or geometry.bounds))[:4]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RejectedEntry("no usable geometry") from None
    start = parse_time(props.get("start_datetime") or props.get("datetime"), "datetime")
    end = parse_time(props.get("end_datetime") or props.get("datetime"), "datetime")
    bands = [
        Band(str(band["name"]), band.get("description"), band.get("center_wavelength"))
        for asset in (feature.get("assets") or {}).values()
        if isinstance(asset, dict)
        for band in asset.get("eo:bands") or []
        if isinstance(band, dict) and band.get("name")
    ]
    epsg = props.get("proj:epsg")
    shape_ = props.get("proj:shape") or [0, 0]
    gsd = props.get("gsd")
    instruments = props.get("instruments") or []
    return remote_record(
        source,
        identifier=str(feature.get("id") or ""),
        title=str(props.get("title") or feature.get("id") or ""),
        collection=feature.get("collection"),
        start=start,
        end=end,
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
        footprint_wkt=geometry.wkt if geometry.geom_type in ("Polygon", "MultiPolygon") else None,
        updated=parse_time(props.get("updated") or props.get("datetime"), "updated"),
        assets=_assets(feature),
        crs=f"EPSG:{epsg}" if isinstance(epsg, int) else None,
        resolution=(float(gsd), float(gsd)) if isinstance(gsd, (int, float)) else None,
        width=shape_[1] if len(shape_) == 2 else 0,
        height=shape_[0] if len(shape_) == 2 else 0,
        platform=props.get("platform"),
        instrument=instruments[0] if instruments else None,
        product_type=props.get("product_type"),
        processing_level=props.get("processing:level"),
        cloud_cover=props.get("eo:cloud_cover"),
        bands=bands,
    )

"""Harvest a STAC API with pystac-client: item search (GET), following its ``next``
links, optionally limited to one collection and a box.

STAC item search cannot filter on modification time without the filter extension, so
incremental harvests compare each item's ``updated`` with what is stored (the runner
skips unchanged records). pystac-client's HTTP goes through the suite's checked fetcher.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from shapely.geometry import shape

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


class StacHarvester:
    def pages(
        self, source: HarvestSource, since: datetime | None, settings: Settings
    ) -> Iterator[Page]:
        try:
            client = Client.open(source.url, stac_io=CheckedStacApiIO(settings))
            search = client.search(
                collections=[source.collection] if source.collection else None,
                bbox=list(source.bbox) if source.bbox else None,
                limit=settings.harvest.page_size,
                method="GET",
            )
            for answer in search.pages_as_dicts():
                if not isinstance(answer, dict) or not isinstance(answer.get("features"), list):
                    raise SourceError(f"{source.url} answered a page without features")
                page = Page([], matched=answer.get("numberMatched"))
                for feature in answer["features"]:
                    try:
                        page.records.append(stac_record(source, feature))
                    except RejectedEntry as why:
                        name = feature.get("id") if isinstance(feature, dict) else "?"
                        page.rejected.append(f"{name}: {why}")
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

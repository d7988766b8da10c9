"""ProductRecord -> STAC 1.0 Item / Collection documents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shapely import wkt
from shapely.geometry import mapping

from ogcsdl.catalogue.record import COG_MEDIA_TYPE, ProductRecord, product_href
from ogcsdl.catalogue.store import CollectionExtent
from ogcsdl.config import Settings
from ogcsdl.stac import projection
from ogcsdl.stac.rfc3339 import format_instant

# STAC 1.1.0 items (the STAC API 1.0.0 classes serve any 1.x item); pystac ships its
# schemas, so validation runs offline. Extension versions match the vendored schemas in
# tests/data/stac-schemas.
STAC_VERSION = "1.1.0"
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
]


# Sensing start and stop of one acquisition differ by seconds; such a product has one
# nominal ``datetime`` (its start). Longer spans (composites) are ranges only.
SINGLE_ACQUISITION = timedelta(hours=1)


def _constellation(platform: str | None) -> str | None:
    if platform and platform.lower().startswith("sentinel-"):
        return platform.lower()[: len("sentinel-1")]
    return None


def _remote_assets(record: ProductRecord) -> dict[str, Any]:
    """A harvested record's data stays at its source: its links, as assets."""
    assets: dict[str, Any] = {}
    for number, asset in enumerate(record.remote_assets):
        key = "data" if number == 0 else f"data-{number}"
        assets[key] = {name: value for name, value in asset.items() if value}
    return assets


def properties(record: ProductRecord) -> dict[str, Any]:
    """The item's properties (no file access: searches evaluate these for many records)."""
    single = record.end - record.start <= SINGLE_ACQUISITION
    found: dict[str, Any] = {
        "title": record.title,
        "updated": format_instant(record.updated),
        "proj:epsg": projection.epsg_of(record.crs),
        "gsd": record.resolution[0],
    }
    if record.start != record.end:
        found["start_datetime"] = format_instant(record.start)
        found["end_datetime"] = format_instant(record.end)
    if record.platform:
        found["platform"] = record.platform.lower()
        found["constellation"] = _constellation(record.platform)
    if record.instrument:
        found["instruments"] = [record.instrument.lower()]
    if record.cloud_cover is not None:
        found["eo:cloud_cover"] = record.cloud_cover
    if record.processing_level:
        found["processing:level"] = record.processing_level
    if record.product_type:
        found["product_type"] = record.product_type
    return {key: value for key, value in found.items() if value is not None} | {
        "datetime": format_instant(record.start) if single else None
    }


def searchable(record: ProductRecord) -> dict[str, Any]:
    """The parts of an item a search decides on: id, collection, geometry, properties."""
    return {
        "id": record.identifier,
        "collection": record.collection,
        "geometry": mapping(wkt.loads(record.footprint_wkt)),
        "properties": properties(record),
    }


def item(record: ProductRecord, settings: Settings) -> dict[str, Any]:
    base = settings.url("stac")
    bands = [
        {
            "name": band.name,
            **({"description": band.description} if band.description else {}),
            **(
                {"center_wavelength": band.center_wavelength_um}
                if band.center_wavelength_um
                else {}
            ),
        }
        for band in record.bands
    ]
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": EXTENSIONS,
        **searchable(record),
        "bbox": list(record.bbox),
        "assets": _remote_assets(record)
        if not record.is_local
        else {
            "data": {
                "href": product_href(settings, record.identifier),
                "type": COG_MEDIA_TYPE,
                "title": "Analysis-ready COG",
                "roles": ["data"],
                "eo:bands": bands,
                "file:size": record.file_size,
                **projection.asset_fields(record),
            },
            "metadata": {
                "href": settings.url(
                    "csw?service=CSW&version=2.0.2&request=GetRecordById"
                    f"&outputSchema=http://www.isotc211.org/2005/gmd&id={record.identifier}"
                ),
                "type": "application/xml",
                "title": "ISO 19139 metadata (CSW)",
                "roles": ["metadata"],
            },
        },
        "links": [
            {
                "rel": "self",
                "href": f"{base}/collections/{record.collection}/items/{record.identifier}",
                "type": "application/geo+json",
            },
            {
                "rel": "parent",
                "href": f"{base}/collections/{record.collection}",
                "type": "application/json",
            },
            {
                "rel": "collection",
                "href": f"{base}/collections/{record.collection}",
                "type": "application/json",
            },
            {"rel": "root", "href": f"{base}/", "type": "application/json"},
        ],
    }


def collection(collection_id: str, extent: CollectionExtent, settings: Settings) -> dict[str, Any]:
    base = settings.url("stac")
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "id": collection_id,
        "title": collection_id.replace("-", " ").title(),
        "description": f"{extent.count} product(s) of collection {collection_id}",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [list(extent.bbox)]},
            "temporal": {"interval": [[format_instant(extent.start), format_instant(extent.end)]]},
        },
        "links": [
            {
                "rel": "self",
                "href": f"{base}/collections/{collection_id}",
                "type": "application/json",
            },
            {
                "rel": "items",
                "href": f"{base}/collections/{collection_id}/items",
                "type": "application/geo+json",
            },
            {"rel": "parent", "href": f"{base}/", "type": "application/json"},
            {"rel": "root", "href": f"{base}/", "type": "application/json"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "href": f"{base}/collections/{collection_id}/queryables",
                "type": "application/schema+json",
            },
        ],
    }

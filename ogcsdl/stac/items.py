"""ProductRecord -> STAC 1.0 Item / Collection documents."""

from __future__ import annotations

from typing import Any

from pyproj import CRS
from shapely import wkt
from shapely.geometry import mapping

from ogcsdl.catalogue.record import COG_MEDIA_TYPE, ProductRecord, product_href
from ogcsdl.catalogue.store import CollectionExtent
from ogcsdl.config import Settings

STAC_VERSION = "1.0.0"
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
]


def _epsg(crs: str) -> int | None:
    try:
        return CRS.from_user_input(crs).to_epsg()
    except Exception:  # noqa: BLE001 - a CRS without an EPSG code is simply not reported
        return None


def _constellation(platform: str | None) -> str | None:
    if platform and platform.lower().startswith("sentinel-"):
        return platform.lower()[: len("sentinel-1")]
    return None


def item(record: ProductRecord, settings: Settings) -> dict[str, Any]:
    base = settings.url("stac")
    properties: dict[str, Any] = {
        "title": record.title,
        "datetime": record.start.isoformat() if record.start == record.end else None,
        "updated": record.updated.isoformat(),
        "proj:epsg": _epsg(record.crs),
        "proj:shape": [record.height, record.width],
        "gsd": record.resolution[0],
    }
    if record.start != record.end:
        properties["start_datetime"] = record.start.isoformat()
        properties["end_datetime"] = record.end.isoformat()
    if record.platform:
        properties["platform"] = record.platform.lower()
        properties["constellation"] = _constellation(record.platform)
    if record.instrument:
        properties["instruments"] = [record.instrument.lower()]
    if record.cloud_cover is not None:
        properties["eo:cloud_cover"] = record.cloud_cover
    if record.processing_level:
        properties["processing:level"] = record.processing_level
    if record.product_type:
        properties["product_type"] = record.product_type
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
        "id": record.identifier,
        "collection": record.collection,
        "geometry": mapping(wkt.loads(record.footprint_wkt)),
        "bbox": list(record.bbox),
        "properties": {key: value for key, value in properties.items() if value is not None}
        | {"datetime": properties["datetime"]},
        "assets": {
            "data": {
                "href": product_href(settings, record.identifier),
                "type": COG_MEDIA_TYPE,
                "title": "Analysis-ready COG",
                "roles": ["data"],
                "eo:bands": bands,
                "file:size": record.file_size,
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
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [list(extent.bbox)]},
            "temporal": {"interval": [[extent.start.isoformat(), extent.end.isoformat()]]},
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
        ],
    }

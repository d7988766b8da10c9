"""Generate MapProxy's configuration from the product store.

One layer per collection (style variants as sibling layers, TIME dimension over the
acquisition times, default the latest) and one layer per product (and per style). Every
layer has a disk cache on the three tile grids; the source is our renderer on loopback.
The file is regenerated whenever the store changes (see :mod:`ogcsdl.tiles.app`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.tiles.renderer import renderer_url
from ogcsdl.tiles.styles import styles_for

GRIDS: dict[str, dict[str, Any]] = {
    "GoogleMapsCompatible": {"base": "GLOBAL_WEBMERCATOR", "name": "GoogleMapsCompatible"},
    "WorldCRS84Quad": {
        "name": "WorldCRS84Quad",
        "srs": "EPSG:4326",
        "bbox": [-180, -90, 180, 90],
        "origin": "nw",
        "min_res": 0.703125,
        "num_levels": 19,
    },
    # Lantmäteriet's SWEREF 99 TM tile scheme (origin and 4096 m top resolution).
    "SWEREF99TM": {
        "name": "SWEREF99TM",
        "srs": "EPSG:3006",
        "bbox": [-1200000, 4305696, 2994304, 8500000],
        "bbox_srs": "EPSG:3006",
        "origin": "nw",
        "min_res": 4096,
        "num_levels": 17,
    },
}
REST_TEMPLATE = "/{Layer}/{Style}/{TileMatrixSet}/{Time}/{TileMatrix}/{TileCol}/{TileRow}.{Format}"
WMS_SRS = ["EPSG:3857", "EPSG:4326", "CRS:84", "EPSG:3006", "EPSG:32633", "EPSG:32634"]


def iso_time(value: datetime) -> str:
    """Acquisition time as a TIME dimension value, e.g. ``2024-06-01T10:00:00Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def cache_name(layer_name: str) -> str:
    return f"{layer_name}_cache"


def layer_names(record: ProductRecord) -> list[str]:
    """The product's own layers: its id (default style) and ``id.style`` for the others."""
    styles = styles_for(record)
    return [record.identifier] + [f"{record.identifier}.{s.name}" for s in styles[1:]]


def _source(settings: Settings, target: str, style: str, record: ProductRecord) -> dict[str, Any]:
    west, south, east, north = record.bbox
    return {
        "type": "wms",
        "req": {
            "url": renderer_url(settings),
            "layers": target,
            "styles": style,
            "transparent": True,
        },
        "wms_opts": {"version": "1.3.0"},
        "forward_req_params": ["time"],
        "supported_srs": WMS_SRS,
        "coverage": {"bbox": [west, south, east, north], "srs": "EPSG:4326"},
        "http": {"client_timeout": settings.server.timeout_s},
    }


def _union_bbox(records: list[ProductRecord]) -> ProductRecord:
    """The latest record with its bbox widened to all records (for the source coverage)."""
    latest = max(records, key=lambda r: r.start)
    west = min(r.bbox[0] for r in records)
    south = min(r.bbox[1] for r in records)
    east = max(r.bbox[2] for r in records)
    north = max(r.bbox[3] for r in records)
    clone = ProductRecord.from_json(latest.to_json())
    clone.bbox = (west, south, east, north)
    return clone


def build_config(settings: Settings, records: list[ProductRecord]) -> dict[str, Any]:
    sources: dict[str, Any] = {}
    caches: dict[str, Any] = {}
    layers: list[dict[str, Any]] = []

    def add(
        name: str,
        title: str,
        target: str,
        style: str,
        record: ProductRecord,
        times: list[str] | None,
    ) -> None:
        sources[f"{name}_source"] = _source(settings, target, style, record)
        caches[cache_name(name)] = {
            "grids": list(GRIDS),
            "sources": [f"{name}_source"],
            "format": "image/png",
            "request_format": "image/png",
            "cache": {"type": "file", "directory_layout": "tc"},
        }
        layer: dict[str, Any] = {"name": name, "title": title, "sources": [cache_name(name)]}
        if times:
            layer["dimensions"] = {"time": {"values": times, "default": times[-1]}}
        layers.append(layer)

    by_collection: dict[str, list[ProductRecord]] = {}
    for record in records:
        by_collection.setdefault(record.collection, []).append(record)
    for collection, members in sorted(by_collection.items()):
        extent = _union_bbox(members)
        times = sorted({iso_time(r.start) for r in members})
        for index, style in enumerate(styles_for(extent)):
            name = collection if index == 0 else f"{collection}.{style.name}"
            add(name, f"{collection}: {style.title}", collection, style.name, extent, times)
    for record in records:
        for index, style in enumerate(styles_for(record)):
            name = record.identifier if index == 0 else f"{record.identifier}.{style.name}"
            # A product's single acquisition time is its TIME dimension too, so every
            # layer fits the one REST template (which carries {Time}).
            add(
                name,
                f"{record.title}: {style.title}",
                record.identifier,
                style.name,
                record,
                [iso_time(record.start)],
            )

    metadata = {
        "title": "ogcsdl maps and tiles",
        "abstract": "Earth-observation products and process outputs as WMS/WMTS/TMS layers.",
        "online_resource": settings.url("/maps/service"),
        "access_constraints": "none",
        "fees": "none",
    }
    services: dict[str, Any] = {
        "wms": {
            "versions": ["1.3.0"],
            "srs": WMS_SRS,
            "md": metadata,
            "image_formats": ["image/png"],
            "strict": True,
        },
        "wmts": {"kvp": True, "restful": True, "md": metadata, "restful_template": REST_TEMPLATE},
        "tms": {"use_grid_names": True, "origin": "nw"},
        "ogcapi": {
            "enable_tiles": True,
            "enable_maps": True,
            "md": {
                "identification": {"title": metadata["title"], "description": metadata["abstract"]}
            },
        },
    }
    if not layers:
        # MapProxy refuses a configuration without layers: an empty placeholder keeps
        # the services answering (with empty capabilities) until the first ingest.
        sources["empty_source"] = {"type": "debug"}
        layers.append({"name": "empty", "title": "No products yet", "sources": ["empty_source"]})
    return {
        "services": services,
        "globals": {
            "cache": {
                "base_dir": str(settings.cache_dir / "mapproxy"),
                "lock_dir": str(settings.cache_dir / "mapproxy" / "locks"),
                "meta_size": [settings.tiles.meta_size] * 2,
                "meta_buffer": 0,
            },
            "image": {"paletted": False},
            "http": {"hide_error_details": True},
        },
        "grids": GRIDS,
        "sources": sources,
        "caches": caches,
        "layers": layers,
    }


def write_config(settings: Settings, records: list[ProductRecord]) -> Path:
    """Write ``generated/mapproxy.yaml`` atomically (MapProxy's reloader watches it)."""
    settings.generated_dir.mkdir(parents=True, exist_ok=True)
    path = settings.generated_dir / "mapproxy.yaml"
    temporary = path.with_suffix(".yaml.tmp")
    temporary.write_text(yaml.safe_dump(build_config(settings, records), sort_keys=False))
    temporary.replace(path)
    return path

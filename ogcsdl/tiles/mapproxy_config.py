"""MapProxy's configuration, derived from the layer model and built in memory.

Every layer has a disk cache on the three tile grids; the source is our renderer on
loopback. The dict goes straight into MapProxy's own validation and
``ProxyConfiguration`` (what ``load_configuration`` does after reading a YAML file), so
there is no file to write, watch and re-parse: the maps app rebuilds MapProxy when the
product store changes (see :mod:`ogcsdl.tiles.app`).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from mapproxy.config.configuration.base import ConfigurationError
from mapproxy.config.configuration.proxy import ProxyConfiguration
from mapproxy.config.loader import load_plugins
from mapproxy.config.spec import validate_options
from mapproxy.config.validator import validate
from mapproxy.wsgiapp import MapProxyApp

from ogcsdl.config import Settings
from ogcsdl.tiles import cache_store
from ogcsdl.tiles.layers import Layer, LayerModel
from ogcsdl.tiles.renderer import renderer_url

LOG = logging.getLogger(__name__)

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
WMS_FORMATS = ["image/png", "image/jpeg"]
WMS_SRS = ["EPSG:3857", "EPSG:4326", "CRS:84", "EPSG:3006", "EPSG:32633", "EPSG:32634"]


def cache_name(layer_name: str) -> str:
    return f"{layer_name}_cache"


def _source(settings: Settings, layer: Layer) -> dict[str, Any]:
    return {
        "type": "wms",
        "req": {
            "url": renderer_url(settings),
            "layers": layer.target,
            "styles": layer.style.name,
            "transparent": True,
        },
        "wms_opts": {"version": "1.3.0"},
        "forward_req_params": ["time"],
        "supported_srs": WMS_SRS,
        "coverage": {"bbox": list(layer.bbox), "srs": "EPSG:4326"},
        "http": {"client_timeout": settings.server.timeout_s},
    }


def build_config(settings: Settings, model: LayerModel) -> dict[str, Any]:
    """MapProxy's configuration (the dict a ``mapproxy.yaml`` would hold)."""
    sources: dict[str, Any] = {}
    caches: dict[str, Any] = {}
    layers: list[dict[str, Any]] = []
    for layer in model.layers:
        sources[f"{layer.name}_source"] = _source(settings, layer)
        caches[cache_name(layer.name)] = {
            "grids": list(GRIDS),
            "sources": [f"{layer.name}_source"],
            "format": "image/png",
            # Uncompressed on loopback: MapProxy decodes it to cut tiles (renderer.FORMATS).
            "request_format": "image/tiff",
            "cache": {"type": "file", "directory_layout": "tc"},
        }
        layers.append(
            {
                "name": layer.name,
                "title": layer.title,
                "sources": [cache_name(layer.name)],
                "dimensions": {"time": {"values": list(layer.times), "default": layer.times[-1]}},
                # The native pixel (m): OGC API - Maps draws at it when a request gives a
                # size without a bbox (MapProxy answered those with a 500 without it).
                "nominal_res": layer.finest_m * 2,
            }
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
            # 1.1.1 is what OWSLib, GDAL and many desktop clients negotiate first.
            "versions": ["1.1.1", "1.3.0"],
            "srs": WMS_SRS,
            "md": metadata,
            # GDAL's WMS driver asks for JPEG unless told otherwise.
            "image_formats": WMS_FORMATS,
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


def proxy_configuration(
    settings: Settings, model: LayerModel, seed: bool = False
) -> ProxyConfiguration:
    """MapProxy's loaded configuration, validated as ``load_configuration`` does it;
    its file caches with our fixes for concurrent requests (``tiles/cache_store.py``)."""
    load_plugins()
    cache_store.apply()
    config = build_config(settings, model)
    errors, informal_only = validate_options(config)
    if not informal_only:
        raise ConfigurationError("invalid MapProxy configuration: " + "; ".join(errors))
    for warning in validate(config):  # informational, as load_configuration treats them
        LOG.warning("MapProxy configuration: %s", warning)
    # MapProxy fills its configuration objects in place: give it its own copy.
    return ProxyConfiguration(
        copy.deepcopy(config), conf_base_dir=str(settings.generated_dir), seed=seed
    )


def mapproxy_app(settings: Settings, model: LayerModel) -> MapProxyApp:
    loaded = proxy_configuration(settings, model)
    return MapProxyApp(loaded.configured_services(), loaded.base_config)

"""Request checks MapProxy leaves out or answers with a 500, done before it sees the
request: WMTS GetTile parameters, STYLE and TIME (KVP and REST), WMS GetMap FORMAT and
TIME, and CRS:84. TIME values are checked against the layer model and rewritten to the canonical
form the capabilities list, so one instant is one cache slice."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from ogcsdl.errors import InvalidParameterValue, MissingParameterValue, OgcsdlError
from ogcsdl.tiles.layers import CURRENT, LayerModel, canonical_time
from ogcsdl.tiles.mapproxy_config import WMS_FORMATS

KVP_REQUIRED = ("layer", "style", "format", "tilematrixset", "tilematrix", "tilerow", "tilecol")


class InvalidDimensionValue(OgcsdlError, ValueError):
    """WMS 1.3.0 Annex C: a dimension value the layer does not offer."""

    code = "InvalidDimensionValue"
    status = 400


def check_wmts_gettile(params: dict[str, str], model: LayerModel) -> str | None:
    """KVP GetTile parameters; returns the canonical TIME to forward (None: none given)."""
    for key in KVP_REQUIRED:
        if key not in params:
            raise MissingParameterValue(f"{key.upper()} is required", locator=key)
    for key in ("tilematrix", "tilerow", "tilecol"):
        # Our matrices are numbered; MapProxy fails with a 500 on anything else.
        if not params[key].lstrip("-").isdigit():
            raise InvalidParameterValue(f"{key.upper()} {params[key]!r} is not defined", key)
    style = params["style"]
    # Styled requests were already pointed at their variant layer (ows_styles), so
    # anything but the default style left here is unknown.
    if style not in ("", "default"):
        raise InvalidParameterValue(
            f"style {style!r} is not defined for layer {params['layer']!r}", locator="style"
        )
    if "time" not in params:
        return None
    layer = params["layer"]
    return checked_time(params["time"], model.times(layer), layer, "time")


def checked_time(
    value: str,
    times: tuple[str, ...] | None,
    layer: str,
    locator: str,
    error: type[OgcsdlError] = InvalidParameterValue,
) -> str:
    """The canonical form of a TIME instant the layer offers; ``error`` otherwise (WMTS
    has only InvalidParameterValue, WMS 1.3.0 InvalidDimensionValue).
    ``default``/``current`` (and any value, for a layer the model does not know: MapProxy
    answers those) pass unchanged."""
    if times is None or value.lower() in CURRENT:
        return value
    canonical = canonical_time(value, locator)
    if canonical not in times:
        raise error(
            f"TIME {value!r} is not an acquisition time of {layer!r} "
            f"(see the layer's Dimension in the capabilities)",
            locator=locator,
        )
    return canonical


class InvalidFormat(OgcsdlError, ValueError):
    """WMS: an output format the service does not offer (MapProxy answers it with a 500)."""

    code = "InvalidFormat"
    status = 400


def check_wms_getmap(params: dict[str, str], model: LayerModel) -> str | None:
    """FORMAT must be offered and TIME one of the acquisition times of every requested
    layer; returns the canonical TIME to forward (None: no TIME given)."""
    image_format = params.get("format", "")
    if image_format and image_format.split(";")[0].strip().lower() not in WMS_FORMATS:
        raise InvalidFormat(
            f"FORMAT {image_format!r} is not offered; use one of {', '.join(WMS_FORMATS)}",
            locator="format",
        )
    value = params.get("time")
    if not value:
        return None
    for layer in params.get("layers", "").split(","):
        value = checked_time(value, model.times(layer), layer, "time", InvalidDimensionValue)
    return value


def check_wmts_rest_tile(path: str, model: LayerModel) -> str | None:
    """For a REST GetTile path ``/wmts/{Layer}/{Style}/{TileMatrixSet}/{Time}/{z}/{x}/{y}.ext``,
    the path with its Time in canonical form (None: not a tile path). An unfilled
    template (``{Time}``) or a time the layer does not offer is refused here: MapProxy
    would pass it to the renderer and answer the renderer's refusal with a 500."""
    parts = path.split("/")
    if len(parts) != 9 or parts[1] != "wmts" or parts[2] == "1.0.0":
        return None
    layer, time_value = parts[2], parts[5]
    for key, value in (("TileMatrix", parts[6]), ("TileCol", parts[7])):
        if not value.isdigit():
            raise InvalidParameterValue(f"{key} {value!r} is not defined", locator=key)
    parts[5] = checked_time(time_value, model.times(layer), layer, "Time")
    return "/".join(parts)


def rewrite_crs84(environ: dict[str, Any]) -> None:
    """WMS 1.3.0 ``CRS=CRS:84`` -> the same request in ``EPSG:4326``.

    MapProxy 7.0.0 answers CRS:84 with a 500 on layers cached in several grids (its
    SRS-conditional layer looks CRS:84 up by identity). CRS:84 is EPSG:4326 with
    longitude first, so only the BBOX axis order changes; the image is the same.
    """
    pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    lowered = {key.lower(): value for key, value in pairs}
    if lowered.get("crs", "").upper() != "CRS:84" or lowered.get("version") != "1.3.0":
        return
    if lowered.get("request", "").lower() not in ("getmap", "getfeatureinfo"):
        return
    rewritten = []
    for key, value in pairs:
        if key.lower() == "crs":
            value = "EPSG:4326"
        elif key.lower() == "bbox":
            parts = value.split(",")
            if len(parts) == 4:
                value = ",".join([parts[1], parts[0], parts[3], parts[2]])
        rewritten.append((key, value))
    environ["QUERY_STRING"] = urlencode(rewritten)

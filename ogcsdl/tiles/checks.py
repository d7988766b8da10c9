"""Request checks MapProxy leaves out or answers with a 500, done before it sees the
request: WMTS KVP GetTile parameters and STYLE, WMS 1.3.0 TIME values and CRS:84."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from ogcsdl.errors import InvalidParameterValue, MissingParameterValue, OgcsdlError

KVP_REQUIRED = ("layer", "style", "format", "tilematrixset", "tilematrix", "tilerow", "tilecol")


class InvalidDimensionValue(OgcsdlError, ValueError):
    """WMS 1.3.0 Annex C: a dimension value the layer does not offer."""

    code = "InvalidDimensionValue"
    status = 400


def check_wmts_gettile(params: dict[str, str]) -> None:
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


def check_wms_time(params: dict[str, str], layer_times: dict[str, set[str]]) -> None:
    """TIME must be one of the acquisition times of every requested layer."""
    value = params.get("time")
    if not value or value in ("default", "current"):
        return
    for layer in params.get("layers", "").split(","):
        times = layer_times.get(layer)
        if times is not None and value not in times:
            raise InvalidDimensionValue(
                f"TIME {value!r} is not an acquisition time of {layer!r} "
                f"(see the layer's Dimension in the capabilities)",
                locator="time",
            )


def layer_times(config: dict[str, Any]) -> dict[str, set[str]]:
    """Layer name -> TIME values, from the generated MapProxy configuration."""
    return {
        layer["name"]: set(layer["dimensions"]["time"]["values"])
        for layer in config.get("layers", [])
        if "dimensions" in layer
    }


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

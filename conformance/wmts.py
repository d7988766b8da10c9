"""WMTS 1.0.0 GetTile checks (KVP) runnable against any WMTS endpoint.

``base_url`` is the KVP endpoint (ours: ``{suite}/maps/service``). The checks read the
capabilities, take the first layer with its first TileMatrixSet and TileMatrix, then break
one parameter at a time and expect the exception code and HTTP status of the WMTS 1.0.0
standard (OGC 07-057r7, section 8.2.4 / Table 28). ``WMTS_CHECKS`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import requests
from lxml import etree

from conformance.runner import register_endpoint_checks

NS = {
    "wmts": "http://www.opengis.net/wmts/1.0",
    "ows": "http://www.opengis.net/ows/1.1",
}
Check = Callable[[str, requests.Session], tuple[bool, str]]
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


@dataclass(frozen=True)
class TileTarget:
    layer: str
    tile_matrix_set: str
    tile_matrix: str
    matrix_width: int
    matrix_height: int
    format: str
    time: str | None  # default of the layer's Time dimension, if any


def discover(base_url: str, session: requests.Session) -> TileTarget:
    response = session.get(
        base_url,
        params={"SERVICE": "WMTS", "REQUEST": "GetCapabilities", "VERSION": "1.0.0"},
        timeout=60,
    )
    root = etree.fromstring(response.content, _PARSER)
    layer = root.find(".//wmts:Contents/wmts:Layer", NS)
    if layer is None:
        raise LookupError("the capabilities list no layer")
    set_id = layer.findtext("wmts:TileMatrixSetLink/wmts:TileMatrixSet", namespaces=NS) or ""
    matrix_set = next(
        node
        for node in root.findall(".//wmts:Contents/wmts:TileMatrixSet", NS)
        if node.findtext("ows:Identifier", namespaces=NS) == set_id
    )
    matrix = matrix_set.findall("wmts:TileMatrix", NS)[0]
    time_default = None
    for dimension in layer.findall("wmts:Dimension", NS):
        if (dimension.findtext("ows:Identifier", namespaces=NS) or "").lower() == "time":
            time_default = dimension.findtext("wmts:Default", namespaces=NS)
    return TileTarget(
        layer=layer.findtext("ows:Identifier", namespaces=NS) or "",
        tile_matrix_set=set_id,
        tile_matrix=matrix.findtext("ows:Identifier", namespaces=NS) or "",
        matrix_width=int(matrix.findtext("wmts:MatrixWidth", namespaces=NS) or 1),
        matrix_height=int(matrix.findtext("wmts:MatrixHeight", namespaces=NS) or 1),
        format=layer.findtext("wmts:Format", namespaces=NS) or "image/png",
        time=time_default,
    )


def _get_tile(
    base_url: str, session: requests.Session, **overrides: str | None
) -> requests.Response:
    target = discover(base_url, session)
    params: dict[str, str | None] = {
        "SERVICE": "WMTS",
        "REQUEST": "GetTile",
        "VERSION": "1.0.0",
        "LAYER": target.layer,
        "STYLE": "default",
        "FORMAT": target.format,
        "TILEMATRIXSET": target.tile_matrix_set,
        "TILEMATRIX": target.tile_matrix,
        "TILEROW": "0",
        "TILECOL": "0",
    }
    params.update(overrides)
    sent = {key: value for key, value in params.items() if value is not None}
    return session.get(base_url, params=sent, timeout=60)


def _expect(response: requests.Response, code: str, status: int = 400) -> tuple[bool, str]:
    got = None
    try:
        node = etree.fromstring(response.content, _PARSER).find("ows:Exception", NS)
        got = node.get("exceptionCode") if node is not None else None
    except etree.XMLSyntaxError:
        pass
    if got == code and response.status_code == status:
        return True, f"{code} / {status}"
    return False, f"expected {code} / {status}, got {got} / {response.status_code}"


def check_valid_tile(base_url: str, session: requests.Session) -> tuple[bool, str]:
    response = _get_tile(base_url, session)
    kind = response.headers.get("Content-Type", "")
    if response.status_code == 200 and kind.startswith("image/"):
        return True, f"{kind}, {len(response.content)} bytes"
    return False, f"a valid GetTile answered {response.status_code} {kind}"


def check_unknown_layer(base_url: str, session: requests.Session) -> tuple[bool, str]:
    return _expect(_get_tile(base_url, session, LAYER="no-such-layer"), "InvalidParameterValue")


def check_unknown_style(base_url: str, session: requests.Session) -> tuple[bool, str]:
    return _expect(_get_tile(base_url, session, STYLE="no-such-style"), "InvalidParameterValue")


def check_unknown_format(base_url: str, session: requests.Session) -> tuple[bool, str]:
    return _expect(_get_tile(base_url, session, FORMAT="image/x-unknown"), "InvalidParameterValue")


def check_unknown_tile_matrix_set(base_url: str, session: requests.Session) -> tuple[bool, str]:
    response = _get_tile(base_url, session, TILEMATRIXSET="NoSuchMatrixSet")
    return _expect(response, "InvalidParameterValue")


def check_unknown_tile_matrix(base_url: str, session: requests.Session) -> tuple[bool, str]:
    return _expect(
        _get_tile(base_url, session, TILEMATRIX="no-such-matrix"), "InvalidParameterValue"
    )


def check_tile_row_out_of_range(base_url: str, session: requests.Session) -> tuple[bool, str]:
    target = discover(base_url, session)
    response = _get_tile(base_url, session, TILEROW=str(target.matrix_height + 5))
    return _expect(response, "TileOutOfRange")


def check_tile_col_out_of_range(base_url: str, session: requests.Session) -> tuple[bool, str]:
    target = discover(base_url, session)
    response = _get_tile(base_url, session, TILECOL=str(target.matrix_width + 5))
    return _expect(response, "TileOutOfRange")


def check_negative_tile_row(base_url: str, session: requests.Session) -> tuple[bool, str]:
    return _expect(_get_tile(base_url, session, TILEROW="-1"), "TileOutOfRange")


def check_invalid_time(base_url: str, session: requests.Session) -> tuple[bool, str]:
    target = discover(base_url, session)
    if target.time is None:
        return True, "first layer has no Time dimension (not applicable)"
    response = _get_tile(base_url, session, TIME="1900-01-01T00:00:00Z")
    return _expect(response, "InvalidParameterValue")


def check_rest_unfilled_time(base_url: str, session: requests.Session) -> tuple[bool, str]:
    """A REST tile URL whose ``{Time}`` a client left unfilled is a client error."""
    capabilities = session.get(
        base_url,
        params={"SERVICE": "WMTS", "REQUEST": "GetCapabilities", "VERSION": "1.0.0"},
        timeout=60,
    )
    root = etree.fromstring(capabilities.content, _PARSER)
    target = discover(base_url, session)
    resource = root.find(".//wmts:Contents/wmts:Layer/wmts:ResourceURL[@resourceType='tile']", NS)
    url = resource.get("template", "") if resource is not None else ""
    if "{Time}" not in url:
        return True, "the first layer has no REST tile template with {Time} (not applicable)"
    for key, value in {
        "{TileMatrixSet}": target.tile_matrix_set,
        "{TileMatrix}": target.tile_matrix,
        "{TileRow}": "0",
        "{TileCol}": "0",
        "{Style}": "default",
    }.items():
        url = url.replace(key, value)
    return _expect(session.get(url, timeout=60), "InvalidParameterValue")


def check_missing_tile_row(base_url: str, session: requests.Session) -> tuple[bool, str]:
    return _expect(_get_tile(base_url, session, TILEROW=None), "MissingParameterValue")


WMTS_CHECKS: list[Check] = [
    check_valid_tile,
    check_unknown_layer,
    check_unknown_style,
    check_unknown_format,
    check_unknown_tile_matrix_set,
    check_unknown_tile_matrix,
    check_tile_row_out_of_range,
    check_tile_col_out_of_range,
    check_negative_tile_row,
    check_invalid_time,
    check_rest_unfilled_time,
    check_missing_tile_row,
]


# Registration with the suite's runner (``conformance/runner.py``): the runner passes the
# deployment's base URL; ours serves WMTS KVP at ``/maps/service``. Add "conformance.wmts"
# to ``runner.CHECK_MODULES`` to run these with ``ogcsdl conformance``.
ENDPOINT = "/maps/service"


# Nothing published yet (LookupError): nothing to check.
register_endpoint_checks("WMTS 1.0.0", ENDPOINT, WMTS_CHECKS, __name__, skip_on=(LookupError,))

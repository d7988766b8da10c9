"""Check and normalise a request's raw inputs against a :class:`ProcessDescription`; the
WPS and OGC API - Processes front ends both call :func:`validate_inputs` before a job.

Raster inputs are accepted either already resolved (:class:`Raster`, then required bands
are checked) or as references: a non-empty string (catalogue product id or URL) or an
OGC API ``{"href": ...}`` object, returned as the string. Resolving references (and
checking that they exist and may be fetched) is the job system's work.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from processes.base import (
    BoundingBox,
    BoundingBoxInput,
    ComplexInput,
    InputDescription,
    LiteralInput,
    ProcessDescription,
    Raster,
    RasterInput,
)
from processes.errors import MissingProcessInput, ProcessInputError
from processes.raster_ops import find_band

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
_EPSG = re.compile(r"(?:EPSG:{1,2}|/EPSG/\d+(?:\.\d+)?/|EPSG::)(\d+)$", re.IGNORECASE)


def validate_inputs(
    description: ProcessDescription, raw_inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """Inputs by id, typed and with defaults applied; a list for ``max_occurs > 1``.
    Optional inputs without a value or default are left out. Raises
    ``MissingProcessInput`` / ``ProcessInputError`` with the input id as locator."""
    known = {item.id: item for item in description.inputs}
    for key in raw_inputs:
        if key not in known:
            raise ProcessInputError(
                f"Process '{description.id}' has no input '{key}'; its inputs are {', '.join(known)}.",
                locator=key,
            )
    result: dict[str, Any] = {}
    for item in description.inputs:
        values = _occurrences(item, raw_inputs.get(item.id))
        if not values:
            if item.min_occurs > 0:
                raise MissingProcessInput(f"Input '{item.id}' is required.", locator=item.id)
            default = getattr(item, "default", None)
            if default is not None:
                result[item.id] = [default] if item.max_occurs > 1 else default
            continue
        if len(values) < item.min_occurs:
            raise MissingProcessInput(
                f"Input '{item.id}' needs at least {item.min_occurs} values, got {len(values)}.",
                locator=item.id,
            )
        if len(values) > item.max_occurs:
            raise ProcessInputError(
                f"Input '{item.id}' takes at most {item.max_occurs} value(s), got {len(values)}.",
                locator=item.id,
            )
        checked = [_check_one(item, value) for value in values]
        result[item.id] = checked if item.max_occurs > 1 else checked[0]
    return result


def _occurrences(item: InputDescription, value: Any) -> list[Any]:
    if value is None:
        return []
    if (
        isinstance(item, BoundingBoxInput)
        and isinstance(value, list | tuple)
        and value
        and not any(isinstance(v, list | tuple | Mapping | BoundingBox | str) for v in value)
    ):
        return [value]  # [minx, miny, maxx, maxy] is one box, not four occurrences
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return [value]


def _check_one(item: InputDescription, value: Any) -> Any:
    if isinstance(item, LiteralInput):
        return _literal(item, value)
    if isinstance(item, RasterInput):
        return _raster(item, value)
    if isinstance(item, BoundingBoxInput):
        return _bbox(item, value)
    return _complex(item, value)


def _literal(item: LiteralInput, value: Any) -> Any:
    if isinstance(value, Mapping) and "value" in value:  # OGC API qualified value
        value = value["value"]
    typed = _coerce(item, value)
    if item.allowed_values is not None and typed not in item.allowed_values:
        allowed = ", ".join(str(v) for v in item.allowed_values)
        raise ProcessInputError(
            f"Input '{item.id}' must be one of {allowed}; got {value!r}.", locator=item.id
        )
    if item.minimum is not None and typed < item.minimum:
        raise ProcessInputError(
            f"Input '{item.id}' must be >= {item.minimum}; got {typed}.", locator=item.id
        )
    if item.maximum is not None and typed > item.maximum:
        raise ProcessInputError(
            f"Input '{item.id}' must be <= {item.maximum}; got {typed}.", locator=item.id
        )
    return typed


def _coerce(item: LiteralInput, value: Any) -> Any:
    def bad() -> ProcessInputError:
        return ProcessInputError(
            f"Input '{item.id}' must be a {item.data_type}; got {value!r}.", locator=item.id
        )

    if item.data_type == "string":
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise bad()
    if item.data_type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad()
    if isinstance(value, bool):
        raise bad()
    if item.data_type == "integer":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        raise bad()
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad() from None
    if not math.isfinite(number):
        raise bad()
    return number


def _raster(item: RasterInput, value: Any) -> Raster | str:
    if isinstance(value, Raster):
        missing = [b for b in item.required_bands if find_band(value, b) is None]
        if missing:
            raise ProcessInputError(
                f"Input '{item.id}' lacks band(s) {', '.join(missing)}; it has {', '.join(value.band_names)}.",
                locator=item.id,
            )
        return value
    if isinstance(value, Mapping) and isinstance(value.get("href"), str):
        value = value["href"]
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ProcessInputError(
        f"Input '{item.id}' must be a catalogue product id or a raster URL.", locator=item.id
    )


def normalise_crs(crs: str) -> str:
    """'EPSG:n' for EPSG codes in any of their spellings; CRS84 as 'OGC:CRS84'."""
    text = crs.strip()
    if text.upper().endswith("CRS84"):
        return "OGC:CRS84"
    match = _EPSG.search(text)
    return f"EPSG:{match.group(1)}" if match else text


def _bbox(item: BoundingBoxInput, value: Any) -> BoundingBox:
    crs = item.crs[0] if item.crs else "EPSG:4326"
    coords: Any = value
    if isinstance(value, BoundingBox):
        coords, crs = [value.minx, value.miny, value.maxx, value.maxy], value.crs
    elif isinstance(value, Mapping):  # OGC API: {"bbox": [...], "crs": "..."}
        coords, crs = value.get("bbox"), value.get("crs", crs)
    elif isinstance(value, str):  # WPS KVP: minx,miny,maxx,maxy[,crs]
        parts = [p.strip() for p in value.split(",")]
        coords, crs = parts[:4], (parts[4] if len(parts) > 4 else crs)
    try:
        numbers = [float(c) for c in coords]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise ProcessInputError(
            f"Input '{item.id}' must be a bounding box minx,miny,maxx,maxy[,crs].", locator=item.id
        )
    minx, miny, maxx, maxy = numbers
    if minx > maxx or miny > maxy:
        raise ProcessInputError(
            f"Input '{item.id}': the lower corner must not exceed the upper corner.",
            locator=item.id,
        )
    crs_name = normalise_crs(str(crs))
    allowed = {normalise_crs(c) for c in item.crs}
    geographic = {"EPSG:4326", "OGC:CRS84"}
    if (
        item.crs
        and crs_name not in allowed
        and not (crs_name in geographic and allowed & geographic)
    ):
        raise ProcessInputError(
            f"Input '{item.id}' must be in {', '.join(item.crs)}; got {crs}.", locator=item.id
        )
    if crs_name == "OGC:CRS84":
        crs_name = "EPSG:4326"  # BoundingBox coordinates are always x=lon, y=lat
    return BoundingBox(minx, miny, maxx, maxy, crs=crs_name)


def _complex(item: ComplexInput, value: Any) -> Any:
    json_only = all("json" in m for m in item.media_types)
    if isinstance(value, Mapping) and "value" in value and len(value) <= 2 and "mediaType" in value:
        value = value["value"]
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            if json_only:
                raise ProcessInputError(
                    f"Input '{item.id}' is not UTF-8 JSON.", locator=item.id
                ) from None
            return value
    if json_only and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ProcessInputError(
                f"Input '{item.id}' is not valid JSON: {exc.msg}.", locator=item.id
            ) from None
    if isinstance(value, Mapping | list | str | bytes | int | float):
        return value
    raise ProcessInputError(f"Input '{item.id}' has an unsupported value type.", locator=item.id)

"""Reading JSON a client sent, safely: one helper for every JSON request body.

``json.loads`` alone turns hostile documents into server errors: 100 000 nested arrays
raise ``RecursionError``, a 5000-digit integer raises Python's int-size ``ValueError``,
``1e400`` becomes ``inf`` and ``NaN`` is accepted. Here each is an
:class:`~ogcsdl.errors.InvalidParameterValue` (400) naming what was wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ogcsdl.errors import InvalidParameterValue

MAX_DEPTH = 32  # objects/arrays inside each other: far more than any OGC API body needs
MAX_NUMBER_CHARS = 64  # digits of one number literal


def _number(text: str, kind: type[float] | type[int]) -> float | int:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidParameterValue(
            f"a number in the request body has more than {MAX_NUMBER_CHARS} characters", "body"
        )
    value = kind(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidParameterValue(f"{text} is out of range for a number", "body")
    return value


def _no_constant(name: str) -> Any:
    raise InvalidParameterValue(f"{name} is not a JSON number", "body")


def _depth_exceeds(document: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


def loads(data: bytes | str, what: str = "the request body") -> Any:
    """Parse ``data`` as JSON or raise InvalidParameterValue (never another error)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameterValue(f"{what} is not UTF-8 text", "body") from None
    try:
        document = json.loads(
            data,
            parse_int=lambda text: _number(text, int),
            parse_float=lambda text: _number(text, float),
            parse_constant=_no_constant,
        )
    except InvalidParameterValue:
        raise
    except RecursionError:
        raise InvalidParameterValue(
            f"{what} nests deeper than {MAX_DEPTH} levels", "body"
        ) from None
    except ValueError:  # JSONDecodeError and int-size errors alike
        raise InvalidParameterValue(f"{what} is not valid JSON", "body") from None
    if _depth_exceeds(document, MAX_DEPTH):
        raise InvalidParameterValue(f"{what} nests deeper than {MAX_DEPTH} levels", "body")
    return document


def loads_object(data: bytes | str, what: str = "the request body") -> dict[str, Any]:
    """Like :func:`loads`, for bodies that must be a JSON object; empty means ``{}``."""
    document = loads(data or b"{}", what)
    if not isinstance(document, dict):
        raise InvalidParameterValue(f"{what} must be a JSON object", "body")
    return document

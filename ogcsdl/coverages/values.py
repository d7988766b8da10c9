"""Numbers read from WCS request parameters (KVP, XML and EO-WCS subsets alike)."""

from __future__ import annotations

import math

from ogcsdl.errors import InvalidParameterValue


def parse_number(
    text: str, locator: str, error: type[Exception] = InvalidParameterValue, label: str = ""
) -> float:
    """A finite number from a request parameter, or ``error`` naming ``label`` (default
    the locator) and the offending text."""
    label = label or locator
    try:
        value = float(text)
    except ValueError:
        raise error(f"{label}: {text!r} is not a number", locator) from None
    if not math.isfinite(value):  # NaN, inf, 1e400
        raise error(f"{label}: {text!r} is not a finite number", locator)
    return value

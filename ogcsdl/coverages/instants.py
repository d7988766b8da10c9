"""Instants on a WCS time axis: ISO 8601 text or Unix seconds, compared as seconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from ogcsdl.coverages.errors import InvalidSubsetting

TIME_AXIS = "time"


def unix_seconds(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def instant_seconds(text: str) -> float:
    text = text.strip().strip('"')
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise InvalidSubsetting(f"time {text!r} is not a finite number", TIME_AXIS)
        return seconds
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSubsetting(
            f"time {text!r} is neither ISO 8601 nor Unix seconds", TIME_AXIS
        ) from None
    return unix_seconds(value)

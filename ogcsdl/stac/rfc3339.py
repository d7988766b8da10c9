"""RFC 3339 date-times and STAC ``datetime`` intervals, parsed strictly.

Python's ``datetime.fromisoformat`` accepts ISO 8601 forms RFC 3339 forbids (date only,
no offset, ``+0100``, comma fractions) and rejects some it allows (more than six fraction
digits, a leap second), so the grammar is checked here first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from ogcsdl.errors import InvalidParameterValue

_DATE_TIME = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})$"
)
_OPEN = ("", "..")


def _invalid(text: str, locator: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"{text!r} is not an RFC 3339 date-time, e.g. 2024-06-01T10:30:00Z", locator
    )


def parse_instant(text: str, locator: str = "datetime") -> datetime:
    """One RFC 3339 date-time as an aware UTC datetime (fractions beyond microseconds are
    truncated; a leap second ``:60`` is read as the last microsecond of its minute)."""
    match = _DATE_TIME.match(text)
    if match is None:
        raise _invalid(text, locator)
    parts = match.groupdict()
    second = int(parts["second"])
    offset_text = parts["offset"].upper()
    try:
        if offset_text == "Z":
            zone = UTC
        else:
            sign = -1 if offset_text[0] == "-" else 1
            hours, minutes = int(offset_text[1:3]), int(offset_text[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError(offset_text)
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        if second > 60:
            raise ValueError(second)
        fraction = (parts["fraction"] or "")[:6].ljust(6, "0")
        value = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            min(second, 59),
            999999 if second == 60 else int(fraction),
            tzinfo=zone,
        )
    except ValueError:
        raise _invalid(text, locator) from None
    return value.astimezone(UTC)


def parse_interval(text: str, locator: str = "datetime") -> tuple[datetime | None, datetime | None]:
    """A STAC ``datetime`` value: one instant, or ``start/end`` where an empty or ``..``
    end is open (not both)."""
    if text.count("/") > 1:
        raise InvalidParameterValue(f"{text!r}: an interval has exactly one '/'", locator)
    if "/" not in text:
        instant = parse_instant(text, locator)
        return instant, instant
    start_text, _, end_text = text.partition("/")
    if start_text in _OPEN and end_text in _OPEN:
        raise InvalidParameterValue(f"datetime interval {text!r} has no bound", locator)
    start = None if start_text in _OPEN else parse_instant(start_text, locator)
    end = None if end_text in _OPEN else parse_instant(end_text, locator)
    if start is not None and end is not None and start > end:
        raise InvalidParameterValue("datetime interval ends before it starts", locator)
    return start, end


def format_instant(value: datetime) -> str:
    """UTC with a ``Z``, the form STAC examples and clients expect."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")

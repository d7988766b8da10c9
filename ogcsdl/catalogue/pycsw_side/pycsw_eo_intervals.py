"""OpenSearch EO numeric intervals for pycsw 2.6.2 (runs INSIDE pycsw's interpreter;
imports only pycsw, lxml and the standard library).

pycsw turns ``eo:cloudCover=VALUE`` into ``apiso:CloudCover = VALUE`` only, so the
interval forms of the OpenSearch EO extension (OGC 13-026r9, used by brokers: ``[0,20]``,
``]10,20[``, ``[50``, ``20]``, ``{5,80}``) matched nothing. Here such a value is taken
out of the request before pycsw builds its filter and added back as comparison
predicates on ``apiso:CloudCover``, ANDed with the rest of the query.

``eo:modificationDate`` (same specification: when the metadata last changed, a date or
an interval of dates) is not offered by pycsw at all; it is added to the description's
templates here and becomes comparisons on ``apiso:Modified``, so a harvester can ask
for what changed since its last run (``[2024-06-01T00:00:00Z``).
"""

import re
from datetime import UTC, date, datetime

from lxml import etree
from pycsw import opensearch
from pycsw_xml import parse

OGC = "http://www.opengis.net/ogc"
NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
DATETIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
# OpenSearch parameter (lowercase, as pycsw keeps it) -> (queryable, value pattern).
INTERVAL_PARAMETERS = {
    "eo:cloudcover": ("apiso:CloudCover", NUMBER),
    "eo:modificationdate": ("apiso:Modified", DATETIME),
}
NUMERIC_PARAMETERS = {key: queryable for key, (queryable, _) in INTERVAL_PARAMETERS.items()}
PARAMETER_NAMES = {  # as the description spells them
    "eo:cloudcover": "eo:cloudCover",
    "eo:modificationdate": "eo:modificationDate",
}

_LOWER = {"[": "PropertyIsGreaterThanOrEqualTo", "]": "PropertyIsGreaterThan"}
_UPPER = {"]": "PropertyIsLessThanOrEqualTo", "[": "PropertyIsLessThan"}


def comparisons(value, token=NUMBER):
    """``[(operator, value), ...]`` ANDed, or ``("or", [values])`` for a set; None
    when ``value`` is not a value, interval or set of ``token`` (invalid parameter)."""
    text = value.strip()
    if re.fullmatch(token, text):
        return [("PropertyIsEqualTo", text)]
    match = re.fullmatch(rf"([\[\]])\s*({token})\s*,\s*({token})\s*([\[\]])", text)
    if match:
        low_bracket, low, high, high_bracket = match.groups()
        return [(_LOWER[low_bracket], low), (_UPPER[high_bracket], high)]
    match = re.fullmatch(rf"([\[\]])\s*({token})", text)
    if match:
        return [(_LOWER[match.group(1)], match.group(2))]
    match = re.fullmatch(rf"({token})\s*([\[\]])", text)
    if match:
        return [(_UPPER[match.group(2)], match.group(1))]
    if re.fullmatch(rf"\{{\s*{token}(?:\s*,\s*{token})*\s*\}}", text):
        return ("or", [part.strip() for part in text.strip("{}").split(",")])
    return None


def invalid_parameter(kvp):
    """(locator, message) for a malformed numeric EO parameter, else None."""
    for key, value in kvp.items():
        if key.lower() not in INTERVAL_PARAMETERS or not value:
            continue
        token = INTERVAL_PARAMETERS[key.lower()][1]
        if comparisons(value, token) is None or not _real_dates(value, token):
            name = PARAMETER_NAMES[key.lower()]
            kind = "a number" if token == NUMBER else "an ISO 8601 date"
            return name, (
                f"{name} must be {kind}, an interval ([a,b], ]a,b[, [a, a]) or a set "
                f"({{a,b}}): {value!r}"
            )
    return None


def _as_stored(value, token):
    """A date-time with an offset as UTC ``...Z``, the form the catalogue stores and
    compares as text; numbers and plain dates as given."""
    if token != DATETIME or "T" not in value:
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _real_dates(value, token):
    """Whether every date in a date parameter exists (2024-02-30 does not)."""
    if token != DATETIME:
        return True
    for text in re.findall(DATETIME, value):
        try:
            if "T" in text:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                date.fromisoformat(text)
        except ValueError:
            return False
    return True


def _predicate(operator, queryable, number):
    node = etree.Element(f"{{{OGC}}}{operator}")
    etree.SubElement(node, f"{{{OGC}}}PropertyName").text = queryable
    etree.SubElement(node, f"{{{OGC}}}Literal").text = number
    return node


def _predicates(queryable, value, token=NUMBER):
    found = comparisons(value, token)
    if isinstance(found, tuple):
        either = etree.Element(f"{{{OGC}}}Or")
        for number in found[1]:
            either.append(_predicate("PropertyIsEqualTo", queryable, _as_stored(number, token)))
        return [either] if len(found[1]) > 1 else list(either)
    return [
        _predicate(operator, queryable, _as_stored(number, token)) for operator, number in found
    ]


def add_numeric_intervals():
    """Wrap ``opensearch.kvp2filterxml`` once per process."""
    if getattr(opensearch, "_ogcsdl_intervals", False):
        return
    original = opensearch.kvp2filterxml

    def kvp2filterxml(kvp, context, profiles, fes_version="1.0"):
        ours = {key: kvp[key] for key in NUMERIC_PARAMETERS if kvp.get(key)}
        if not ours:
            return original(kvp, context, profiles, fes_version)
        rest = {key: value for key, value in kvp.items() if key not in ours}
        text = original(rest, context, profiles, fes_version)
        extra = []
        for key, value in ours.items():
            queryable, token = INTERVAL_PARAMETERS[key]
            extra += _predicates(queryable, value, token)
        root = parse(text) if text else etree.Element(f"{{{OGC}}}Filter")
        existing = list(root)
        if len(existing) == 1 and existing[0].tag == f"{{{OGC}}}And":
            # pycsw's own And (geo and time): ours join it; pycsw 2.6 refuses an And
            # nested directly in an And ("document not valid").
            existing[0].extend(extra)
            return etree.tostring(root, encoding="unicode")
        for node in existing:
            root.remove(node)
        predicates = existing + extra
        if len(predicates) == 1:
            root.append(predicates[0])
        else:
            both = etree.SubElement(root, f"{{{OGC}}}And")
            both.extend(predicates)
        return etree.tostring(root, encoding="unicode")

    opensearch.kvp2filterxml = kvp2filterxml
    opensearch._ogcsdl_intervals = True


def advertise_modification_date(description):
    """Add ``eo:modificationDate`` to each Atom template of a description."""
    root = parse(description)
    for url in root.iterfind("{http://a9.com/-/spec/opensearch/1.1/}Url"):
        template = url.get("template", "")
        if "{eo:modificationDate" not in template and "{eo:cloudCover" in template:
            url.set("template", template + "&eo:modificationDate={eo:modificationDate?}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

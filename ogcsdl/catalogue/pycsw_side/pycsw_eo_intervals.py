"""OpenSearch EO numeric intervals for pycsw 2.6.2 (runs INSIDE pycsw's interpreter;
imports only pycsw, lxml and the standard library).

pycsw turns ``eo:cloudCover=VALUE`` into ``apiso:CloudCover = VALUE`` only, so the
interval forms of the OpenSearch EO extension (OGC 13-026r9, used by brokers: ``[0,20]``,
``]10,20[``, ``[50``, ``20]``, ``{5,80}``) matched nothing. Here such a value is taken
out of the request before pycsw builds its filter and added back as comparison
predicates on ``apiso:CloudCover``, ANDed with the rest of the query.
"""

import re

from lxml import etree
from pycsw import opensearch

OGC = "http://www.opengis.net/ogc"
NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
# OpenSearch parameter (lowercase, as pycsw keeps it) -> queryable.
NUMERIC_PARAMETERS = {"eo:cloudcover": "apiso:CloudCover"}
PARAMETER_NAMES = {"eo:cloudcover": "eo:cloudCover"}  # as the description spells them

_LOWER = {"[": "PropertyIsGreaterThanOrEqualTo", "]": "PropertyIsGreaterThan"}
_UPPER = {"]": "PropertyIsLessThanOrEqualTo", "[": "PropertyIsLessThan"}
_RANGE = re.compile(rf"^([\[\]])\s*({NUMBER})\s*,\s*({NUMBER})\s*([\[\]])$")
_FROM = re.compile(rf"^([\[\]])\s*({NUMBER})$")
_UNTIL = re.compile(rf"^({NUMBER})\s*([\[\]])$")
_SET = re.compile(rf"^\{{\s*{NUMBER}(?:\s*,\s*{NUMBER})*\s*\}}$")
_VALUE = re.compile(rf"^{NUMBER}$")


def comparisons(value):
    """``[(operator, number), ...]`` ANDed, or ``("or", [numbers])`` for a set; None
    when ``value`` is not a number, interval or set (an invalid parameter)."""
    text = value.strip()
    if _VALUE.match(text):
        return [("PropertyIsEqualTo", text)]
    match = _RANGE.match(text)
    if match:
        low_bracket, low, high, high_bracket = match.groups()
        return [(_LOWER[low_bracket], low), (_UPPER[high_bracket], high)]
    match = _FROM.match(text)
    if match:
        return [(_LOWER[match.group(1)], match.group(2))]
    match = _UNTIL.match(text)
    if match:
        return [(_UPPER[match.group(2)], match.group(1))]
    if _SET.match(text):
        return ("or", [part.strip() for part in text.strip("{}").split(",")])
    return None


def invalid_parameter(kvp):
    """(locator, message) for a malformed numeric EO parameter, else None."""
    for key, value in kvp.items():
        if key.lower() in NUMERIC_PARAMETERS and comparisons(value) is None:
            name = PARAMETER_NAMES[key.lower()]
            return name, (
                f"{name} must be a number, an interval ([a,b], ]a,b[, [a, a]) or a set "
                f"({{a,b}}): {value!r}"
            )
    return None


def _predicate(operator, queryable, number):
    node = etree.Element(f"{{{OGC}}}{operator}")
    etree.SubElement(node, f"{{{OGC}}}PropertyName").text = queryable
    etree.SubElement(node, f"{{{OGC}}}Literal").text = number
    return node


def _predicates(queryable, value):
    found = comparisons(value)
    if isinstance(found, tuple):
        either = etree.Element(f"{{{OGC}}}Or")
        for number in found[1]:
            either.append(_predicate("PropertyIsEqualTo", queryable, number))
        return [either] if len(found[1]) > 1 else list(either)
    return [_predicate(operator, queryable, number) for operator, number in found]


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
        extra = [
            node
            for key, value in ours.items()
            for node in _predicates(NUMERIC_PARAMETERS[key], value)
        ]
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(text, parser) if text else etree.Element(f"{{{OGC}}}Filter")
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

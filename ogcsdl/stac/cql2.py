"""CQL2 (text and JSON) filters: parsed by pygeofilter, compiled here into a predicate
over an item's queryable values (see ``queryables.values_of``).

pygeofilter 0.4.0 deviates from CQL2 in two places, corrected here rather than by
hand-parsing: its text grammar only knows temporal predicates in an infix form
(``datetime T_AFTER x``), not the standard call form ``T_AFTER(datetime, x)``, nor
``'..'`` for an open interval end; and its JSON parser reads ``{"bbox": [minx, miny, maxx,
maxy]}`` into an ``Envelope(x1, x2, y1, y2)`` in the wrong order."""

from __future__ import annotations

import json
import math
import operator
import os
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any

import pygeofilter.parsers
from lark import Lark, v_args
from lark.exceptions import UnexpectedInput
from pygeofilter import ast, values
from pygeofilter.cql2 import TEMPORAL_PREDICATES_MAP
from pygeofilter.parsers.cql2_json import parser as cql2_json_parser
from pygeofilter.parsers.cql2_text.parser import CQLTransformer
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from ogcsdl.errors import InvalidParameterValue

Values = Mapping[str, Any]  # queryable name -> value (datetimes aware, geometry shapely)
Predicate = Callable[[Values], bool]
_Operand = Callable[[Values], Any]

LANGUAGES = ("cql2-text", "cql2-json")
# Deeper filters are refused: evaluation recurses once per level.
MAX_DEPTH = 64


@v_args(inline=True)
class _Transformer(CQLTransformer):
    def binary_temporal_predicate_call(self, op: Any, lhs: Any, rhs: Any) -> ast.Node:
        return TEMPORAL_PREDICATES_MAP[str(op).lower()](lhs, rhs)

    def interval(self, start: Any, end: Any) -> values.Interval:
        return values.Interval(None if start == ".." else start, None if end == ".." else end)

    def OPEN_END(self, token: Any) -> str:  # noqa: N802 - lark names callbacks by terminal
        return ".."


@cache
def _text_parser() -> Lark:
    folder = os.path.dirname(pygeofilter.parsers.__file__)
    with open(os.path.join(folder, "cql2_text", "grammar.lark"), encoding="utf-8") as handle:
        grammar = handle.read()
    grammar = grammar.replace(
        "-> binary_temporal_predicate\n",
        "-> binary_temporal_predicate\n"
        '    | _binary_temporal_predicate_func "(" expression "," expression ")"'
        " -> binary_temporal_predicate_call\n",
    )
    grammar = grammar.replace(
        '?interval: "INTERVAL" "("  "\'" DATETIME "\'" "," "\'" DATETIME "\'" ")"',
        'interval: "INTERVAL"i "(" _bound "," _bound ")"\n'
        '_bound: "\'" (DATETIME | OPEN_END) "\'"\n'
        'OPEN_END: ".."',
    )
    grammar = grammar.replace('"TIMESTAMP" "("', '"TIMESTAMP"i "("').replace(
        '"DATE" "("', '"DATE"i "("'
    )
    grammar = grammar.replace("%import .wkt.ewkt_geometry", "%import wkt.ewkt_geometry")
    return Lark(
        grammar,
        parser="lalr",
        maybe_placeholders=False,
        transformer=_Transformer(),
        import_paths=[folder],
    )


def _fix_json_bbox(node: Any) -> Any:
    """CQL2 JSON ``{"bbox": [...]}`` in STAC order, replacing pygeofilter's reading."""
    if isinstance(node, dict):
        if set(node) == {"bbox"} and isinstance(node["bbox"], list):
            numbers = node["bbox"]
            if len(numbers) == 6:
                numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
            if len(numbers) != 4:
                raise InvalidParameterValue("a CQL2 bbox has 4 or 6 numbers", "filter")
            return {"type": "Polygon", "coordinates": [_ring(*numbers)]}
        return {key: _fix_json_bbox(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_fix_json_bbox(value) for value in node]
    return node


def _ring(minx: float, miny: float, maxx: float, maxy: float) -> list[list[float]]:
    return [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]


def parse_filter(value: Any, lang: str | None) -> ast.Node:
    """A ``filter`` parameter (text, a JSON string or an already decoded JSON object)."""
    if lang is None:
        lang = "cql2-text" if isinstance(value, str) else "cql2-json"
    if lang not in LANGUAGES:
        raise InvalidParameterValue(
            f"filter-lang {lang!r} is not supported; use cql2-text or cql2-json", "filter-lang"
        )
    try:
        if lang == "cql2-text":
            if not isinstance(value, str):
                raise _FilterError("cql2-text needs a string")
            node = _text_parser().parse(value)
        else:
            document = json.loads(value) if isinstance(value, str) else value
            if not isinstance(document, dict):
                raise _FilterError("cql2-json needs a JSON object")
            if _depth(document) > MAX_DEPTH * 2:  # an operator level is two JSON levels
                raise _FilterError(f"nested deeper than {MAX_DEPTH} levels")
            node = cql2_json_parser.walk_cql_json(_fix_json_bbox(document))
        if _depth(node) > MAX_DEPTH:
            raise _FilterError(f"nested deeper than {MAX_DEPTH} levels")
        return node
    except InvalidParameterValue:
        raise
    except (_FilterError, json.JSONDecodeError, UnexpectedInput) as error:
        # Our own words, JSON's and lark's (where the text stops parsing): for the client.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise InvalidParameterValue(f"filter is not valid {lang}: {first_line}", "filter") from None
    except Exception:  # noqa: BLE001 - pygeofilter raises KeyError, IndexError, TypeError...
        # whose texts are Python's ("list index out of range", "Equal.__init__() missing
        # 1 required positional argument"), not words for a client.
        raise InvalidParameterValue(
            f"filter is not valid {lang}: an operator is unknown or has missing or wrong "
            "arguments, or a value is not a valid timestamp, date, interval or geometry",
            "filter",
        ) from None


class _FilterError(ValueError):
    """A filter this module refuses, in words meant for the client."""


def _depth(root: Any) -> int:
    """Nesting depth of a JSON document or a pygeofilter AST, without recursion. A chain
    of ANDs (or of ORs) counts as one level: it is evaluated as one flat list."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            children: list[Any] = list(node.values())
        elif isinstance(node, list | tuple):
            children = list(node)
        elif isinstance(node, ast.Node):
            children = list(node.get_sub_nodes())
        else:
            children = []
        for child in children:
            same_chain = isinstance(node, ast.Combination) and type(child) is type(node)
            stack.append((child, depth if same_chain else depth + 1))
    return deepest


def _chain(node: ast.Combination) -> list[Any]:
    """The operands of a left- or right-nested chain of one combination, in order."""
    operands, stack = [], [node]
    while stack:
        current = stack.pop()
        if type(current) is type(node):
            stack.extend([current.rhs, current.lhs])
        else:
            operands.append(current)
    return operands


def _instant(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    return value


def _operand(node: Any) -> _Operand:
    if isinstance(node, ast.Attribute):
        name = node.name
        return lambda item: item.get(name)
    if isinstance(node, values.Geometry):
        geometry = _geometry(node.geometry)
        return lambda item: geometry
    if isinstance(node, values.Envelope):
        envelope = box(node.x1, node.y1, node.x2, node.y2)
        return lambda item: envelope
    if isinstance(node, values.Interval):
        interval = (_instant(node.start), _instant(node.end))
        return lambda item: interval
    if isinstance(node, list):
        items = [_operand(element) for element in node]
        return lambda item: [element(item) for element in items]
    if isinstance(node, ast.Node):
        raise InvalidParameterValue(f"filter: {type(node).__name__} is not supported", "filter")
    constant = _instant(node)
    return lambda item: constant


def _geometry(geojson: dict[str, Any]) -> BaseGeometry:
    try:
        geometry = shape(geojson)
    except Exception:  # noqa: BLE001 - shapely raises several kinds for bad GeoJSON
        raise InvalidParameterValue("filter holds an invalid GeoJSON geometry", "filter") from None
    return geometry


_COMPARISONS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Equal: operator.eq,
    ast.NotEqual: operator.ne,
    ast.LessThan: operator.lt,
    ast.LessEqual: operator.le,
    ast.GreaterThan: operator.gt,
    ast.GreaterEqual: operator.ge,
}
_SPATIAL: dict[type, str] = {
    ast.GeometryIntersects: "intersects",
    ast.GeometryDisjoint: "disjoint",
    ast.GeometryContains: "contains",
    ast.GeometryWithin: "within",
    ast.GeometryTouches: "touches",
    ast.GeometryCrosses: "crosses",
    ast.GeometryOverlaps: "overlaps",
    ast.GeometryEquals: "equals",
}


def _span(value: Any) -> tuple[datetime | None, datetime | None] | None:
    """An instant or interval as (start, end); open ends are None."""
    if isinstance(value, tuple):
        return value
    if isinstance(value, datetime):
        return value, value
    return None


def _temporal(kind: type, lhs: Any, rhs: Any) -> bool:
    left, right = _span(lhs), _span(rhs)
    if left is None or right is None:
        return False
    low = datetime.min.replace(tzinfo=UTC)
    high = datetime.max.replace(tzinfo=UTC)
    a_start, a_end = left[0] or low, left[1] or high
    b_start, b_end = right[0] or low, right[1] or high
    tests: dict[type, bool] = {
        ast.TimeAfter: a_start > b_end,
        ast.TimeBefore: a_end < b_start,
        ast.TimeDisjoint: a_end < b_start or a_start > b_end,
        ast.TimeEquals: a_start == b_start and a_end == b_end,
        ast.TimeDuring: b_start <= a_start
        and a_end <= b_end
        and (a_start, a_end) != (b_start, b_end),
        ast.TimeContains: a_start <= b_start
        and b_end <= a_end
        and (a_start, a_end) != (b_start, b_end),
        ast.TimeMeets: a_end == b_start,
        ast.TimeMetBy: a_start == b_end,
        ast.TimeBegins: a_start == b_start and a_end < b_end,
        ast.TimeBegunBy: a_start == b_start and a_end > b_end,
        ast.TimeEnds: a_end == b_end and a_start > b_start,
        ast.TimeEndedBy: a_end == b_end and a_start < b_start,
        ast.TimeOverlaps: a_start <= b_end and b_start <= a_end,  # CQL2 T_INTERSECTS
        ast.TimeOverlappedBy: b_start < a_start < b_end < a_end,
    }
    return tests[kind]


def _compare(check: Callable[[Any, Any], bool], lhs: Any, rhs: Any) -> bool:
    if lhs is None or rhs is None:
        return False
    try:
        return bool(check(lhs, rhs))
    except TypeError:  # e.g. a number compared with a string: no match, not an error
        return False


_SQL_OPERATORS: dict[type, tuple[str, str]] = {  # node -> (attribute op value, flipped)
    ast.Equal: ("=", "="),
    ast.LessThan: ("<", ">"),
    ast.LessEqual: ("<=", ">="),
    ast.GreaterThan: (">", "<"),
    ast.GreaterEqual: (">=", "<="),
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def numeric_bounds(node: Any, name: str) -> tuple[tuple[str, float], ...]:
    """Comparisons of queryable ``name`` with a number that the whole filter implies
    (the top-level AND's operands), for SQL to pre-select with, e.g.
    ``eo:cloud_cover <= 20 AND ...`` -> ``(("<=", 20.0),)``. Anything else (OR, NOT,
    other operators) gives nothing: the predicate still judges every item, SQL only
    narrows what it is shown."""
    operands = _chain(node) if isinstance(node, ast.And) else [node]
    bounds: list[tuple[str, float]] = []
    for operand in operands:
        if type(operand) in _SQL_OPERATORS:
            straight, flipped = _SQL_OPERATORS[type(operand)]
            lhs, rhs = operand.lhs, operand.rhs
            if isinstance(lhs, ast.Attribute) and lhs.name == name and _number(rhs):
                bounds.append((straight, float(rhs)))
            elif isinstance(rhs, ast.Attribute) and rhs.name == name and _number(lhs):
                bounds.append((flipped, float(lhs)))
        elif isinstance(operand, ast.Between) and not operand.not_:
            if isinstance(operand.lhs, ast.Attribute) and operand.lhs.name == name:
                if _number(operand.low) and _number(operand.high):
                    bounds += [(">=", float(operand.low)), ("<=", float(operand.high))]
    return tuple(bounds)


ANY_RUN, ONE_CHAR = 0, 1  # LIKE wildcards among the literal characters of a pattern


def like_tokens(pattern: str) -> list[str | int]:
    """A CQL2 LIKE pattern as literal characters and wildcards: ``%`` any run, ``_`` one
    character, ``\\`` escapes the next character (pygeofilter's text parser reports
    '.' as the single-character wildcard; CQL2 fixes these three)."""
    tokens: list[str | int] = []
    escaped = False
    for char in pattern:
        if escaped:
            tokens.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            if not tokens or tokens[-1] != ANY_RUN:  # %% is %
                tokens.append(ANY_RUN)
        else:
            tokens.append(ONE_CHAR if char == "_" else char)
    if escaped:
        tokens.append("\\")
    return tokens


def like_match(tokens: list[str | int], text: str, nocase: bool = False) -> bool:
    """Whether ``text`` matches a LIKE pattern, in at most len(text) x len(tokens) steps.

    Not a regular expression: Python's backtracking made ``%a%a%a...%b`` take
    exponential time (one request held a gateway worker until it was killed); this is
    the wildcard matcher that, on a mismatch, only retries from the last ``%``."""
    position = index = 0
    star, resume = -1, 0
    while position < len(text):
        token = tokens[index] if index < len(tokens) else None
        if token == ANY_RUN:
            star, resume = index, position
            index += 1
        elif token is not None and (
            token == ONE_CHAR
            or token == text[position]
            or (nocase and str(token).lower() == text[position].lower())
        ):
            index += 1
            position += 1
        elif star >= 0:
            index, resume = star + 1, resume + 1
            position = resume
        else:
            return False
    return all(token == ANY_RUN for token in tokens[index:])


def compile_filter(node: Any) -> Predicate:
    """A predicate over one item's queryable values."""
    if isinstance(node, ast.And):
        every = [compile_filter(operand) for operand in _chain(node)]
        return lambda item: all(test(item) for test in every)
    if isinstance(node, ast.Or):
        anyone = [compile_filter(operand) for operand in _chain(node)]
        return lambda item: any(test(item) for test in anyone)
    if isinstance(node, ast.Not):
        inner = compile_filter(node.sub_node)
        return lambda item: not inner(item)
    if type(node) in _COMPARISONS:
        check, lhs, rhs = _COMPARISONS[type(node)], _operand(node.lhs), _operand(node.rhs)
        return lambda item: _compare(check, lhs(item), rhs(item))
    if isinstance(node, ast.Between):
        value, low, high = _operand(node.lhs), _operand(node.low), _operand(node.high)

        def between(item: Values) -> bool:
            found = _compare(operator.le, low(item), value(item)) and _compare(
                operator.le, value(item), high(item)
            )
            return found != node.not_ if value(item) is not None else False

        return between
    if isinstance(node, ast.Like):
        if not isinstance(node.pattern, str):
            raise InvalidParameterValue("a LIKE pattern must be a text", "filter")
        tokens = like_tokens(node.pattern)
        value = _operand(node.lhs)

        def like(item: Values) -> bool:
            text = value(item)
            return isinstance(text, str) and like_match(tokens, text, node.nocase) != node.not_

        return like
    if isinstance(node, ast.In):
        value = _operand(node.lhs)
        options = [_operand(option) for option in node.sub_nodes]

        def is_in(item: Values) -> bool:
            found = value(item)
            if found is None:
                return False
            return any(found == option(item) for option in options) != node.not_

        return is_in
    if isinstance(node, ast.IsNull):
        value = _operand(node.lhs)
        return lambda item: (value(item) is None) != node.not_
    if type(node) in _SPATIAL:
        method, lhs, rhs = _SPATIAL[type(node)], _operand(node.lhs), _operand(node.rhs)

        def spatial(item: Values) -> bool:
            left, right = lhs(item), rhs(item)
            if not isinstance(left, BaseGeometry) or not isinstance(right, BaseGeometry):
                return False
            return bool(getattr(left, method)(right))

        return spatial
    if isinstance(node, ast.BBox):
        envelope = box(node.minx, node.miny, node.maxx, node.maxy)
        value = _operand(node.lhs)
        return lambda item: (
            isinstance(value(item), BaseGeometry) and value(item).intersects(envelope)
        )
    if isinstance(node, ast.TemporalPredicate):
        kind, lhs, rhs = type(node), _operand(node.lhs), _operand(node.rhs)
        return lambda item: _temporal(kind, lhs(item), rhs(item))
    if isinstance(node, ast.ArrayPredicate):
        return _array(node)
    if isinstance(node, bool):
        return lambda item: node
    raise InvalidParameterValue(f"filter: {type(node).__name__} is not supported", "filter")


def _array(node: ast.ArrayPredicate) -> Predicate:
    lhs, rhs = _operand(node.lhs), _operand(node.rhs)

    def test(item: Values) -> bool:
        left, right = lhs(item), rhs(item)
        if not isinstance(left, list) or not isinstance(right, list):
            return False
        a, b = set(left), set(right)
        if isinstance(node, ast.ArrayEquals):
            return a == b
        if isinstance(node, ast.ArrayContains):
            return a >= b
        if isinstance(node, ast.ArrayContainedBy):
            return a <= b
        return bool(a & b)

    return test

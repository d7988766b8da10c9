"""The Sort (``sortby``), Query (``query``) and Fields (``fields``) extensions: parsing
and applying them to items (their ``queryables.values_of``)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ogcsdl.errors import InvalidParameterValue
from ogcsdl.stac import cql2
from ogcsdl.stac.queryables import QUERYABLES
from ogcsdl.stac.rfc3339 import parse_instant


@dataclass(frozen=True)
class SortKey:
    field: str  # a queryable name; "properties." prefixes are removed
    descending: bool


DEFAULT_SORT = (SortKey("datetime", True), SortKey("id", False))


def _field_name(text: str) -> str:
    return text.removeprefix("properties.")


def parse_sortby(value: Any, from_json: bool) -> tuple[SortKey, ...]:
    """GET ``-eo:cloud_cover,+datetime``; POST ``[{"field": ..., "direction": ...}]``."""
    keys: list[SortKey] = []
    if not from_json and isinstance(value, str):
        for part in (part.strip() for part in value.split(",")):
            if not part:
                continue
            descending = part.startswith("-")
            keys.append(SortKey(_field_name(part.lstrip("+-")), descending))
    elif isinstance(value, list) and all(isinstance(entry, dict) for entry in value):
        for entry in value:
            direction = entry.get("direction", "asc")
            if not isinstance(entry.get("field"), str) or direction not in ("asc", "desc"):
                raise InvalidParameterValue(
                    'sortby entries are {"field": name, "direction": "asc"|"desc"}', "sortby"
                )
            keys.append(SortKey(_field_name(entry["field"]), direction == "desc"))
    else:
        raise InvalidParameterValue("sortby must be a list of fields", "sortby")
    for key in keys:
        if key.field == "geometry" or not key.field:
            raise InvalidParameterValue(f"cannot sort by {key.field!r}", "sortby")
    return tuple(keys)


def sort_values(values: list[dict[str, Any]], keys: tuple[SortKey, ...]) -> list[dict[str, Any]]:
    """Stable multi-key sort; items without a value come last in either direction."""
    ordered = list(values)
    for key in reversed(keys + DEFAULT_SORT):
        present = [item for item in ordered if item.get(key.field) is not None]
        missing = [item for item in ordered if item.get(key.field) is None]
        try:
            present.sort(key=lambda item: item[key.field], reverse=key.descending)
        except TypeError:  # mixed kinds of value: compare their text
            present.sort(key=lambda item: str(item[key.field]), reverse=key.descending)
        ordered = present + missing
    return ordered


_QUERY_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "startsWith": lambda a, b: isinstance(a, str) and a.startswith(b),
    "endsWith": lambda a, b: isinstance(a, str) and a.endswith(b),
    "contains": lambda a, b: isinstance(a, str) and b in a,
    "in": lambda a, b: bool(set(a) & set(b)) if isinstance(a, list) else a in b,
}


_SQL_QUERY_OPERATORS = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def query_bounds(value: Any, name: str) -> tuple[tuple[str, float], ...]:
    """The numeric comparisons a ``query`` (already checked by :func:`parse_query`)
    makes on queryable ``name``, for SQL to pre-select with; the predicate still
    judges every item."""
    if isinstance(value, str):
        value = json.loads(value)
    bounds: list[tuple[str, float]] = []
    for field, operators in value.items():
        if _field_name(field) != name:
            continue
        for operator, operand in operators.items():
            number = isinstance(operand, int | float) and not isinstance(operand, bool)
            if operator in _SQL_QUERY_OPERATORS and number and math.isfinite(operand):
                bounds.append((_SQL_QUERY_OPERATORS[operator], float(operand)))
    return tuple(bounds)


def _query_value(name: str, operator: str, value: Any) -> Any:
    if QUERYABLES.get(name, {}).get("format") == "date-time":
        if operator == "in" and isinstance(value, list):
            return [parse_instant(str(entry), "query") for entry in value]
        return parse_instant(str(value), "query")
    if operator == "in" and not isinstance(value, list):
        raise InvalidParameterValue(f"query: {name} 'in' needs a list", "query")
    if operator in ("startsWith", "endsWith", "contains") and not isinstance(value, str):
        raise InvalidParameterValue(f"query: {name} {operator!r} needs a string", "query")
    return value


def _like(found: Any, operand: Any) -> Any:
    """A number given as text (``{"eq": "10"}``, as command-line clients send it) is
    compared as a number with a numeric property."""
    if isinstance(found, int | float) and not isinstance(found, bool):
        if isinstance(operand, list):
            return [_like(found, entry) for entry in operand]
        if isinstance(operand, str):
            try:
                return float(operand)
            except ValueError:
                return operand
    return operand


def parse_query(value: Any) -> cql2.Predicate:
    """``{"eo:cloud_cover": {"lt": 20}, "platform": {"in": [...]}}`` (a JSON string in GET)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidParameterValue("query must be a JSON object", "query") from None
    if not isinstance(value, dict) or not all(isinstance(ops, dict) for ops in value.values()):
        raise InvalidParameterValue(
            'query must map properties to operators, e.g. {"eo:cloud_cover": {"lt": 20}}',
            "query",
        )
    tests: list[tuple[str, Callable[[Any, Any], bool], Any]] = []
    for name, operators in value.items():
        for operator, operand in operators.items():
            if operator not in _QUERY_OPERATORS:
                raise InvalidParameterValue(
                    f"query operator {operator!r} is not one of {', '.join(_QUERY_OPERATORS)}",
                    "query",
                )
            tests.append(
                (
                    _field_name(name),
                    _QUERY_OPERATORS[operator],
                    _query_value(name, operator, operand),
                )
            )

    def matches(item: cql2.Values) -> bool:
        for name, test, operand in tests:
            found = item.get(name)
            if found is None:
                return False
            try:
                if not test(found, _like(found, operand)):
                    return False
            except TypeError:
                return False
        return True

    return matches


@dataclass(frozen=True)
class Fields:
    include: tuple[str, ...] | None = None  # None: not given at all
    exclude: tuple[str, ...] = ()


# What an item keeps when ``fields`` names nothing (the extension's default set), and
# what it always keeps besides named includes (so clients can still read it as STAC).
DEFAULT_FIELDS = (
    "type",
    "stac_version",
    "id",
    "geometry",
    "bbox",
    "links",
    "assets",
    "properties.datetime",
)
ALWAYS_KEPT = ("type", "stac_version", "id", "links")
_FIELDS_SHAPE = 'fields must be {"include": [...], "exclude": [...]}'


def parse_fields(value: Any, from_json: bool) -> Fields:
    """GET ``id,+properties.eo:cloud_cover,-links``; POST ``{"include": [...], "exclude":
    [...]}`` (either may be null or empty)."""
    if not from_json and isinstance(value, str):
        parts = [part.strip() for part in value.split(",") if part.strip()]
        include = tuple(part.lstrip("+") for part in parts if not part.startswith("-"))
        exclude = tuple(part[1:] for part in parts if part.startswith("-"))
        return Fields(include=include if include or not exclude else None, exclude=exclude)
    if not isinstance(value, dict) or set(value) - {"include", "exclude"}:
        raise InvalidParameterValue(_FIELDS_SHAPE, "fields")
    lists = {key: value.get(key) or [] for key in ("include", "exclude")}
    if not all(
        isinstance(names, list) and all(isinstance(name, str) for name in names)
        for names in lists.values()
    ):
        raise InvalidParameterValue(_FIELDS_SHAPE, "fields")
    return Fields(
        include=tuple(lists["include"]) if "include" in value else None,
        exclude=tuple(lists["exclude"]),
    )


def _copy_path(source: dict[str, Any], target: dict[str, Any], path: list[str]) -> None:
    head, rest = path[0], path[1:]
    if head not in source:
        return
    if not rest:
        target[head] = source[head]
    elif isinstance(source[head], dict):
        _copy_path(source[head], target.setdefault(head, {}), rest)


def _drop_path(target: dict[str, Any], path: list[str]) -> None:
    head, rest = path[0], path[1:]
    if not rest:
        target.pop(head, None)
    elif isinstance(target.get(head), dict):
        _drop_path(target[head], rest)


def apply_fields(item: dict[str, Any], fields: Fields) -> dict[str, Any]:
    """Only excludes: the whole item less them. Includes: those (and ``ALWAYS_KEPT``).
    Neither, or empty includes: the default set. An include of a field or of a part of it
    wins over an exclude of the same field."""
    include = fields.include or ()
    if fields.include is None and fields.exclude:
        selected: dict[str, Any] = json.loads(json.dumps(item))  # a deep copy to drop from
    else:
        selected = {}
        for name in (*ALWAYS_KEPT, *include) if include else DEFAULT_FIELDS:
            _copy_path(item, selected, name.split("."))
    for name in fields.exclude:
        if any(kept == name or kept.startswith(name + ".") for kept in include):
            continue
        _drop_path(selected, name.split("."))
    return selected

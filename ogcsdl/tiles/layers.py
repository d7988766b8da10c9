"""The tile layers as one in-memory model, built from the product records.

Everything the maps service needs to know about its layers is derived from this model
and nowhere else: MapProxy's configuration (:mod:`ogcsdl.tiles.mapproxy_config`), the
style index that turns style variants into real ``<Style>``s (:mod:`ogcsdl.tiles.ows_styles`),
the TIME values a layer offers (checked before MapProxy sees a request) and the
per-product snapshot that says which cached tiles a re-ingest invalidates.

One layer per collection (TIME dimension over its acquisition times, default the
latest) and one per product (its single acquisition time as TIME, so every layer fits the
one WMTS REST template); each style beyond a layer's default is a variant layer
``name.style``. TIME values are UTC instants in whole seconds (:func:`iso_time`), the one
truncation used by the capabilities, the request checks and the renderer's selection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.errors import InvalidParameterValue
from ogcsdl.tiles.styles import Style, styles_for

CURRENT = ("default", "current")


def instant(value: datetime) -> datetime:
    """A time as a TIME dimension instant: UTC (naive means UTC), whole seconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def iso_time(value: datetime) -> str:
    """Acquisition time as a TIME dimension value, e.g. ``2024-06-01T10:00:00Z``."""
    return instant(value).isoformat().replace("+00:00", "Z")


def parse_time(text: str, locator: str = "TIME") -> datetime:
    """An ISO 8601 TIME value (date or date-time, ``Z`` or offset) as an instant."""
    try:
        return instant(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        raise InvalidParameterValue(
            f"{locator} {text!r} is not an ISO 8601 time", locator=locator
        ) from None


def canonical_time(text: str, locator: str = "TIME") -> str:
    """A client's TIME instant in the form the capabilities list (and the cache keys)."""
    return iso_time(parse_time(text, locator))


@dataclass(frozen=True)
class Layer:
    name: str  # MapProxy layer: ``base`` for the default style, ``base.style`` otherwise
    base: str  # the layer clients name
    style: Style
    heading: str  # collection id or product title
    target: str  # what the renderer draws (LAYERS): a product id or a collection id
    bbox: tuple[float, float, float, float]  # WGS84, the union of the layer's products
    times: tuple[str, ...]  # sorted TIME values; the last is the default
    finest_m: float  # half the finest source pixel (metres): no finer level is worth caching

    @property
    def title(self) -> str:
        return f"{self.heading}: {self.style.title}"


@dataclass(frozen=True)
class ProductEntry:
    """What one product contributed to the layers (to invalidate its cached tiles)."""

    updated: str
    collection: str
    time: str
    layers: tuple[str, ...]


def _variants(
    base: str, heading: str, target: str, members: list[ProductRecord], styles: list[Style]
) -> list[Layer]:
    bbox = (
        min(r.bbox[0] for r in members),
        min(r.bbox[1] for r in members),
        max(r.bbox[2] for r in members),
        max(r.bbox[3] for r in members),
    )
    times = tuple(sorted({iso_time(r.start) for r in members}))
    finest = min(min(r.resolution) for r in members) / 2
    return [
        Layer(
            name=base if index == 0 else f"{base}.{style.name}",
            base=base,
            style=style,
            heading=heading,
            target=target,
            bbox=bbox,
            times=times,
            finest_m=finest,
        )
        for index, style in enumerate(styles)
    ]


@dataclass(frozen=True)
class LayerModel:
    layers: tuple[Layer, ...] = ()
    products: dict[str, ProductEntry] = field(default_factory=dict)
    _by_name: dict[str, Layer] = field(init=False, repr=False, compare=False)
    _by_base: dict[str, list[Layer]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_base: dict[str, list[Layer]] = {}
        for layer in self.layers:
            by_base.setdefault(layer.base, []).append(layer)
        object.__setattr__(self, "_by_name", {layer.name: layer for layer in self.layers})
        object.__setattr__(self, "_by_base", by_base)

    @classmethod
    def from_records(cls, records: Iterable[ProductRecord]) -> LayerModel:
        records = list(records)
        by_collection: dict[str, list[ProductRecord]] = {}
        for record in records:
            by_collection.setdefault(record.collection, []).append(record)
        layers: list[Layer] = []
        for collection, members in sorted(by_collection.items()):
            # A collection is drawn like its latest product (same bands, same styles).
            latest = max(members, key=lambda r: instant(r.start))
            layers += _variants(collection, collection, collection, members, styles_for(latest))
        products: dict[str, ProductEntry] = {}
        for record in records:
            own = _variants(
                record.identifier, record.title, record.identifier, [record], styles_for(record)
            )
            layers += own
            products[record.identifier] = ProductEntry(
                updated=record.updated.isoformat(),
                collection=record.collection,
                time=iso_time(record.start),
                layers=tuple(layer.name for layer in own),
            )
        return cls(tuple(layers), products)

    def get(self, name: str) -> Layer | None:
        return self._by_name.get(name)

    def variant(self, base: str, style: str) -> Layer | None:
        """The variant layer drawing ``base`` in a non-default ``style`` (None: the default
        style, or no such style)."""
        layer = self.get(f"{base}.{style}")
        return layer if layer is not None and layer.base == base else None

    def styles(self, base: str) -> list[Layer]:
        """The layers of one client-visible layer, default style first."""
        return self._by_base.get(base, [])

    def times(self, name: str) -> tuple[str, ...] | None:
        """TIME values of a layer (None: no such layer)."""
        layer = self.get(name)
        return None if layer is None else layer.times

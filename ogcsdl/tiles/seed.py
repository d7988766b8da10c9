"""``ogcsdl seed``: pre-render a layer's tiles into MapProxy's cache with MapProxy's own
seeder (``mapproxy.seed``), one task per layer, grid and TIME value, over the layer's
extent, with MapProxy's progress log."""

from __future__ import annotations

from typing import Any

import click
import requests
from mapproxy.seed.seeder import SeedTask, seed
from mapproxy.seed.util import ProgressLog
from mapproxy.srs import SRS
from mapproxy.util.coverage import BBOXCoverage

from ogcsdl.config import Settings
from ogcsdl.tiles.app import invalidate_changed
from ogcsdl.tiles.layers import LayerModel
from ogcsdl.tiles.mapproxy_config import cache_name, proxy_configuration


class _TimeSliceTileManager:
    """A MapProxy tile manager pinned to one TIME value.

    MapProxy's seeder predates dimensions and calls the tile manager without them; our
    layers always have a TIME dimension, so requests read ``.../time-<value>/`` and tiles
    seeded without it would never be served. This proxy supplies the value."""

    def __init__(self, manager: Any, dimensions: dict[str, str]) -> None:
        object.__setattr__(self, "_manager", manager)
        object.__setattr__(self, "_dimensions", dimensions)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._manager, name, value)

    def load_tile_coords(
        self, coords: Any, dimensions: Any = None, with_metadata: bool = False
    ) -> Any:
        return self._manager.load_tile_coords(
            coords, dimensions=self._dimensions, with_metadata=with_metadata
        )

    def is_cached(self, tile: Any, dimensions: Any = None) -> bool:
        return bool(self._manager.is_cached(tile, dimensions=self._dimensions))

    def is_stale(self, tile: Any, dimensions: Any = None) -> bool:
        return bool(self._manager.is_stale(tile, dimensions=self._dimensions))


def seed_tasks(settings: Settings, layer: str | None, max_level: int) -> list[SeedTask]:
    """Seed tasks for one layer (or all), levels 0..``max_level`` of every grid."""
    from ogcsdl.catalogue.factory import product_store

    model = LayerModel.from_records(product_store(settings).list())
    invalidate_changed(settings, model)  # never seed next to tiles of a replaced product
    known = [entry.name for entry in model.layers]
    if layer is not None and layer not in known:
        raise click.BadParameter(f"no layer {layer!r}; layers are {', '.join(known)}")
    loaded = proxy_configuration(settings, model, seed=True)
    tasks: list[SeedTask] = []
    for entry in model.layers:
        if layer is not None and entry.name != layer:
            continue
        for grid, _extent, manager in loaded.caches[cache_name(entry.name)].caches():
            coverage = BBOXCoverage(entry.bbox, SRS(4326)).transform_to(grid.srs)
            # No level finer than half the source pixel is worth caching.
            finest = entry.finest_m
            if grid.srs.is_latlong:
                finest /= 111_320.0  # metres per degree at the equator
            levels = [
                level
                for level in range(0, min(max_level, grid.levels - 1) + 1)
                if grid.resolution(level) >= finest
            ]
            for time_value in entry.times:
                pinned = _TimeSliceTileManager(manager, {"time": time_value})
                md = {
                    "name": f"{entry.name}@{time_value}",
                    "cache_name": cache_name(entry.name),
                    "grid_name": grid.name,
                }
                tasks.append(SeedTask(md, pinned, levels, None, True, coverage))
    return tasks


@click.command("seed")
@click.option("--layer", default=None, help="Layer to seed (default: every layer).")
@click.option(
    "--levels",
    "max_level",
    type=int,
    default=None,
    help="Highest zoom level to seed (default: settings tiles.seed_levels).",
)
@click.option("--concurrency", type=int, default=2, show_default=True)
@click.pass_obj
def seed_command(context: Any, layer: str | None, max_level: int | None, concurrency: int) -> None:
    """Pre-render tiles of a layer into the MapProxy cache, with progress."""
    settings: Settings = context.settings
    settings.ensure_dirs()
    health = f"http://127.0.0.1:{settings.render.port}/health"
    try:
        requests.get(health, timeout=5).raise_for_status()
    except requests.RequestException:
        # MapProxy's seeder would retry a dead source for minutes; say it at once.
        raise click.ClickException(
            f"the renderer does not answer at {health}; start the suite first (ogcsdl serve)"
        ) from None
    tasks = seed_tasks(
        settings, layer, settings.tiles.seed_levels if max_level is None else max_level
    )
    click.echo(f"seeding {len(tasks)} task(s) (layer x grid x time)")
    seed(tasks, concurrency=concurrency, progress_logger=ProgressLog(verbose=True))
    click.echo("seeding done")

"""MapProxy's tile cache under concurrent requests: three fixes to MapProxy 7.0.0.

Written up for MapProxy in ``docs/upstream-reports.md``; :func:`apply` applies all three
(``mapproxy_config.proxy_configuration`` calls it wherever MapProxy is configured).

**A cache directory removed while MapProxy writes.** A changed or deleted product has
its cached tiles removed (``tiles/app.invalidate``) while other workers may be rendering
tiles of it. MapProxy writes each tile to a temp file beside its place and renames it;
if the directory vanished in between it raised ``FileNotFoundError`` and the client got
a 500 for a tile that rendered fine. The directory is gone because the tiles in it are
stale, so such a tile is served and not stored (storing it in a recreated directory
could keep a tile of the old product).

**A tile stored by another request while this one looked.** ``TileManager.
_load_tile_coords`` loads the requested tiles from the cache, then asks the cache *again*
which of them are missing and renders only those. A tile that another request (a
neighbour in the same meta tile: every tiled client asks for several at once) stored
between the two looks is neither loaded nor rendered, and MapProxy answers with a blank,
transparent tile: a hole in the map that clients then cache. Seen as a GDAL WMTS read
of four tiles with one column missing. The second look is there to find expired tiles;
a tile not loaded is now always treated as missing, so it goes to the tile creator,
which looks again under the meta tile's lock and loads it. Still so upstream
(mapproxy ``main`` in 2026-11).

**A tile removed between MapProxy's lookup and its read.** ``FileCache.load_tile`` checks
that the tile's file exists and hands on its *name*; the bytes are read later, when the
response is built. A changed product's tiles removed in between (``tiles/app.invalidate``
in another worker) made that read fail: a WMTS 500, or a WMS 400 "Could not get any
sources". The tile's bytes are now read at the lookup; a file already gone is a missing
tile, which is rendered afresh."""

from __future__ import annotations

import io
import logging
from typing import Any

from mapproxy.cache.file import FileCache
from mapproxy.cache.tile_manager import TileManager
from mapproxy.image import ImageResult

LOG = logging.getLogger(__name__)


def apply() -> None:
    """Apply the three fixes (idempotent)."""
    tolerate_removed_cache_dirs()
    load_tiles_stored_concurrently()
    read_cached_tiles_at_once()


def tolerate_removed_cache_dirs() -> None:
    if getattr(FileCache.store_tile, "_ogcsdl", False):
        return
    store_tile = FileCache.store_tile

    def tolerant_store_tile(self: FileCache, tile: Any, dimensions: Any = None) -> Any:
        # Both the directory creation and the temp-file write can meet the removal.
        try:
            return store_tile(self, tile, dimensions=dimensions)
        except FileNotFoundError:
            LOG.debug("cache directory of tile %s removed while writing; not cached", tile.coord)
            return False

    tolerant_store_tile._ogcsdl = True  # type: ignore[attr-defined]
    FileCache.store_tile = tolerant_store_tile


def load_tiles_stored_concurrently() -> None:
    if getattr(TileManager._is_tile_missing, "_ogcsdl", False):
        return
    is_tile_missing = TileManager._is_tile_missing

    def missing_unless_loaded(
        self: TileManager, tile: Any, cache_only: bool, dimensions: Any = None
    ) -> bool:
        if tile.coord is not None and tile.is_missing():
            return True  # not loaded: whatever the disk says now, it must be created or loaded
        return bool(is_tile_missing(self, tile, cache_only, dimensions=dimensions))

    missing_unless_loaded._ogcsdl = True  # type: ignore[attr-defined]
    TileManager._is_tile_missing = missing_unless_loaded


def read_cached_tiles_at_once() -> None:
    if getattr(FileCache.load_tile, "_ogcsdl", False):
        return

    def load_tile_now(
        self: FileCache, tile: Any, with_metadata: bool = False, dimensions: Any = None
    ) -> bool:
        if not tile.is_missing():
            return True
        location = self.tile_location(tile, dimensions=dimensions)
        try:
            with open(location, "rb") as cached:
                data = cached.read()
        except FileNotFoundError:
            return False  # not cached (or removed just now): created by the tile creator
        if with_metadata:
            self.load_tile_metadata(tile, dimensions=dimensions)
        tile.image_result = ImageResult(io.BytesIO(data), image_opts=self.image_opts)
        return True

    load_tile_now._ogcsdl = True  # type: ignore[attr-defined]
    FileCache.load_tile = load_tile_now

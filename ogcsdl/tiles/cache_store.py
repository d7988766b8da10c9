"""MapProxy's tile cache under concurrent requests: two fixes to MapProxy 7.0.0.

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
(mapproxy ``main`` in 2026-11)."""

from __future__ import annotations

import logging
from typing import Any

from mapproxy.cache.file import FileCache
from mapproxy.cache.tile_manager import TileManager

LOG = logging.getLogger(__name__)


def tolerate_removed_cache_dirs() -> None:
    if getattr(FileCache, "_ogcsdl_patched", False):
        return
    store_tile = FileCache.store_tile

    def tolerant_store_tile(self: FileCache, tile: Any, dimensions: Any = None) -> Any:
        # Both the directory creation and the temp-file write can meet the removal.
        try:
            return store_tile(self, tile, dimensions=dimensions)
        except FileNotFoundError:
            LOG.debug("cache directory of tile %s removed while writing; not cached", tile.coord)
            return False

    FileCache.store_tile = tolerant_store_tile
    FileCache._ogcsdl_patched = True


def load_tiles_stored_concurrently() -> None:
    if getattr(TileManager, "_ogcsdl_patched", False):
        return
    is_tile_missing = TileManager._is_tile_missing

    def missing_unless_loaded(
        self: TileManager, tile: Any, cache_only: bool, dimensions: Any = None
    ) -> bool:
        if tile.coord is not None and tile.is_missing():
            return True  # not loaded: whatever the disk says now, it must be created or loaded
        return bool(is_tile_missing(self, tile, cache_only, dimensions=dimensions))

    TileManager._is_tile_missing = missing_unless_loaded
    TileManager._ogcsdl_patched = True

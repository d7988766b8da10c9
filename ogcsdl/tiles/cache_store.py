"""MapProxy's file cache, tolerant of a cache directory removed while it writes.

A changed or deleted product has its cached tiles removed (``tiles/app.invalidate``)
while other workers may be rendering tiles of it. MapProxy writes each tile to a temp
file beside its place and renames it; if the directory vanished in between it raised
``FileNotFoundError`` and the client got a 500 for a tile that rendered fine. The
directory is gone because the tiles in it are stale, so such a tile is served and not
stored (storing it in a recreated directory could keep a tile of the old product)."""

from __future__ import annotations

import logging
from typing import Any

from mapproxy.cache.file import FileCache

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

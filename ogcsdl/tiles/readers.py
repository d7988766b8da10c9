"""Open rio-tiler readers kept between renderer requests.

Opening a COG (GDAL open, header and overview scan, rio-tiler's checks) costs about as
much as reading one tile from it, and the renderer reads the same few products over and
over. Readers are kept per thread (a GDAL dataset handle must not be shared between
threads; gunicorn's sync workers have one) in a small LRU keyed by the file's identity,
so a re-ingested product (a new file moved into place) is opened afresh.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from rio_tiler.io import Reader

MAX_OPEN = 32

_local = threading.local()


def _identity(path: str) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def open_reader(path: str) -> Reader:
    """An open Reader for ``path`` (do not close it: the cache owns it)."""
    cache: OrderedDict[str, tuple[tuple[int, int, int], Reader]] | None = getattr(
        _local, "readers", None
    )
    if cache is None:
        cache = _local.readers = OrderedDict()
    identity = _identity(path)
    entry = cache.get(path)
    if entry is not None and entry[0] == identity:
        cache.move_to_end(path)
        return entry[1]
    if entry is not None:
        entry[1].close()  # the file was replaced
    reader = Reader(path)
    cache[path] = (identity, reader)
    while len(cache) > MAX_OPEN:
        _, (_, oldest) = cache.popitem(last=False)
        oldest.close()
    return reader

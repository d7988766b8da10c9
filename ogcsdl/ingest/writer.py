"""The one writer of products: a raster becomes a Cloud Optimized GeoTIFF, a traced
footprint and a catalogue record, for ingest, published process outputs and the demo and
test fixtures alike.

Modelled on rio-cogeo's ``cog_translate``: the COG is written by GDAL's COG driver into a
temp file beside its final path, with the overview resampling chosen by the data (nearest
for classes: the average of two classes is a third class that is not there), validated,
then moved into place atomically. A :class:`Publication` stages any number of products
(and other files) and commits the files and the records together, or removes what it
staged: a failure anywhere leaves nothing half-done.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader, DatasetWriter, MemoryFile

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import IngestSettings
from ogcsdl.errors import NotFound, OgcsdlError
from ogcsdl.ingest.footprint import valid_data_footprint

STAGING_SUFFIX = ".part"  # temp files beside their final path; scratch after a crash
# libtiff reports ENOSPC only on stderr; GDAL raises "Write error", "IO error writing tag
# data" and such, and deletes the partial file. So a failed write counts as a full disk
# when less is free than the write could have needed (its uncompressed size), or than
# this much whatever it needed.
_FULL_BELOW_BYTES = 1024 * 1024


class StorageFull(OgcsdlError):
    """The data directory's file system is full: an operator's problem, not the user's."""

    code = "NoApplicableCode"
    status = 507


def cog_options(
    settings: IngestSettings, categorical: bool, threads: str = "ALL_CPUS"
) -> dict[str, str]:
    """GDAL COG driver options. One overview resampling applies to all bands: a class
    band must not be averaged into classes that do not exist, so such products get
    nearest. ``threads``: GDAL's compression threads (``"1"`` where the cores are
    already busy, e.g. on a Dask worker)."""
    return {
        "COMPRESS": settings.compression.upper(),
        "PREDICTOR": "YES",
        "BLOCKSIZE": str(settings.blocksize),
        "OVERVIEWS": "AUTO",
        "OVERVIEW_RESAMPLING": "NEAREST" if categorical else settings.overview_resampling.upper(),
        "NUM_THREADS": threads,
        "BIGTIFF": "IF_SAFER",
    }


def _free_bytes(directory: Path) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def storage_error(exc: BaseException, directory: Path, needed_bytes: int = 0) -> StorageFull | None:
    """A :class:`StorageFull` if ``exc`` (an OSError or a GDAL write error) came from
    a full file system under ``directory`` (``needed_bytes``: at most what the failed
    write needed); None for any other failure."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull("no space left on device in the data directory")
    if isinstance(exc, OSError | RasterioError | CPLE_BaseError):
        with contextlib.suppress(OSError):
            free = _free_bytes(directory)
            if free < max(needed_bytes, _FULL_BELOW_BYTES):
                return StorageFull(
                    "no space left on device in the data directory "
                    f"({free / 2**20:.1f} MiB free, the output needs up to "
                    f"{needed_bytes / 2**20:.1f} MiB)"
                )
    return None


@contextlib.contextmanager
def staging_path(final: Path) -> Iterator[Path]:
    """A temp path beside ``final`` (same file system, so ``os.replace`` is atomic),
    removed on exit unless the caller moved it into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        dir=final.parent, prefix=f".{final.stem}.", suffix=STAGING_SUFFIX
    )
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.ovr.tmp").unlink(missing_ok=True)  # GDAL's COG overview scratch


def validate_cog(path: Path) -> None:
    """Raise unless ``path`` is a readable Cloud Optimized GeoTIFF: GDAL's COG layout
    (IFDs first, tiles in order) and overviews once it is larger than one block."""
    with rasterio.open(path) as src:
        layout = src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT")
        block = max(src.block_shapes[0])
        needs_overviews = max(src.width, src.height) > block
        has_overviews = bool(src.overviews(1))
    if layout != "COG" or (needs_overviews and not has_overviews):
        raise OgcsdlError(f"the written file is not a valid COG (layout {layout!r})")


def write_cog(
    source: DatasetReader | DatasetWriter | str, target: Path, options: dict[str, str]
) -> None:
    """Copy ``source`` (an open dataset or a path GDAL reads) into ``target`` as a COG
    and validate it."""
    rasterio.shutil.copy(source, str(target), driver="COG", **options)
    validate_cog(target)


@contextlib.contextmanager
def array_dataset(
    array: np.ndarray,
    crs: str,
    transform: Any,
    nodata: float | None,
    band_names: Sequence[str] = (),
    tags: dict[str, str] | None = None,
) -> Iterator[DatasetWriter]:
    """An in-memory GeoTIFF of ``array`` (bands, rows, cols) for :func:`write_cog`."""
    if array.dtype == np.bool_:
        array = array.astype("uint8")
    count, height, width = array.shape
    with (
        MemoryFile() as memory,
        memory.open(
            driver="GTiff",
            width=width,
            height=height,
            count=count,
            dtype=array.dtype.name,
            crs=crs,
            transform=transform,
            nodata=nodata,
        ) as dataset,
    ):
        dataset.write(array)
        for index, name in enumerate(band_names, start=1):
            dataset.set_band_description(index, name)
        if tags:
            dataset.update_tags(**tags)
        yield dataset


def array_writer(
    array: np.ndarray,
    crs: str,
    transform: Any,
    nodata: float | None,
    band_names: Sequence[str],
    options: dict[str, str],
    tags: dict[str, str] | None = None,
) -> Callable[[Path], None]:
    """A ``write`` for :meth:`Publication.stage_cog` that writes ``array`` as a COG."""

    def write(target: Path) -> None:
        with array_dataset(array, crs, transform, nodata, band_names, tags) as dataset:
            write_cog(dataset, target, options)

    return write


def write_array_cog(
    destination: Path,
    array: np.ndarray,
    crs: str,
    transform: Any,
    nodata: float | None,
    band_names: Sequence[str] = (),
    settings: IngestSettings | None = None,
    categorical: bool = False,
) -> StagedCog:
    """Write ``array`` as a COG at ``destination`` (staged, validated, moved into place)
    with no record: for fixtures and demos that store their records themselves."""
    options = cog_options(settings or IngestSettings(), categorical)
    with Publication(None) as publication:
        staged = publication.stage_cog(
            destination,
            array_writer(array, crs, transform, nodata, band_names, options),
            int(array.nbytes),
        )
        publication.commit([])
    return staged


@dataclass(frozen=True)
class StagedCog:
    """A COG written beside its destination, with what its record needs to know."""

    temp: Path
    destination: Path
    footprint_wkt: str
    bbox: tuple[float, float, float, float]
    crs: str
    resolution: tuple[float, float]
    width: int
    height: int
    dtype: str
    size: int

    def record_fields(self) -> dict[str, Any]:
        """The :class:`ProductRecord` fields that describe the file: where it is, its
        grid and its traced footprint."""
        return {
            "footprint_wkt": self.footprint_wkt,
            "bbox": self.bbox,
            "crs": self.crs,
            "resolution": self.resolution,
            "width": self.width,
            "height": self.height,
            "dtype": self.dtype,
            "file_path": str(self.destination),
            "file_size": self.size,
        }


@dataclass
class Publication:
    """Products (and other files) staged together and committed together.

    ``stage_cog``/``stage_file`` write beside the final paths; ``commit`` moves every
    staged file into place and upserts every record in one transaction. Leaving the
    ``with`` block by an exception removes what was staged and, after a commit,
    withdraws it (records deleted or restored, new files removed). Files may be staged
    from several threads at once (a job writes its outputs in parallel)."""

    store: ProductStore | None  # None: files only, no records
    _staged: list[tuple[Path, Path]] = field(default_factory=list)  # (temp, destination)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _moved: list[Path] = field(default_factory=list)  # destinations that did not exist
    _records: list[tuple[ProductRecord, ProductRecord | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Publication:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if value is not None:
            self.withdraw()
        self._stack.close()

    def stage_file(self, destination: Path) -> Path:
        """A temp path for a file that is moved to ``destination`` on commit."""
        with self._lock:
            temp = self._stack.enter_context(staging_path(destination))
            self._staged.append((temp, destination))
        return temp

    def stage_cog(
        self, destination: Path, write: Callable[[Path], None], raw_bytes: int = 0
    ) -> StagedCog:
        """Stage the COG that ``write(temp)`` writes (``raw_bytes``: its uncompressed
        size), validated, with its traced footprint."""
        temp = self.stage_file(destination)
        try:
            write(temp)
            validate_cog(temp)
        except Exception as exc:
            full = storage_error(exc, destination.parent, raw_bytes)
            if full is not None:
                raise full from None
            raise
        footprint, bbox = valid_data_footprint(str(temp))
        with rasterio.open(temp) as src:
            return StagedCog(
                temp=temp,
                destination=destination,
                footprint_wkt=footprint,
                bbox=bbox,
                crs=src.crs.to_string() if src.crs else "",
                resolution=(abs(src.res[0]), abs(src.res[1])),
                width=src.width,
                height=src.height,
                dtype=src.dtypes[0],
                size=temp.stat().st_size,
            )

    def commit(self, records: Sequence[ProductRecord]) -> None:
        """Move every staged file into place, then upsert ``records`` in one transaction;
        if either fails, the new files are removed again (an existing file that was
        replaced stays replaced: its record still names it)."""
        directory = self._staged[0][1].parent if self._staged else None
        try:
            for temp, destination in self._staged:
                existed = destination.exists()
                os.chmod(temp, 0o644)  # mkstemp makes it private; products are public
                os.replace(temp, destination)
                if not existed:
                    self._moved.append(destination)
            self._staged.clear()
            if records:
                if self.store is None:
                    raise ValueError("a Publication without a store cannot commit records")
                previous = [self._previous(record.identifier) for record in records]
                self.store.upsert_many(records)
                self._records = list(zip(records, previous, strict=True))
        except Exception as exc:
            self._remove_moved()
            full = storage_error(exc, directory) if directory is not None else None
            if full is not None:
                raise full from None
            raise

    def withdraw(self) -> None:
        """Undo a commit: records deleted (or restored to what they were), new files
        removed. Staged files not committed are removed when the block ends."""
        for record, previous in reversed(self._records):
            assert self.store is not None  # records were committed through it
            if previous is not None:
                self.store.upsert(previous)
            else:
                with contextlib.suppress(NotFound):
                    self.store.delete(record.identifier)
        self._records.clear()
        self._remove_moved()

    def _previous(self, identifier: str) -> ProductRecord | None:
        assert self.store is not None
        try:
            return self.store.get(identifier)
        except NotFound:
            return None

    def _remove_moved(self) -> None:
        for destination in self._moved:
            if destination.is_dir():
                shutil.rmtree(destination, ignore_errors=True)
            else:
                destination.unlink(missing_ok=True)
        self._moved.clear()

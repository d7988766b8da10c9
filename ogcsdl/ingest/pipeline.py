"""Ingest: product on disk -> analysis-ready COG + catalogue record, one or many."""

from __future__ import annotations

import logging
import math
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import ProductRecord, product_href, xml_text
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings
from ogcsdl.errors import IngestError
from ogcsdl.ingest.cog import TargetGrid, target_grid, write_product_cog
from ogcsdl.ingest.detect import detect, find_products
from ogcsdl.ingest.reader import NotGeoreferenced, ProductSource
from ogcsdl.ingest.writer import Publication, StagedCog, cog_options
from ogcsdl.schema import create_schema

log = logging.getLogger(__name__)

FLOAT_NODATA = -9999.0  # float COGs: a finite nodata every client understands (not NaN)


def _suite_version() -> str:
    try:
        return version("ogcsdl")
    except PackageNotFoundError:
        return "dev"


def cog_path(settings: Settings, identifier: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", identifier)
    return settings.cog_dir / f"{safe}.tif"


def _apply_overrides(
    product: ProductSource, collection: str | None, acquired: datetime | None
) -> None:
    if collection:
        product.collection = collection
    if acquired is not None:
        product.start = product.end = acquired
        product.extra["datetime_source"] = "given at ingest (--datetime)"
    if np.issubdtype(np.dtype(product.dtype), np.floating) and (
        product.nodata is None or math.isnan(product.nodata)
    ):
        product.nodata = FLOAT_NODATA


def ingest_product(
    settings: Settings,
    path: Path,
    *,
    collection: str | None = None,
    acquired: datetime | None = None,
    store: ProductStore | None = None,
) -> ProductRecord:
    """Ingest one product; re-ingesting the same product replaces its COG and record.

    On any failure nothing is left behind: no temp file, no COG, no record.
    """
    path = path.resolve()
    reader = detect(path)
    product = reader.read(path)
    _apply_overrides(product, collection, acquired)
    destination = cog_path(settings, product.identifier)
    categorical = any(band.categorical for band in product.bands)
    grid = target_grid(product.bands, product.assumed_crs)
    with Publication(store or product_store(settings)) as publication:
        staged = publication.stage_cog(
            destination, lambda temp: write_product_cog(product, grid, temp, settings.ingest)
        )
        record = _record(settings, reader.name, product, grid, staged, categorical)
        publication.commit([record])
    return record


def _record(
    settings: Settings,
    reader: str,
    product: ProductSource,
    grid: TargetGrid,
    staged: StagedCog,
    categorical: bool,
) -> ProductRecord:
    extra = dict(product.extra)
    extra.update(
        reader=reader,
        cog_href=product_href(settings, product.identifier),
        overview_resampling=cog_options(settings.ingest, categorical)["OVERVIEW_RESAMPLING"],
    )
    nearest_bands = [b.band.name for b in product.bands if b.categorical]
    band_names = ", ".join(b.band.name for b in product.bands)
    return ProductRecord(
        **staged.record_fields(),
        identifier=product.identifier,
        title=xml_text(product.title),
        collection=product.collection,
        start=product.start,
        end=product.end,
        bands=[band.band for band in product.bands],
        nodata=product.nodata,
        platform=xml_text(product.platform),
        instrument=xml_text(product.instrument),
        sensor_type=product.sensor_type,
        product_type=product.product_type,
        processing_level=product.processing_level,
        cloud_cover=product.cloud_cover,
        lineage=(
            f"ogcsdl {_suite_version()} ingest ({reader}) of {product.source}: "
            f"{len(product.bands)} bands on the finest band grid "
            f"({grid.resolution[0]:g} x {grid.resolution[1]:g}, {grid.crs.to_string()}), "
            "any coarser band resampled bilinear"
            + (f" ({', '.join(nearest_bands)} nearest)" if nearest_bands else "")
            + f"; Cloud Optimized GeoTIFF, {settings.ingest.compression}"
        ),
        source=product.source,
        abstract=xml_text(
            product.abstract or f"{product.title}: {len(product.bands)} bands ({band_names})."
        ),
        keywords=xml_text(product.keywords),
        extra=extra,
    )


def _report(line: str) -> None:
    tqdm.write(line, file=sys.stderr)  # above the progress bar, on the error stream


@dataclass
class BatchResult:
    ingested: list[ProductRecord] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0


def ingest_paths(
    settings: Settings,
    paths: Iterable[Path],
    *,
    collection: str | None = None,
    acquired: datetime | None = None,
    progress: bool = True,
) -> BatchResult:
    """Ingest every product in ``paths`` (products or directories to scan). A bad product
    is reported and skipped; the batch goes on."""
    settings.ensure_dirs()
    create_schema(settings)  # ingest is a start-up: the one place it runs besides serve
    store = product_store(settings)
    result = BatchResult()
    started = time.perf_counter()
    work: list[tuple[Path, bool]] = []  # (product path, found by scanning a directory)
    for given in paths:
        given = Path(given)
        for found in find_products(given):
            work.append((found, found != given))
    bar = tqdm(work, desc="ingest", unit="product", disable=not progress)
    for product_path, scanned in bar:
        bar.set_postfix_str(product_path.name[-40:], refresh=False)
        try:
            result.ingested.append(
                ingest_product(
                    settings, product_path, collection=collection, acquired=acquired, store=store
                )
            )
        except NotGeoreferenced as exc:
            # A label image or preview found by scanning is not a product: say so, go on.
            (result.skipped if scanned else result.failed).append((product_path, exc.message))
            _report(f"{'SKIPPED' if scanned else 'FAILED'} {product_path}: {exc.message}")
        except IngestError as exc:
            result.failed.append((product_path, exc.message))
            _report(f"FAILED {product_path}: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - one broken product must not stop a batch
            log.exception("unexpected error ingesting %s", product_path)
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
            result.failed.append((product_path, reason))
            _report(f"FAILED {product_path}: {reason}")
    result.seconds = time.perf_counter() - started
    return result

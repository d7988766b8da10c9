"""Publish process outputs: every raster output becomes a COG plus a catalogue record
with lineage, and so (through the product store) a tile layer and a WCS coverage."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import Band, ProductRecord, product_href
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings
from ogcsdl.errors import NotFound
from ogcsdl.ingest.writer import Publication, StagedCog, array_writer, cog_options
from processes.base import ProcessDescription, Raster, RasterOutput
from processes.classes import PALETTES

# DEFLATE level of continuous (float) outputs. The job waits for its publishing, one
# serial step: a 5490² float32 probability took 3.4 s CPU at GDAL's default level 6 (the
# floating-point predictor's bytes and the averaged overviews compress slowly) and 2.0 s
# at level 1, for 9 % more bytes; the pixels and overviews decoded are the same
# (lossless). Class maps compress fast at any level (0.2 s) and keep the default.
FAST_DEFLATE_LEVEL = "1"


@dataclass
class Lineage:
    """Where a published output came from (kept in ``ProductRecord.extra``)."""

    process_id: str
    process_version: str
    job_id: str
    parameters: dict[str, Any]
    source_ids: list[str]
    started: datetime
    finished: datetime
    # When the catalogue products among the sources were observed (first start, last
    # end), read once per job (:func:`observed_span`); None: no source is one.
    observed: tuple[datetime, datetime] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "process_id": self.process_id,
            "process_version": self.process_version,
            "job_id": self.job_id,
            "parameters": self.parameters,
            "source_ids": self.source_ids,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat(),
        }

    def sentence(self) -> str:
        sources = ", ".join(self.source_ids) or "inline inputs"
        return (
            f"Produced by process {self.process_id} {self.process_version} (job {self.job_id}) "
            f"from {sources} between {self.started.isoformat()} and {self.finished.isoformat()}."
        )


def output_identifier(job_id: str, process_id: str, output_id: str) -> str:
    return f"{process_id}-{output_id}-{job_id}"


def is_categorical(raster: Raster, output: RasterOutput) -> bool:
    """A class raster (its class table in the metadata, or a class palette declared):
    its overviews must pick classes, never average them."""
    return "classes" in raster.metadata or output.style in PALETTES


def output_cog_options(raster: Raster, output: RasterOutput, settings: Settings) -> dict[str, str]:
    """The GDAL COG creation options of a process output."""
    categorical = is_categorical(raster, output)
    # One GDAL thread: a job publishes on a Dask worker whose cores run blocks (its own
    # or other jobs'); there GDAL's compression thread pool cost 14x the CPU of one
    # thread and was slower too (5490² class map: 5.8 s vs 0.4 s CPU, benchmarks/README).
    options = cog_options(settings.ingest, categorical, threads="1")
    if not categorical and options["COMPRESS"] == "DEFLATE":
        options["LEVEL"] = FAST_DEFLATE_LEVEL
    return options


def stage_raster(
    publication: Publication,
    raster: Raster,
    output: RasterOutput,
    description: ProcessDescription,
    lineage: Lineage,
    settings: Settings,
) -> ProductRecord:
    """Stage ``raster`` as a COG in ``publication`` and return its record (stored when
    the publication commits)."""
    staged = stage_raster_file(
        publication, raster, output, description.id, lineage.job_id, settings
    )
    return raster_record(staged, raster, output, description, lineage, settings)


def stage_raster_file(
    publication: Publication,
    raster: Raster,
    output: RasterOutput,
    process_id: str,
    job_id: str,
    settings: Settings,
) -> StagedCog:
    """Write ``raster`` as a staged COG of ``publication`` (the slow part of publishing:
    GDAL releases the GIL, so outputs can be written in threads at once)."""
    identifier = output_identifier(job_id, process_id, output.id)
    categorical = is_categorical(raster, output)
    options = output_cog_options(raster, output, settings)
    tags = (
        {"classes": json.dumps(raster.metadata["classes"])}
        if categorical and ("classes" in raster.metadata)
        else None
    )
    array = np.asarray(raster.data.values)
    write = array_writer(
        array, raster.crs, raster.transform, raster.nodata, raster.band_names, options, tags
    )
    return publication.stage_cog(settings.cog_dir / f"{identifier}.tif", write, array.nbytes)


def raster_record(
    staged: StagedCog,
    raster: Raster,
    output: RasterOutput,
    description: ProcessDescription,
    lineage: Lineage,
    settings: Settings,
) -> ProductRecord:
    """The catalogue record of a raster output written by :func:`stage_raster_file`."""
    identifier = output_identifier(lineage.job_id, description.id, output.id)
    source_start, source_end = lineage.observed or (None, None)
    start = _metadata_time(raster, "start") or source_start or lineage.finished
    end = _metadata_time(raster, "end") or source_end or start
    return ProductRecord(
        **staged.record_fields(),
        identifier=identifier,
        title=f"{description.title}: {output.title} (job {lineage.job_id[:8]})",
        collection=output.collection,
        start=start,
        end=end,
        bands=[Band(name=name) for name in raster.band_names],
        nodata=raster.nodata,
        lineage=lineage.sentence(),
        source=",".join(lineage.source_ids) or None,
        abstract=output.abstract or description.abstract,
        keywords=["process output", description.id, *description.keywords],
        extra={
            "lineage": lineage.as_dict(),
            # a processor may name another style for this run's raster (e.g. a probability)
            "style": raster.metadata.get("style", output.style),
            "output_id": output.id,
            "cog_href": product_href(settings, identifier),
            "overview_resampling": output_cog_options(raster, output, settings)[
                "OVERVIEW_RESAMPLING"
            ],
        },
        updated=datetime.now(UTC),
    )


def publish_raster(
    raster: Raster,
    output: RasterOutput,
    description: ProcessDescription,
    lineage: Lineage,
    settings: Settings,
    store: ProductStore | None = None,
) -> ProductRecord:
    """Publish one output on its own (a job publishes all its outputs in one
    :class:`Publication`)."""
    store = store or product_store(settings)
    if lineage.observed is None:
        lineage = dataclasses.replace(lineage, observed=observed_span(store, lineage.source_ids))
    with Publication(store) as publication:
        record = stage_raster(publication, raster, output, description, lineage, settings)
        publication.commit([record])
    return record


def observed_span(store: ProductStore, source_ids: list[str]) -> tuple[datetime, datetime] | None:
    """The acquisition span of the catalogue products an output came from: an output
    is about the time its inputs were observed, not when the job ran."""
    records = []
    for identifier in source_ids:
        try:
            records.append(store.get(identifier))
        except NotFound:
            continue  # a URL input, not a catalogue product
    if not records:
        return None
    return min(r.start for r in records), max(r.end for r in records)


def _metadata_time(raster: Raster, key: str) -> datetime | None:
    value = raster.metadata.get(key)
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None

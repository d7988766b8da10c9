"""A job's outputs, staged in one :class:`Publication`: raster outputs written as COGs in
threads (those a processor hands over early while it goes on computing), big documents
as files, small values inline; and the source product that literal outputs update.
Nothing is published until the publication commits (:mod:`ogcsdl.jobs.executor`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from ogcsdl.catalogue.record import ProductRecord, product_href
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings
from ogcsdl.ingest.writer import Publication, StagedCog
from ogcsdl.jobs.outputs import JobOutput
from ogcsdl.jobs.paths import outputs_dir
from ogcsdl.publish import Lineage, raster_record, stage_raster_file
from processes.base import ComplexOutput, LiteralOutput, ProcessDescription, Raster, RasterOutput


def source_ids(inputs: Mapping[str, Any]) -> list[str]:
    """The catalogue products the resolved ``inputs`` were read from, sorted."""
    return sorted(
        {
            sid
            for value in inputs.values()
            for r in (value if isinstance(value, list) else [value])
            if isinstance(r, Raster)
            for sid in r.source_ids
        }
    )


def output_url(settings: Settings, job_id: str, output_id: str) -> str:
    """Where one output of a finished job is served (OGC API - Processes results; WPS
    references to outputs that have no URL of their own point here too)."""
    return settings.url(f"ogcapi/jobs/{job_id}/results/{output_id}")


class RasterWriter:
    """Writes a job's raster outputs as staged COGs in threads (GDAL releases the GIL):
    those the processor hands over early while it goes on computing, the others all
    at once when it returns. Writing them one after the other, after the processor,
    was seconds of a full-tile job in which no worker computed anything."""

    def __init__(
        self,
        publication: Publication,
        description: ProcessDescription,
        job_id: str,
        settings: Settings,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.publication, self.description = publication, description
        self.job_id, self.settings, self.pool = job_id, settings, pool
        self.outputs = {o.id: o for o in description.outputs if isinstance(o, RasterOutput)}
        self.early: dict[str, tuple[Raster, Future[StagedCog]]] = {}

    def _write(self, output_id: str, value: Any) -> Future[StagedCog]:
        if not isinstance(value, Raster):
            raise TypeError(f"output {output_id!r} must be a Raster")
        return self.pool.submit(
            stage_raster_file,
            self.publication,
            value,
            self.outputs[output_id],
            self.description.id,
            self.job_id,
            self.settings,
        )

    def take(self, output_id: str, value: Any) -> None:
        """An output handed over before the processor returned (other outputs are
        written with the rest)."""
        if output_id not in self.outputs:
            return
        if output_id in self.early:
            raise ValueError(f"output {output_id!r} was handed over twice")
        self.early[output_id] = (value, self._write(output_id, value))

    def written(self, produced: Mapping[str, Any]) -> dict[str, StagedCog]:
        """Every raster output of ``produced`` written (the early ones must be the
        objects that were handed over)."""
        futures: dict[str, Future[StagedCog]] = {}
        for output_id in self.outputs:
            if output_id not in produced:
                continue
            if output_id in self.early:
                value, future = self.early[output_id]
                if produced[output_id] is not value:
                    raise ValueError(f"output {output_id!r} is not what was handed over")
                futures[output_id] = future
            else:
                futures[output_id] = self._write(output_id, produced[output_id])
        return {output_id: future.result() for output_id, future in futures.items()}


def stage_outputs(
    produced: Mapping[str, Any],
    description: ProcessDescription,
    lineage: Lineage,
    settings: Settings,
    publication: Publication,
    written: Mapping[str, StagedCog],
) -> tuple[dict[str, JobOutput], list[ProductRecord]]:
    """Stage every output in ``publication`` (rasters, already ``written`` as COGs,
    with records; big documents as files); small values stay inline. Nothing is
    published until the publication commits."""
    encoded: dict[str, JobOutput] = {}
    records: list[ProductRecord] = []
    for output in description.outputs:
        if output.id not in produced:
            continue
        value = produced[output.id]
        if isinstance(output, RasterOutput):
            staged = written[output.id]
            record = raster_record(staged, value, output, description, lineage, settings)
            records.append(record)
            href = product_href(settings, record.identifier)
            encoded[output.id] = JobOutput.raster(record.identifier, record.collection, href)
        elif isinstance(output, LiteralOutput):
            encoded[output.id] = JobOutput.literal(value, output.data_type)
        elif isinstance(output, ComplexOutput):
            media = output.media_types[0] if output.media_types else "application/json"
            text = value if isinstance(value, str) else json.dumps(value)
            if len(text.encode()) <= settings.processing.inline_output_max_bytes:
                encoded[output.id] = JobOutput("complex", media_type=media, value=value)
                continue
            target = outputs_dir(settings, lineage.job_id) / output.id
            publication.stage_file(target).write_text(text, encoding="utf-8")
            encoded[output.id] = JobOutput(
                "complex",
                media_type=media,
                file=str(target),
                href=output_url(settings, lineage.job_id, output.id),
            )
    return encoded, records


def updated_source_products(
    produced: Mapping[str, Any],
    description: ProcessDescription,
    sources: list[str],
    products: ProductStore,
) -> list[ProductRecord]:
    """The job's source product with literal outputs that declare a ``catalogue_field``
    written in (only when there is exactly one: a value about two products is
    neither's)."""
    fields = {
        output.catalogue_field: produced[output.id]
        for output in description.outputs
        if isinstance(output, LiteralOutput)
        and output.catalogue_field
        and produced.get(output.id) is not None
    }
    if not fields or len(sources) != 1:
        return []
    record = products.get(sources[0])
    return [dataclasses.replace(record, **fields, updated=datetime.now(UTC))]

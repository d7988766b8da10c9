"""Process descriptions and job documents as OGC API - Processes 1.0 JSON."""

from __future__ import annotations

from typing import Any

from ogcsdl.catalogue.record import COG_MEDIA_TYPE
from ogcsdl.config import Settings
from ogcsdl.jobs.store import Job
from processes.base import (
    BoundingBoxInput,
    ComplexOutput,
    InputDescription,
    LiteralInput,
    LiteralOutput,
    OutputDescription,
    ProcessDescription,
    RasterInput,
)

_JSON_TYPES = {"string": "string", "integer": "integer", "float": "number", "boolean": "boolean"}
_HREF = {
    "type": "object",
    "required": ["href"],
    "properties": {"href": {"type": "string", "format": "uri"}},
}


def input_schema(item: InputDescription) -> dict[str, Any]:
    if isinstance(item, LiteralInput):
        schema: dict[str, Any] = {"type": _JSON_TYPES[item.data_type]}
        if item.allowed_values:
            schema["enum"] = list(item.allowed_values)
        if item.minimum is not None:
            schema["minimum"] = item.minimum
        if item.maximum is not None:
            schema["maximum"] = item.maximum
        if item.default is not None:
            schema["default"] = item.default
        return schema
    if isinstance(item, RasterInput):
        return {
            "oneOf": [
                {"type": "string", "description": "a catalogue product id or a GeoTIFF/WCS URL"},
                _HREF,
            ],
            "contentMediaType": COG_MEDIA_TYPE,
        }
    if isinstance(item, BoundingBoxInput):
        return {
            "type": "object",
            "format": "ogc-bbox",
            "required": ["bbox"],
            "properties": {
                "bbox": {
                    "type": "array",
                    "minItems": 4,
                    "maxItems": 4,
                    "items": {"type": "number"},
                },
                "crs": {"type": "string", "enum": list(item.crs), "default": item.crs[0]},
            },
        }
    media = item.media_types[0] if item.media_types else "application/json"
    return {"oneOf": [{"type": "object"}, {"type": "string"}, _HREF], "contentMediaType": media}


def output_schema(item: OutputDescription) -> dict[str, Any]:
    if isinstance(item, LiteralOutput):
        return {"type": _JSON_TYPES[item.data_type]}
    if isinstance(item, ComplexOutput):
        return {
            "type": "object",
            "contentMediaType": item.media_types[0] if item.media_types else "application/json",
        }
    return {"type": "string", "format": "uri", "contentMediaType": COG_MEDIA_TYPE}


def process_summary(description: ProcessDescription, settings: Settings) -> dict[str, Any]:
    url = settings.url(f"ogcapi/processes/{description.id}")
    return {
        "id": description.id,
        "title": description.title,
        "description": description.abstract,
        "version": description.version,
        "keywords": list(description.keywords),
        "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
        "outputTransmission": ["value", "reference"],
        "links": [
            {
                "href": url,
                "rel": "self",
                "type": "application/json",
                "title": "process description",
            },
            {
                "href": f"{url}/execution",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
                "type": "application/json",
                "title": "execute",
            },
        ],
    }


def process_document(description: ProcessDescription, settings: Settings) -> dict[str, Any]:
    document = process_summary(description, settings)
    document["inputs"] = {
        item.id: {
            "title": item.title,
            "description": item.abstract,
            "minOccurs": item.min_occurs,
            "maxOccurs": item.max_occurs,
            "schema": input_schema(item),
        }
        for item in description.inputs
    }
    document["outputs"] = {
        item.id: {"title": item.title, "description": item.abstract, "schema": output_schema(item)}
        for item in description.outputs
    }
    return document


def status_info(job: Job, settings: Settings) -> dict[str, Any]:
    url = settings.url(f"ogcapi/jobs/{job.job_id}")
    links = [{"href": url, "rel": "self", "type": "application/json", "title": "job status"}]
    if job.status == "successful":
        links.append(
            {
                "href": f"{url}/results",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                "type": "application/json",
                "title": "results",
            }
        )
    document: dict[str, Any] = {
        "jobID": job.job_id,
        "processID": job.process_id,
        "type": "process",
        "status": job.status,
        "message": job.message,
        "progress": job.progress,
        "created": job.created.isoformat(),
        "updated": job.updated.isoformat(),
        "links": links,
    }
    if job.started:
        document["started"] = job.started.isoformat()
    if job.finished:
        document["finished"] = job.finished.isoformat()
    document["interface"] = job.interface
    return document


def results_document(job: Job) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, output in (job.outputs or {}).items():
        if output.by_reference:
            results[name] = {"href": output.href, "type": output.media_type}
        else:
            results[name] = output.value
    return results

"""What a finished job produced, one :class:`JobOutput` per output id.

The job store keeps them as JSON; both processing front ends (WPS 1.0.0 and OGC API -
Processes) render their documents from these objects and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ogcsdl.catalogue.record import COG_MEDIA_TYPE

OutputKind = Literal["raster", "literal", "complex"]


@dataclass(frozen=True)
class JobOutput:
    kind: OutputKind
    media_type: str | None = None
    value: Any = None  # a literal, or a complex output small enough to keep inline
    data_type: str | None = None  # literals: "string", "integer", ...
    product_id: str | None = None  # rasters: the published catalogue product
    collection: str | None = None
    href: str | None = None  # where a client fetches it (a raster's COG, a large document)
    file: str | None = None  # a large complex output: its file on the server

    @classmethod
    def raster(cls, product_id: str, collection: str, href: str) -> JobOutput:
        return cls(
            "raster",
            media_type=COG_MEDIA_TYPE,
            product_id=product_id,
            collection=collection,
            href=href,
        )

    @classmethod
    def literal(cls, value: Any, data_type: str) -> JobOutput:
        return cls("literal", value=value, data_type=data_type)

    @property
    def by_reference(self) -> bool:
        return self.href is not None

    def to_json(self) -> dict[str, Any]:
        names = {
            "type": self.kind,
            "mediaType": self.media_type,
            "value": self.value,
            "dataType": self.data_type,
            "product_id": self.product_id,
            "collection": self.collection,
            "href": self.href,
            "file": self.file,
        }
        return {key: value for key, value in names.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobOutput:
        return cls(
            kind=data["type"],
            media_type=data.get("mediaType"),
            value=data.get("value"),
            data_type=data.get("dataType"),
            product_id=data.get("product_id"),
            collection=data.get("collection"),
            href=data.get("href"),
            file=data.get("file"),
        )


def outputs_to_json(outputs: dict[str, JobOutput]) -> dict[str, Any]:
    return {name: output.to_json() for name, output in outputs.items()}


def outputs_from_json(data: dict[str, Any]) -> dict[str, JobOutput]:
    return {name: JobOutput.from_json(output) for name, output in data.items()}

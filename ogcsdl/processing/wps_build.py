"""Everything pywps needs, generated: its configuration file (from Settings) and its
input/output objects (from the registry's process descriptions)."""

from __future__ import annotations

import configparser
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pywps import BoundingBoxInput as PywpsBBoxInput
from pywps import ComplexInput as PywpsComplexInput
from pywps import ComplexOutput as PywpsComplexOutput
from pywps import Format
from pywps import LiteralInput as PywpsLiteralInput
from pywps import LiteralOutput as PywpsLiteralOutput
from pywps.exceptions import InvalidParameterValue as PywpsInvalidParameterValue
from pywps.inout.literaltypes import AllowedValue, AnyValue
from pywps.validator.allowed_value import ALLOWEDVALUETYPE

from ogcsdl.config import Settings
from processes.base import (
    BoundingBoxInput,
    ComplexInput,
    InputDescription,
    LiteralInput,
    LiteralOutput,
    OutputDescription,
    RasterInput,
    RasterOutput,
)

GEOTIFF_FORMAT = Format("image/tiff; subtype=geotiff", extension=".tif")
# Plain image/tiff too: clients (birdy) type a ``.tif`` URL by its extension.
TIFF_FORMAT = Format("image/tiff", extension=".tif")
# A raster input given by value is the text of a catalogue product id. It is the default
# format, so a client that sends a bare string (birdy does) sends it as text, not base64.
PRODUCT_ID_FORMAT = Format("text/plain", extension=".txt")


class ReferenceOnlyInput(PywpsComplexInput):
    """pywps' ComplexInput that never fetches anything itself.

    pywps would GET a ``BodyReference`` while it parses the request (and POST to the
    reference, follow redirects, with no timeout), before any check of ours. Here a
    reference is only recorded; the job fetches it later through the one checked
    fetcher (``ogcsdl.jobs.urls``), always with GET. References with ``method="POST"``
    (``Body``/``BodyReference``) are refused."""

    def url_handler(self, inpt: dict[str, Any]) -> str:
        method = str(inpt.get("method") or "GET").upper()
        if method != "GET" or inpt.get("body") or inpt.get("bodyreference"):
            raise PywpsInvalidParameterValue(
                "references are fetched with GET only: method=POST, Body and BodyReference "
                "are not supported",
                str(inpt.get("identifier") or ""),
            )
        return str(inpt.get("href"))

    @staticmethod
    def _openurl(href: str, data: Any = None) -> Any:
        raise PywpsInvalidParameterValue("references are fetched when the job runs", "href")


def wps_dir(settings: Settings) -> Path:
    return settings.data_dir / "wps"


def write_pywps_config(settings: Settings) -> Path:
    """Generate ``generated/pywps.cfg``. ``outputurl`` is where we serve status
    documents rendered from the job store (``/wps/status/<job id>.xml``)."""
    base = wps_dir(settings)
    for sub in ("status", "work"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    parser = configparser.ConfigParser(interpolation=None)
    parser["server"] = {
        "url": settings.url("wps"),
        "outputurl": settings.url("wps/status/"),
        "outputpath": str(base / "status"),
        "workdir": str(base / "work"),
        "maxrequestsize": f"{max(1, settings.security.max_request_bytes // 1024 // 1024)}mb",
        "maxsingleinputsize": f"{max(1, settings.security.max_request_bytes // 1024 // 1024)}mb",
        "parallelprocesses": "-1",
        "maxprocesses": "-1",
        "language": "en-US",
        "allowedinputpaths": "",
        "cleantempdir": "true",
    }
    parser["processing"] = {"mode": "default"}
    parser["logging"] = {
        "level": "WARNING",
        # pywps' own request log; the job store in the suite database stays the authority.
        "database": f"sqlite:///{base / 'pywps-requests.sqlite'}",
    }
    parser["metadata:main"] = {
        "identification_title": "ogcsdl processing (WPS 1.0.0)",
        "identification_abstract": "Earth-observation processing on the suite's Dask cluster: the same "
        "processes and jobs as its OGC API - Processes endpoint.",
        "identification_keywords": "WPS, Earth observation, Sentinel, processing",
        "provider_name": settings.catalogue.organisation,
        "contact_name": settings.catalogue.contact_name,
        "contact_email": settings.catalogue.contact_email,
        "provider_url": settings.public_url,
    }
    target = settings.generated_dir / "pywps.cfg"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        parser.write(handle)
    return target


def _formats(media_types: Sequence[str]) -> list[Format]:
    """pywps formats of a document input/output; JSON when the description names none."""
    return [Format(media) for media in media_types] or [Format("application/json")]


def pywps_input(item: InputDescription) -> Any:
    if isinstance(item, LiteralInput):
        allowed: Any = [AnyValue()]  # WPS 1.0.0 requires AnyValue when nothing restricts
        if item.allowed_values:
            allowed = list(item.allowed_values)
        elif item.minimum is not None or item.maximum is not None:
            allowed = [
                AllowedValue(
                    allowed_type=ALLOWEDVALUETYPE.RANGE, minval=item.minimum, maxval=item.maximum
                )
            ]
        return PywpsLiteralInput(
            item.id,
            item.title,
            data_type=item.data_type,
            abstract=item.abstract,
            min_occurs=item.min_occurs,
            max_occurs=item.max_occurs,
            default=item.default,
            allowed_values=allowed,
        )
    if isinstance(item, RasterInput):
        return ReferenceOnlyInput(
            item.id,
            item.title,
            supported_formats=[PRODUCT_ID_FORMAT, GEOTIFF_FORMAT, TIFF_FORMAT],
            abstract=(item.abstract + " " if item.abstract else "")
            + "By reference: a GeoTIFF/COG or WCS GetCoverage URL. By value (text/plain): a catalogue product id.",
            min_occurs=item.min_occurs,
            max_occurs=item.max_occurs,
        )
    if isinstance(item, BoundingBoxInput):
        return PywpsBBoxInput(
            item.id,
            item.title,
            crss=list(item.crs),
            abstract=item.abstract,
            min_occurs=item.min_occurs,
            max_occurs=item.max_occurs,
        )
    assert isinstance(item, ComplexInput)
    return ReferenceOnlyInput(
        item.id,
        item.title,
        supported_formats=_formats(item.media_types),
        abstract=item.abstract,
        min_occurs=item.min_occurs,
        max_occurs=item.max_occurs,
    )


def pywps_output(item: OutputDescription) -> Any:
    if isinstance(item, RasterOutput):
        return PywpsComplexOutput(
            item.id,
            item.title,
            supported_formats=[GEOTIFF_FORMAT],
            abstract=item.abstract,
            as_reference=True,
        )
    if isinstance(item, LiteralOutput):
        return PywpsLiteralOutput(
            item.id, item.title, data_type=item.data_type, abstract=item.abstract
        )
    return PywpsComplexOutput(
        item.id,
        item.title,
        supported_formats=_formats(item.media_types),
        abstract=item.abstract,
    )

"""The ``/wcs`` WSGI factory: WCS 2.0.1 over the product store (KVP GET and XML POST).
Errors are raised; the gateway's edge renders them as OWS 2.0 ExceptionReports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.coverages.coverage import Coverage, coverage_of
from ogcsdl.coverages.documents import capabilities, describe, describe_eo_coverage_set
from ogcsdl.coverages.eo import DescribeEOCoverageSetRequest, select
from ogcsdl.coverages.errors import NoSuchCoverage
from ogcsdl.coverages.getcoverage import get_coverage
from ogcsdl.coverages.request import (
    CapabilitiesRequest,
    DescribeRequest,
    WcsRequest,
    parse_kvp,
    parse_xml,
)
from ogcsdl.coverages.timeseries import TimeSeries, get_series_coverage, time_series
from ogcsdl.errors import NotFound

StartResponse = Callable[..., Any]


class WcsApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = product_store(settings)

    def coverage(self, identifier: str) -> Coverage | TimeSeries:
        """A product's coverage, or a collection's time series (collection ids)."""
        try:
            return coverage_of(self.store.get(identifier))
        except NotFound:
            members = self.store.list(collection=identifier)
            if not members:
                raise NoSuchCoverage(f"no coverage {identifier!r}", "coverageId") from None
            return time_series(identifier, members)

    def served_records(self) -> list[ProductRecord]:
        """Records with data on this server: metadata-only records (harvested from
        elsewhere, or whose file is gone) are in the catalogue but are no coverages."""
        return [r for r in self.store.list() if r.file_path and Path(r.file_path).is_file()]

    def handle(self, request: WcsRequest) -> tuple[bytes, str, list[tuple[str, str]]]:
        if isinstance(request, CapabilitiesRequest):
            return capabilities(self.settings, self.served_records()), "application/xml", []
        if isinstance(request, DescribeRequest):
            found = [self.coverage(identifier) for identifier in request.coverage_ids]
            return describe(found, self.settings), "application/xml", []
        if isinstance(request, DescribeEOCoverageSetRequest):
            chosen = select(request, self.served_records())
            members = [coverage_of(record) for record in chosen.coverages]
            document = describe_eo_coverage_set(self.settings, request, chosen, members)
            return document, "application/xml", []
        target = self.coverage(request.coverage_id)
        if isinstance(target, TimeSeries):
            result = get_series_coverage(self.settings, target, request)
        else:
            result = get_coverage(self.settings, target, request)
        disposition = ("Content-Disposition", f'inline; filename="{result.filename}"')
        return result.body, result.media_type, [disposition]

    def parse(self, environ: dict[str, Any]) -> WcsRequest:
        if environ.get("REQUEST_METHOD", "GET").upper() == "POST":
            # The gateway's edge bounded the body and gave a chunked one its length.
            length = int(environ.get("CONTENT_LENGTH") or 0)
            return parse_xml(environ["wsgi.input"].read(length))
        return parse_kvp(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body, media_type, headers = self.handle(self.parse(environ))
        start_response(
            "200 OK",
            [("Content-Type", media_type), ("Content-Length", str(len(body))), *headers],
        )
        return [body]


def make_app(settings: Settings) -> WcsApp:
    return WcsApp(settings)

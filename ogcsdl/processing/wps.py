"""WPS 1.0.0 through pywps, executed by our Dask runner and recorded in our job store.

pywps parses requests (KVP and XML POST) and renders every document. Execution does
not use pywps' processing modes: :class:`JobBackedProcess` overrides
``_execute_process`` to start a job through :class:`~ogcsdl.jobs.executor.JobRunner`
(the pywps request uuid becomes the job id). Asynchronous requests
(``storeExecuteResponse=true``) answer at once with a ``statusLocation`` of
``/wps/status/<job id>.xml``, which this app renders on every GET from the job store —
pywps writes no status files, so a job dismissed through ``/ogcapi/jobs`` shows here too.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pywps.configuration
from lxml import etree
from pywps import Process, WPSRequest
from pywps import exceptions as wps_errors
from pywps.response.execute import ExecuteResponse
from pywps.response.status import WPS_STATUS
from werkzeug.wrappers import Response

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import Settings
from ogcsdl.errors import MissingParameterValue, NotFound, OgcsdlError
from ogcsdl.jobs.executor import JobRunner, job_runner
from ogcsdl.jobs.outputs import JobOutput
from ogcsdl.jobs.publishing import output_url
from ogcsdl.jobs.store import ACCEPTED, DISMISSED, FAILED, RUNNING, SUCCESSFUL, Job
from ogcsdl.processing.wps_bbox import request_boxes, to_xy
from ogcsdl.processing.wps_build import pywps_input, pywps_output, write_pywps_config
from ogcsdl.processing.wps_reading import WORKDIRS_KEY, CheckedService, normalise_output_kvp
from ogcsdl.security.identity import job_owner, may_access_job
from processes.base import ProcessDescription, RasterInput

LOG = logging.getLogger(__name__)
_STATUS_PATH = re.compile(r"^/status/([0-9a-fA-F-]{36})\.xml$")
_ACCEPTED_PERCENT = re.compile(r'<wps:ProcessAccepted percentCompleted="[^"]*">')
_WPS_NS = "http://www.opengis.net/wps/1.0.0"
_OWS_NS = "http://www.opengis.net/ows/1.1"
_USER_ERRORS = ("InvalidParameterValue", "MissingParameterValue", "NoSuchProcess")


def _pywps_error(error: OgcsdlError) -> wps_errors.NoApplicableCode:
    """Our error as the pywps exception that renders the same OWS ExceptionReport."""
    if isinstance(error, MissingParameterValue):
        return wps_errors.MissingParameterValue(error.message, error.locator or "")
    if error.status < 500:
        return wps_errors.InvalidParameterValue(error.message, error.locator or "")
    exc = wps_errors.NoApplicableCode(error.message, error.locator or "", code=error.status)
    return exc


class JobExecuteResponse(ExecuteResponse):
    """pywps' Execute response, failing with the job's own exception code."""

    error_code = "NoApplicableCode"

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = super().json
        for entry in data.get("outputs", []):
            # pywps renders Python booleans as "True"/"False"; xs:boolean is lower case.
            if entry.get("type") == "literal" and isinstance(entry.get("data"), bool):
                entry["data"] = "true" if entry["data"] else "false"
        return data

    def _construct_doc(self) -> tuple[Any, str]:
        doc, mimetype = super()._construct_doc()
        if not isinstance(doc, str):
            return doc, mimetype
        # pywps writes Python booleans into lineage OutputDefinitions (asReference="False").
        doc = doc.replace('asReference="False"', 'asReference="false"').replace(
            'asReference="True"', 'asReference="true"'
        )
        if self.status == WPS_STATUS.ACCEPTED:
            # pywps' template gives ProcessAccepted a percentCompleted the schema forbids.
            doc = _ACCEPTED_PERCENT.sub("<wps:ProcessAccepted>", doc)
        elif self.status == WPS_STATUS.FAILED:
            doc = self._schema_valid_failure(doc)
        return doc, mimetype

    def _schema_valid_failure(self, doc: str) -> str:
        """pywps writes ``wps:ExceptionReport`` with a fixed code; WPS 1.0.0 wants an
        ``ows:ExceptionReport`` (version 1.0.0) carrying the job's real code."""
        tree = etree.fromstring(
            doc.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True)
        )
        failed = tree.find(f"{{{_WPS_NS}}}Status/{{{_WPS_NS}}}ProcessFailed")
        if failed is None:
            return doc
        for child in list(failed):
            failed.remove(child)
        report = etree.SubElement(failed, f"{{{_OWS_NS}}}ExceptionReport", version="1.0.0")
        exception = etree.SubElement(
            report, f"{{{_OWS_NS}}}Exception", exceptionCode=self.error_code
        )
        etree.SubElement(exception, f"{{{_OWS_NS}}}ExceptionText").text = self.message
        return str(etree.tostring(tree, xml_declaration=True, encoding="UTF-8").decode("utf-8"))


class _Backend:
    """Shared by every copy pywps makes of a process (it deep-copies per request)."""

    def __init__(self, settings: Settings, runner: JobRunner) -> None:
        self.settings, self.runner = settings, runner

    def __deepcopy__(self, memo: dict[int, Any]) -> _Backend:
        return self


class JobBackedProcess(Process):
    def __init__(self, description: ProcessDescription, backend: _Backend) -> None:
        super().__init__(
            handler=self._not_used,
            identifier=description.id,
            title=description.title,
            abstract=description.abstract,
            # No keywords: pywps would write ows:Keywords into ProcessBrief, which the
            # WPS 1.0.0 schema does not allow there (OGC API - Processes lists them).
            keywords=[],
            version=description.version,
            inputs=[pywps_input(item) for item in description.inputs],
            outputs=[pywps_output(item) for item in description.outputs],
            store_supported=True,
            status_supported=True,
        )
        self.description = description
        self.backend = backend

    @staticmethod
    def _not_used(request: Any, response: Any) -> None:
        raise RuntimeError("jobs run on the Dask cluster, not in the pywps handler")

    def raw_inputs(self, wps_request: WPSRequest) -> dict[str, Any]:
        """pywps input objects -> the interface-neutral raw inputs of the job store."""
        kinds = {item.id: item for item in self.description.inputs}
        raw: dict[str, Any] = {}
        for name, values in wps_request.inputs.items():
            converted: list[Any] = []
            boxes = request_boxes(wps_request, name)
            for index, value in enumerate(values):
                if getattr(value, "as_reference", False) or getattr(value, "prop", None) == "url":
                    converted.append({"href": value.url})
                elif value.__class__.__name__ == "BoundingBoxInput":
                    coords, crs = (
                        boxes[index] if index < len(boxes) else (list(value.data), value.crs)
                    )
                    converted.append({"bbox": to_xy([float(c) for c in coords], crs), "crs": crs})
                elif isinstance(kinds.get(name), RasterInput):
                    converted.append(str(value.data).strip())
                elif value.__class__.__name__ == "ComplexInput":
                    converted.append(_maybe_json(value.data))
                else:
                    converted.append(value.data)
            item = kinds.get(name)
            raw[name] = converted if item is not None and item.max_occurs > 1 else converted[0]
        return raw

    def _execute_process(
        self, async_: bool, wps_request: WPSRequest, wps_response: ExecuteResponse
    ) -> Any:
        runner = self.backend.runner
        # storeExecuteResponse=true means "answer now, store the result at statusLocation"
        # (WPS 1.0.0 §10.2.2), with or without status=true.
        respond_async = wps_request.store_execute == "true"
        try:
            job = runner.start(
                self.identifier,
                self.raw_inputs(wps_request),
                "wps",
                request=json.loads(wps_request.json),
                owner=job_owner(getattr(wps_request.http_request, "environ", {}) or {}),
            )
        except OgcsdlError as exc:
            raise _pywps_error(exc) from None
        if respond_async:
            return render_status(self, wps_request, job, self.backend.settings)
        job = runner.wait(job.job_id)
        if job.status == FAILED and job.error_code in _USER_ERRORS:
            raise wps_errors.InvalidParameterValue(job.error or job.message, "")
        if wps_request.raw and job.status == SUCCESSFUL:
            return raw_output(job, wps_request, self.backend.settings)
        return render_status(self, wps_request, job, self.backend.settings)


def _maybe_json(data: Any) -> Any:
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    if isinstance(data, str):
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            return data
    return data


def render_status(
    process: JobBackedProcess, wps_request: WPSRequest, job: Job, settings: Settings
) -> Response:
    """The Execute response document of ``job`` as it stands in the store."""
    process._set_uuid(job.job_id)
    process.setup_outputs_from_wps_request(wps_request)
    response = JobExecuteResponse(wps_request, process=process, uuid=job.job_id)
    response.store_status_file = wps_request.store_execute == "true"  # adds statusLocation
    response.status_percentage = job.progress
    response.message = job.message
    if job.status == ACCEPTED:
        response.status = WPS_STATUS.ACCEPTED
    elif job.status == RUNNING:
        response.status = WPS_STATUS.STARTED
    elif job.status == SUCCESSFUL:
        response.status = WPS_STATUS.SUCCEEDED
        _fill_outputs(response, job, settings)
    else:
        response.status = WPS_STATUS.FAILED
        response.error_code = (
            "NoApplicableCode"
            if job.status == DISMISSED
            else (job.error_code or "NoApplicableCode")
        )
        response.message = "dismissed" if job.status == DISMISSED else (job.error or job.message)
    response.doc, _ = response._construct_doc()
    return Response(response.doc, mimetype="text/xml")


def _fill_outputs(response: ExecuteResponse, job: Job, settings: Settings) -> None:
    """Put the job's outputs into ``response``. An output the job did not produce (an
    optional literal left empty) is left out of the document, not written as "None";
    an output requested by reference always gets a URL this suite serves."""
    produced = job.outputs or {}
    for name in list(response.outputs):
        output = produced.get(name)
        target = response.outputs[name]
        if output is None or _is_empty(output):
            del response.outputs[name]
            continue
        if output.kind == "raster" and not target.as_reference:
            # asReference="false": small rasters travel in the document (pywps encodes
            # the COG bytes as base64); larger ones stay references, never a huge document.
            path = Path(product_store(settings).get(str(output.product_id)).file_path)
            if path.stat().st_size <= settings.processing.inline_output_max_bytes:
                target.data = path.read_bytes()
                continue
        if output.by_reference or getattr(target, "as_reference", False):
            target.as_reference = True
            target.url = output.href or output_url(settings, job.job_id, name)
        elif output.kind == "complex":
            value = output.value
            target.data = value if isinstance(value, str) else json.dumps(value)
        else:
            target.data = output.value


def _is_empty(output: JobOutput) -> bool:
    return output.kind != "raster" and not output.file and output.value is None


def raw_output(job: Job, wps_request: WPSRequest, settings: Settings) -> Response:
    """RawDataOutput: the bytes of the one requested output."""
    wanted = next(iter(wps_request.outputs), None)
    outputs = job.outputs or {}
    output = outputs.get(wanted) if wanted else next(iter(outputs.values()), None)
    if output is None:
        raise wps_errors.InvalidParameterValue(f"no output {wanted!r}", "RawDataOutput")
    if output.kind == "raster":
        record = product_store(settings).get(str(output.product_id))
        return Response(Path(record.file_path).read_bytes(), mimetype="image/tiff")
    if output.file:
        return Response(Path(output.file).read_bytes(), mimetype=output.media_type)
    value = output.value
    if output.kind == "complex":
        body = value if isinstance(value, str) else json.dumps(value)
        return Response(body, mimetype=output.media_type or "application/json")
    return Response(str(value), mimetype="text/plain")


_loaded_config: str | None = None  # the pywps.cfg pywps' process-global configuration holds


class WpsApp:
    """``/wps``: pywps for the protocol plus ``/wps/status/<job id>.xml``."""

    def __init__(self, settings: Settings, runner: JobRunner | None = None) -> None:
        self.settings = settings
        self.runner = runner or job_runner(settings)
        self.config_file = write_pywps_config(settings)
        self._use_our_configuration()
        backend = _Backend(settings, self.runner)
        self.processes = {
            d.id: JobBackedProcess(d, backend) for d in self.runner.registry.descriptions()
        }
        self.service = CheckedService(
            processes=list(self.processes.values()), cfgfiles=[str(self.config_file)]
        )

    def _use_our_configuration(self) -> None:
        """pywps keeps one configuration per process and reads ``$PYWPS_CFG`` after the
        files it is given (and copies a request's config path there): a pywps.cfg named
        in the environment (a user's own, or another app's in the same process) overrode
        ours, URLs included. Point both at ours before each request."""
        global _loaded_config
        ours = str(self.config_file)
        if os.environ.get("PYWPS_CFG") != ours or _loaded_config != ours:
            os.environ["PYWPS_CFG"] = ours
            pywps.configuration.load_configuration([ours])
            _loaded_config = ours

    def status_document(self, job_id: str, environ: dict[str, Any] | None = None) -> Response:
        try:
            job = self.runner.store.get(job_id)
            if not may_access_job(environ or {}, job.owner):  # another user's job
                raise NotFound(job_id)
        except NotFound:
            return Response(
                wps_errors.InvalidParameterValue(f"no job {job_id}", "jobId").get_body(),
                404,
                mimetype="text/xml",
            )
        if job.interface != "wps" or not job.request or job.process_id not in self.processes:
            return Response(
                wps_errors.InvalidParameterValue(
                    f"job {job_id} was not submitted through WPS", "jobId"
                ).get_body(),
                404,
                mimetype="text/xml",
            )
        wps_request = WPSRequest()
        wps_request.restore_json(job.request)
        process = copy.deepcopy(self.processes[job.process_id])
        return render_status(process, wps_request, job, self.settings)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        self._use_our_configuration()
        match = _STATUS_PATH.match(environ.get("PATH_INFO", ""))
        if match and environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD"):
            return self.status_document(match.group(1), environ)(environ, start_response)
        environ["QUERY_STRING"] = normalise_output_kvp(environ.get("QUERY_STRING", ""))
        try:
            # pywps renders the whole answer (documents, raw outputs) in this call, so
            # the request's work directories are no longer needed when it returns.
            result: Iterable[bytes] = self.service(environ, start_response)
        finally:
            for workdir in environ.pop(WORKDIRS_KEY, []):
                shutil.rmtree(workdir, ignore_errors=True)
        return result


def make_app(settings: Settings) -> WpsApp:
    return WpsApp(settings)

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
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pywps.configuration
from lxml import etree
from pywps import Process, Service, WPSRequest
from pywps import exceptions as wps_errors
from pywps.inout.literaltypes import register_convert_type
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
from ogcsdl.security.identity import job_owner, may_access_job
from processes.base import ProcessDescription, RasterInput

LOG = logging.getLogger(__name__)
_STATUS_PATH = re.compile(r"^/status/([0-9a-fA-F-]{36})\.xml$")
_ACCEPTED_PERCENT = re.compile(r'<wps:ProcessAccepted percentCompleted="[^"]*">')
_WPS_NS = "http://www.opengis.net/wps/1.0.0"
_OWS_NS = "http://www.opengis.net/ows/1.1"
_USER_ERRORS = ("InvalidParameterValue", "MissingParameterValue", "NoSuchProcess")
WORKDIRS_KEY = "ogcsdl.wps.workdirs"  # environ: pywps work directories of the request


@register_convert_type("float")
def _finite_float(value: Any) -> float:
    """pywps' float literal, refusing NaN and infinities (``1e400``) as a ValueError,
    which pywps answers with InvalidParameterValue."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


@register_convert_type("integer")
def _bounded_integer(value: Any) -> int:
    """pywps' integer literal (``int(float(x))``) without its OverflowError (a 500)."""
    if len(str(value)) > 64:
        raise ValueError("an integer literal has more than 64 characters")
    return int(_finite_float(value))


@register_convert_type("boolean")
def _strict_boolean(value: Any) -> bool:
    """pywps' boolean literal read as XML Schema's (true, false, 1, 0): pywps took any
    other text but "false"/"f" as true (booleanInput=maybe ran with true), where OGC API
    - Processes refuses it. A ValueError is pywps' InvalidParameterValue."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"{value!r} is not a boolean (true, false, 1 or 0)")


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


# What pywps raises on a request it cannot read (and answers with a 500): an Execute
# root in another namespace (AttributeError), ``DataInputs=stringInput`` without a value
# (a string where it expects a dict), a bounding box of ``a,b,c,d`` or without corners.
_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, IndexError)


class CheckedService(Service):
    """pywps' Service refusing what it would run wrongly or answer with a 500: inputs the
    process does not declare (pywps drops them silently, so a misspelt input id would run
    the process without it), requests and input values it cannot read, and units of
    measure an input does not declare (pywps keeps the text and fails on it later)."""

    def call(self, http_request: Any) -> Any:
        try:  # parsing has no side effects (references are fetched when the job runs)
            WPSRequest(http_request, self.preprocessors)
        except _UNREADABLE:
            return wps_errors.InvalidParameterValue(
                "the request is not a WPS 1.0.0 request this service can read "
                "(GetCapabilities, DescribeProcess or Execute, KVP or XML in the "
                "http://www.opengis.net/wps/1.0.0 namespace)",
                "request",
            )
        except Exception:  # noqa: BLE001, S110 - pywps answers its own errors below
            pass
        return super().call(http_request)

    def execute(self, identifier: str, wps_request: WPSRequest, uuid: Any) -> Any:
        """pywps' execute, noting the work directory it makes for the request: pywps
        removes it only in its own process runner, which jobs do not use, so every
        Execute (refused ones too) left an empty ``pywps_process_*`` directory behind.
        :meth:`WpsApp.__call__` removes it once the answer is rendered."""
        self._set_grass()
        process = self.prepare_process_for_execution(identifier)
        environ = getattr(wps_request.http_request, "environ", None)
        if isinstance(environ, dict):
            environ.setdefault(WORKDIRS_KEY, []).append(process.workdir)
        return self._parse_and_execute(process, wps_request, uuid)

    def create_literal_inputs(self, source: Any, inputs: Any) -> Any:
        declared = {uom.uom: uom for uom in source.uoms}
        checked = []
        for inpt in inputs:
            if not isinstance(inpt, dict):
                raise wps_errors.InvalidParameterValue(
                    f"input {source.identifier!r} has no value (write {source.identifier}=value)",
                    source.identifier,
                )
            uom = inpt.get("uom")
            if uom:
                if uom not in declared:
                    raise wps_errors.InvalidParameterValue(
                        f"input {source.identifier!r} has no unit of measure {uom!r}",
                        source.identifier,
                    )
                inpt = {**inpt, "uom": declared[uom]}
            checked.append(inpt)
        return self._readable(source, super().create_literal_inputs, checked)

    def create_bbox_inputs(self, source: Any, inputs: Any) -> Any:
        return self._readable(source, super().create_bbox_inputs, inputs)

    def create_complex_inputs(self, source: Any, inputs: Any) -> Any:
        return self._readable(source, super().create_complex_inputs, inputs)

    @staticmethod
    def _readable(source: Any, create: Callable[[Any, Any], Any], inputs: Any) -> Any:
        try:
            return create(source, inputs)
        except _UNREADABLE:
            raise wps_errors.InvalidParameterValue(
                f"input {source.identifier!r} has a value this process cannot read",
                source.identifier,
            ) from None

    def _parse_and_execute(self, process: Process, wps_request: WPSRequest, uuid: Any) -> Any:
        declared = {item.identifier for item in process.inputs}
        for name in wps_request.inputs:
            if name and name not in declared:  # "DataInputs=" is pywps' MissingParameterValue
                raise wps_errors.InvalidParameterValue(
                    f"process {process.identifier!r} has no input {name!r}", name
                )
        return super()._parse_and_execute(process, wps_request, uuid)


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


_OUTPUT_KVP = re.compile(r"(?i)^(responsedocument|rawdataoutput)$")


def normalise_output_kvp(query: str) -> str:
    """``ResponseDocument=out@asReference=true`` (WPS 1.0.0, 10.2.2.2) -> ``out=@...``.

    pywps 4.8.1 splits each output as ``id=value@attr=...`` and drops the attributes of
    an output written, as the standard writes it, without ``=``. Only the output
    parameters are touched, on the raw query string, so no other value is re-encoded."""
    parts = query.split("&")
    for index, part in enumerate(parts):
        key, eq, value = part.partition("=")
        if not eq or not _OUTPUT_KVP.match(key):
            continue
        items = []
        for item in value.split(";"):
            head, at, rest = unquote(item).partition("@")
            items.append(
                quote(f"{head}={at}{rest}", safe="@=;:/") if at and "=" not in head else item
            )
        parts[index] = f"{key}={';'.join(items)}"
    return "&".join(parts)


def make_app(settings: Settings) -> WpsApp:
    return WpsApp(settings)

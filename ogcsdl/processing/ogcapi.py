"""OGC API - Processes 1.0 (Core, JSON, job list, dismiss) as a small WSGI app.

Mounted at ``/ogcapi``. Execution is synchronous unless the request says
``Prefer: respond-async`` (201 + ``Location`` of the job). Errors are raised; the
gateway's edge renders them as problem JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ogcsdl import safe_json
from ogcsdl.config import Settings
from ogcsdl.errors import (
    InvalidParameterValue,
    MethodNotAllowed,
    MissingParameterValue,
    NotFound,
    OgcsdlError,
    OperationNotSupported,
)
from ogcsdl.jobs.executor import JobRunner, job_runner
from ogcsdl.jobs.store import FAILED, SUCCESSFUL, Job, NoSuchJob
from ogcsdl.processing.describe import (
    process_document,
    process_summary,
    results_document,
    status_info,
)
from ogcsdl.security.identity import job_owner, may_access_job, owner_filter

JSON = "application/json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
]


class ResultNotReady(OgcsdlError):
    code = "result-not-ready"
    status = 404


class NoSuchOutput(NotFound):
    code = "no-such-output"


def job_error(job: Job) -> OgcsdlError:
    """The error a failed job reports; user mistakes stay 4xx."""
    message = job.error or job.message
    if job.error_code == "MissingParameterValue":
        return MissingParameterValue(message)
    if job.error_code in ("InvalidParameterValue", "NoSuchProcess"):
        return InvalidParameterValue(message)
    return OgcsdlError(message)


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(document, default=str), status=status, mimetype=JSON, headers=headers
    )


class ProcessesApp:
    def __init__(self, settings: Settings, runner: JobRunner | None = None) -> None:
        self.settings = settings
        self.runner = runner or job_runner(settings)
        self.routes = Map(
            [
                Rule("/", endpoint="landing", methods=["GET"]),
                Rule("/conformance", endpoint="conformance", methods=["GET"]),
                Rule("/processes", endpoint="processes", methods=["GET"]),
                Rule("/processes/<process_id>", endpoint="process", methods=["GET"]),
                Rule("/processes/<process_id>/execution", endpoint="execute", methods=["POST"]),
                Rule("/jobs", endpoint="jobs", methods=["GET"]),
                Rule("/jobs/<job_id>", endpoint="job", methods=["GET"]),
                Rule("/jobs/<job_id>", endpoint="dismiss", methods=["DELETE"]),
                Rule("/jobs/<job_id>/results", endpoint="results", methods=["GET"]),
                Rule("/jobs/<job_id>/results/<output_id>", endpoint="result", methods=["GET"]),
            ],
            strict_slashes=False,
        )

    # Endpoints -------------------------------------------------------------------
    def landing(self, request: Request) -> Response:
        base = self.settings.url("ogcapi")
        return _json(
            {
                "title": "ogcsdl processing (OGC API - Processes)",
                "links": [
                    {"href": base, "rel": "self", "type": JSON},
                    {
                        "href": f"{base}/conformance",
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance",
                        "type": JSON,
                    },
                    {
                        "href": f"{base}/processes",
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/processes",
                        "type": JSON,
                    },
                    {
                        "href": f"{base}/jobs",
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list",
                        "type": JSON,
                    },
                ],
            }
        )

    def conformance(self, request: Request) -> Response:
        return _json({"conformsTo": CONFORMANCE})

    def processes(self, request: Request) -> Response:
        summaries = [process_summary(d, self.settings) for d in self.runner.registry.descriptions()]
        url = self.settings.url("ogcapi/processes")
        return _json(
            {"processes": summaries, "links": [{"href": url, "rel": "self", "type": JSON}]}
        )

    def process(self, request: Request, process_id: str) -> Response:
        description = self.runner.registry.get(process_id).description
        return _json(process_document(description, self.settings))

    def execute(self, request: Request, process_id: str) -> Response:
        self.runner.registry.get(process_id)  # 404 for an unknown process before parsing
        body = self._body(request)
        inputs = body.get("inputs", {})
        if not isinstance(inputs, dict):
            raise InvalidParameterValue("'inputs' must be an object of input id -> value", "inputs")
        raw = {name: self._unqualify(value) for name, value in inputs.items()}
        respond_async = "respond-async" in request.headers.get("Prefer", "")
        job = self.runner.start(
            process_id,
            raw,
            "ogcapi",
            request={"response": body.get("response", "document")},
            owner=job_owner(request.environ),
        )
        if respond_async:
            location = self.settings.url(f"ogcapi/jobs/{job.job_id}")
            headers = {"Location": location, "Preference-Applied": "respond-async"}
            return _json(status_info(job, self.settings), status=201, headers=headers)
        job = self.runner.wait(job.job_id)
        if job.status == FAILED:
            raise job_error(job)
        if job.status != SUCCESSFUL:
            raise OgcsdlError(f"job {job.job_id} is {job.status}; follow it at /jobs/{job.job_id}")
        headers = {"Location": self.settings.url(f"ogcapi/jobs/{job.job_id}")}
        return _json(results_document(job), headers=headers)

    def jobs(self, request: Request) -> Response:
        try:
            limit = max(1, min(1000, int(request.args.get("limit", "100"))))
        except ValueError:
            raise InvalidParameterValue("limit must be an integer", "limit") from None
        owner = owner_filter(request.environ)  # a user sees only their own jobs
        jobs = [
            status_info(job, self.settings)
            for job in self.runner.store.list(limit=limit, owner=owner)
        ]
        url = self.settings.url("ogcapi/jobs")
        return _json({"jobs": jobs, "links": [{"href": url, "rel": "self", "type": JSON}]})

    def job(self, request: Request, job_id: str) -> Response:
        return _json(status_info(self._owned(request, job_id), self.settings))

    def dismiss(self, request: Request, job_id: str) -> Response:
        self._owned(request, job_id)
        return _json(status_info(self.runner.dismiss(job_id), self.settings))

    def results(self, request: Request, job_id: str) -> Response:
        job = self._finished(request, job_id)
        return _json(results_document(job))

    def result(self, request: Request, job_id: str, output_id: str) -> Response:
        job = self._finished(request, job_id)
        output = (job.outputs or {}).get(output_id)
        if output is None:
            raise NoSuchOutput(f"job {job_id} has no output {output_id!r}", "outputId")
        if output.file:
            return Response(Path(output.file).read_bytes(), mimetype=output.media_type)
        if output.kind == "raster":
            return Response(status=303, headers={"Location": str(output.href)})
        return _json(output.value)

    # Helpers ---------------------------------------------------------------------
    def _owned(self, request: Request, job_id: str) -> Job:
        """The job, if this caller may see it; another user's job is "not found"."""
        job = self.runner.store.get(job_id)
        if not may_access_job(request.environ, job.owner):
            raise NoSuchJob(f"no job with id {job_id!r}", locator="jobId")
        return job

    def _finished(self, request: Request, job_id: str) -> Job:
        job = self._owned(request, job_id)
        if job.status == FAILED:
            raise job_error(job)
        if job.status != SUCCESSFUL:
            raise ResultNotReady(f"job {job_id} is {job.status}; its results are not ready")
        return job

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        return safe_json.loads_object(request.get_data(cache=False))

    @staticmethod
    def _unqualify(value: Any) -> Any:
        """``{"value": v, "mediaType": ...}`` -> v; hrefs and bboxes pass unchanged."""
        if isinstance(value, list):
            return [ProcessesApp._unqualify(v) for v in value]
        if isinstance(value, dict) and "value" in value and "href" not in value:
            return value["value"]
        return value

    # WSGI --------------------------------------------------------------------------
    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        # The gateway's edge bounded the body and renders what is raised here.
        request = Request(environ)
        try:
            endpoint, args = self.routes.bind_to_environ(environ).match()
        except HTTPException as exc:
            raise _routing_error(exc) from None
        response = getattr(self, endpoint)(request, **args)
        return response(environ, start_response)


def _routing_error(exc: HTTPException) -> OgcsdlError:
    """werkzeug's routing answer (404, 405) as our error."""
    if exc.code == 404:
        return NotFound("no such resource; see /ogcapi for the links")
    allowed = getattr(exc, "valid_methods", None)  # werkzeug's MethodNotAllowed
    if exc.code == 405 and allowed:
        return MethodNotAllowed(exc.description or "method not allowed", tuple(sorted(allowed)))
    error = OperationNotSupported(exc.description or "not supported")
    error.status = exc.code or 400
    return error


def make_app(settings: Settings) -> ProcessesApp:
    return ProcessesApp(settings)

"""What pywps reads from a WPS 1.0.0 request, checked before anything runs.

pywps 4.8.1 parses KVP and XML requests and converts literal values itself; where it
would run a request wrongly or answer a client's mistake with a 500, the pieces here
refuse it with pywps' own InvalidParameterValue (so pywps renders the ExceptionReport):

- literal converters registered with pywps for ``float``, ``integer`` and ``boolean``
  (NaN/infinity, overflowing integers, booleans other than true/false/1/0);
- :class:`CheckedService`: requests pywps cannot read, undeclared inputs and units of
  measure, and the work directory pywps leaves behind per Execute;
- :func:`normalise_output_kvp`: output attributes written as WPS 1.0.0 writes them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from pywps import Process, Service, WPSRequest
from pywps import exceptions as wps_errors
from pywps.inout.literaltypes import register_convert_type

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

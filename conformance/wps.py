"""WPS 1.0.0 job-lifecycle checks, runnable against any WPS endpoint that offers an
``echo`` process echoing a literal ``stringInput`` as ``stringOutput`` (ours: ``<base>/wps``).

Each check is ``check_x(wps_url, session) -> (passed, reason)``; ``CHECKS`` lists them.
They are also registered with :mod:`conformance.runner`, so
``ogcsdl conformance BASE_URL --only wps`` (or ``ogcapi_processes``) runs them.
Responses are validated against the OGC WPS 1.0.0 schemas when the schema directory is
available (``OGCSDL_SCHEMAS``, default ``../shared/schemas``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import requests
from lxml import etree

from conformance.runner import register_endpoint_checks
from conformance.schemas import shared_schemas_dir

Result = tuple[bool, str]
Check = Callable[[str, requests.Session], Result]

WPS = "http://www.opengis.net/wps/1.0.0"
OWS = "http://www.opengis.net/ows/1.1"
NS = {"wps": WPS, "ows": OWS, "xlink": "http://www.w3.org/1999/xlink"}
PROCESS = "echo"
INPUT = "stringInput"  # echo: stringInput -> stringOutput
OUTPUT = "stringOutput"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class _LocalSchemas(etree.Resolver):
    """Serve schemas.opengis.net and w3.org schema imports from the local copies."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.prefixes = {
            "http://schemas.opengis.net/ows/1.1.0/": root / "common" / "ows" / "1.1.0",
            "http://www.w3.org/1999/xlink.xsd": root / "common" / "w3c" / "1999" / "xlink.xsd",
            "http://www.w3.org/2001/xml.xsd": root / "common" / "w3c" / "2001" / "xml.xsd",
            "http://schemas.opengis.net/wps/1.0.0/": root / "wps10" / "opengis" / "wps" / "1.0",
        }

    def resolve(self, url: str | None, pubid: str | None, context: object) -> object:
        for prefix, local in self.prefixes.items():
            if url and url.startswith(prefix):
                target = local if local.suffix == ".xsd" else local / url[len(prefix) :]
                return self.resolve_filename(str(target), context)
        return None


@lru_cache(maxsize=1)
def wps_schema() -> etree.XMLSchema | None:
    root = shared_schemas_dir()
    main = root / "wps10" / "opengis" / "wps" / "1.0" / "wpsAll.xsd"
    if not main.exists():
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parser.resolvers.add(_LocalSchemas(root))
    return etree.XMLSchema(etree.parse(str(main), parser))


def validate(document: bytes) -> list[str]:
    """Schema errors of a WPS 1.0.0 document ([] when valid or no schemas present)."""
    schema = wps_schema()
    if schema is None:
        return []
    tree = etree.fromstring(document, _PARSER)
    if tree.tag == f"{{{OWS}}}ExceptionReport":
        return []  # OWS 1.1 exception reports are checked by their code instead
    if schema.validate(tree):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log][:5]


def _get(
    session: requests.Session, url: str, **params: str
) -> tuple[requests.Response, etree._Element]:
    response = session.get(url, params=params, timeout=60)
    return response, etree.fromstring(response.content, _PARSER)


def _valid(document: bytes, what: str) -> Result | None:
    errors = validate(document)
    return (False, f"{what} is not schema-valid: {errors}") if errors else None


def _exception_code(tree: etree._Element) -> str | None:
    node = tree.find("ows:Exception", NS)
    return None if node is None else node.get("exceptionCode")


def check_capabilities(url: str, session: requests.Session) -> Result:
    response, tree = _get(
        session, url, service="WPS", request="GetCapabilities", acceptversions="1.0.0"
    )
    if response.status_code != 200 or tree.tag != f"{{{WPS}}}Capabilities":
        return False, f"GetCapabilities answered {response.status_code} {tree.tag}"
    offered = [node.text for node in tree.findall(".//wps:Process/ows:Identifier", NS)]
    if PROCESS not in offered:
        return False, f"{PROCESS!r} is not offered (got {offered})"
    return _valid(response.content, "Capabilities") or (True, f"{len(offered)} processes offered")


def check_describe_process(url: str, session: requests.Session) -> Result:
    response, tree = _get(
        session, url, service="WPS", version="1.0.0", request="DescribeProcess", identifier=PROCESS
    )
    description = tree.find("ProcessDescription")
    if response.status_code != 200 or description is None:
        return False, f"DescribeProcess answered {response.status_code} {tree.tag}"
    if description.get("storeSupported") != "true" or description.get("statusSupported") != "true":
        return False, "the process does not support asynchronous execution"
    inputs = [node.text for node in description.findall("DataInputs/Input/ows:Identifier", NS)]
    if INPUT not in inputs:
        return False, f"no {INPUT!r} input (got {inputs})"
    return _valid(response.content, "ProcessDescriptions") or (True, f"inputs {inputs}")


def check_unknown_process(url: str, session: requests.Session) -> Result:
    response, tree = _get(
        session,
        url,
        service="WPS",
        version="1.0.0",
        request="DescribeProcess",
        identifier="no-such-process-x",
    )
    code = _exception_code(tree)
    if response.status_code != 400 or code != "InvalidParameterValue":
        return False, f"expected 400 InvalidParameterValue, got {response.status_code} {code}"
    return True, "400 InvalidParameterValue"


def _literal_output(tree: etree._Element, identifier: str) -> str | None:
    for output in tree.findall(".//wps:ProcessOutputs/wps:Output", NS):
        if output.findtext("ows:Identifier", namespaces=NS) == identifier:
            return output.findtext("wps:Data/wps:LiteralData", namespaces=NS)
    return None


def check_execute_sync_kvp(url: str, session: requests.Session) -> Result:
    response, tree = _get(
        session,
        url,
        service="WPS",
        version="1.0.0",
        request="Execute",
        identifier=PROCESS,
        datainputs=f"{INPUT}=hello",
    )
    if tree.find("wps:Status/wps:ProcessSucceeded", NS) is None:
        return False, f"Execute answered {response.status_code} without ProcessSucceeded"
    if _literal_output(tree, OUTPUT) != "hello":
        return False, f"output {OUTPUT!r} was {_literal_output(tree, OUTPUT)!r}"
    return _valid(response.content, "ExecuteResponse") or (
        True,
        "synchronous KVP Execute succeeded",
    )


EXECUTE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"
    xmlns:ows="http://www.opengis.net/ows/1.1">
  <ows:Identifier>{process}</ows:Identifier>
  <wps:DataInputs>
    <wps:Input><ows:Identifier>{input}</ows:Identifier>
      <wps:Data><wps:LiteralData>{message}</wps:LiteralData></wps:Data></wps:Input>
  </wps:DataInputs>
  <wps:ResponseForm>
    <wps:ResponseDocument storeExecuteResponse="{store}" status="{store}">
      <wps:Output><ows:Identifier>{output}</ows:Identifier></wps:Output>
    </wps:ResponseDocument>
  </wps:ResponseForm>
</wps:Execute>"""


def _post(
    session: requests.Session, url: str, message: str, store: bool
) -> tuple[requests.Response, etree._Element]:
    body = EXECUTE_XML.format(
        process=PROCESS,
        input=INPUT,
        output=OUTPUT,
        message=message,
        store="true" if store else "false",
    )
    response = session.post(
        url, data=body.encode(), headers={"Content-Type": "text/xml"}, timeout=60
    )
    return response, etree.fromstring(response.content, _PARSER)


def check_execute_sync_post(url: str, session: requests.Session) -> Result:
    response, tree = _post(session, url, "posted", store=False)
    if _literal_output(tree, OUTPUT) != "posted":
        return False, f"XML POST Execute answered {response.status_code} without the echoed message"
    return _valid(response.content, "ExecuteResponse") or (
        True,
        "synchronous XML Execute succeeded",
    )


def check_execute_raw(url: str, session: requests.Session) -> Result:
    response = session.get(
        url,
        params={
            "service": "WPS",
            "version": "1.0.0",
            "request": "Execute",
            "identifier": PROCESS,
            "datainputs": f"{INPUT}=raw",
            "RawDataOutput": OUTPUT,
        },
        timeout=60,
    )
    if response.status_code != 200 or response.text.strip() != "raw":
        return False, f"RawDataOutput answered {response.status_code} {response.text[:100]!r}"
    return True, "raw output returned"


def check_execute_async(url: str, session: requests.Session) -> Result:
    response, tree = _post(session, url, "later", store=True)
    location = tree.get("statusLocation")
    if response.status_code != 200 or not location:
        return False, f"asynchronous Execute answered {response.status_code} without statusLocation"
    if (
        tree.find("wps:Status/wps:ProcessAccepted", NS) is None
        and tree.find("wps:Status/wps:ProcessStarted", NS) is None
        and tree.find("wps:Status/wps:ProcessSucceeded", NS) is None
    ):
        return False, "the first response is neither accepted, started nor succeeded"
    invalid = _valid(response.content, "accepted ExecuteResponse")
    if invalid:
        return invalid
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = session.get(location, timeout=30)
        doc = etree.fromstring(status.content, _PARSER)
        if doc.find("wps:Status/wps:ProcessFailed", NS) is not None:
            return False, "the job failed"
        if doc.find("wps:Status/wps:ProcessSucceeded", NS) is not None:
            if _literal_output(doc, OUTPUT) != "later":
                return False, "the stored result lacks the echoed message"
            return _valid(status.content, "status document") or (
                True,
                "accepted -> succeeded via statusLocation",
            )
        time.sleep(0.2)
    return False, "the job did not finish within 60 s"


def check_missing_input(url: str, session: requests.Session) -> Result:
    response, tree = _get(
        session,
        url,
        service="WPS",
        version="1.0.0",
        request="Execute",
        identifier=PROCESS,
        datainputs="",
    )
    code = _exception_code(tree)
    if response.status_code != 400 or code != "MissingParameterValue":
        return False, f"expected 400 MissingParameterValue, got {response.status_code} {code}"
    return True, "400 MissingParameterValue"


CHECKS: list[Check] = [
    check_capabilities,
    check_describe_process,
    check_unknown_process,
    check_execute_sync_kvp,
    check_execute_sync_post,
    check_execute_raw,
    check_execute_async,
    check_missing_input,
]


register_endpoint_checks("WPS 1.0.0", "/wps", CHECKS, __name__)

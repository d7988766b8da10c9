"""The WSGI application gunicorn runs in the catalogue environment: pycsw, hardened.

Like ``pycsw_mappings`` this file runs INSIDE pycsw's interpreter and imports only pycsw
and the standard library. It differs from ``pycsw.wsgi:application`` in three ways:

* the configuration is always ``$PYCSW_CONFIG``: stock pycsw takes ``config=<path>``
  from the query string of any request (and any parameter *containing* "config"),
  letting a client point it at another file;
* an OWS ExceptionReport never travels with ``200 OK``: CSW 2.0.2 answers every
  exception with 200, so the status is taken from the exception code (400 for a
  client's mistake, 404 for an unknown item), as CSW 3.0 does;
* responses are never gzip-compressed (pycsw's gzip path truncates at some levels).
"""

import os
import re

from pycsw import server

CONFIG_PATH = os.environ["PYCSW_CONFIG"]
PYCSW_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(server.__file__)))

_EXCEPTION_CODE = re.compile(rb'<(?:\w+:)?Exception\s[^>]*exceptionCode="([A-Za-z]+)"')
_STATUS_BY_CODE = {
    "NotFound": "404 Not Found",
    "NoApplicableCode": "400 Bad Request",  # pycsw's code for unparsable requests
    "OperationNotSupported": "400 Bad Request",
    "MissingParameterValue": "400 Bad Request",
    "InvalidParameterValue": "400 Bad Request",
    "VersionNegotiationFailed": "400 Bad Request",
    "InvalidUpdateSequence": "400 Bad Request",
    "OptionNotSupported": "400 Bad Request",
}


def _status(status: str, body: bytes) -> str:
    if not status.startswith("200") or b"ExceptionReport" not in body[:400]:
        return status
    match = _EXCEPTION_CODE.search(body)
    code = match.group(1).decode() if match else "NoApplicableCode"
    return _STATUS_BY_CODE.get(code, "400 Bad Request")


def application(environ, start_response):  # type: ignore[no-untyped-def]
    environ["local.app_root"] = PYCSW_ROOT
    environ.pop("HTTP_ACCEPT_ENCODING", None)
    csw = server.Csw(CONFIG_PATH, environ)
    status, contents = csw.dispatch_wsgi()
    if isinstance(contents, str):
        contents = contents.encode("utf-8")
    headers = [
        ("Content-Type", str(csw.contenttype)),
        ("Content-Length", str(len(contents))),
    ]
    start_response(_status(status, contents), headers)
    return [contents]

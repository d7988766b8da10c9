"""Read what is left of a request body after the answer, so a front proxy gets the answer.

The gateway answers many requests without reading their body: access control's 401/403/
429, the edge's 413 for a declared length above ``security.max_request_bytes``, a 404.
gunicorn's sync worker then closes the connection with the body still unread, and Linux
answers unread data with a reset: a proxy still sending the body (nginx, which passes on
a whole buffered body; ``config/nginx-front.conf.template``) gets "broken pipe" and
answers 502 instead of the gateway's exception. So after the answer, a body of declared
length up to ``limit`` is read to its end and dropped (from a buffering proxy that is a
local copy, read at once); a longer one is not read at all, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import IO, Any

from werkzeug.wsgi import ClosingIterator

LOG = logging.getLogger(__name__)

_CHUNK = 64 * 1024


def _drain(stream: IO[bytes], length: int) -> None:
    left = length
    try:
        while left > 0 and (chunk := stream.read(min(_CHUNK, left))):
            left -= len(chunk)
    except Exception:  # noqa: BLE001 - the client went away: nothing left to protect
        LOG.debug("request body not drained", exc_info=True)


class DrainUnreadBody:
    def __init__(self, app: Callable[..., Iterable[bytes]], limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        stream = environ.get("wsgi.input")  # the server's own stream, before any wrapper
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        result = self.app(environ, start_response)
        if stream is None or not 0 < length <= self.limit:
            return result
        return ClosingIterator(result, partial(_drain, stream, length))

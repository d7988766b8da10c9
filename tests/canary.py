"""Loopback HTTP servers for tests: :func:`serving` runs any request handler in a
thread; :func:`canary_server` counts every request it receives: the server under test
must never reach it (SSRF checks), or must reach it exactly as expected (JWKS)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (status, headers, body) for a request path; default: 200 "canary".
Responder = Callable[[str], tuple[int, dict[str, str], bytes]]


@dataclass
class Canary:
    url: str
    hits: list[tuple[str, str, dict[str, str]]] = field(
        default_factory=list
    )  # method, path, headers
    bodies: list[bytes] = field(default_factory=list)  # each request's body (b"" for none)


@contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """``handler`` answering on ``port`` (default: a free one) for the block: its base URL
    (no trailing slash)."""
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    # shutdown() waits for the next poll: 0.5 s by default, at the end of every test
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def canary_server(
    host: str = "127.0.0.1",
    responder: Responder | None = None,
    delay_s: float = 0.0,
    port: int = 0,
) -> Iterator[Canary]:
    canary = Canary("")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            canary.hits.append((self.command, self.path, dict(self.headers)))
            canary.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            status, headers, body = responder(self.path) if responder else (200, {}, b"canary")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for start in range(0, len(body), 1024):
                if delay_s:
                    time.sleep(delay_s)
                self.wfile.write(body[start : start + 1024])

        do_GET = do_POST = do_HEAD = _answer  # noqa: N815 - http.server's naming

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler, host, port) as url:
        canary.url = url
        yield canary

"""The gateway's reverse proxy (``gateway/proxy.py``) to a real HTTP server on loopback:
what it forwards and answers, and that the account's proxy settings never route the
internal hop (requests read ``HTTP_PROXY``/``NO_PROXY`` from the environment for every
request: with ``HTTP_PROXY`` set, the hop to pycsw went to that proxy)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from werkzeug.test import Client

from ogcsdl.errors import ServiceUnavailable
from ogcsdl.gateway.proxy import ReverseProxy
from tests.canary import serving


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        seen = {
            "method": self.command,
            "path": self.path,
            "body": body,
            "content_type": self.headers.get("Content-Type"),
            "accept": self.headers.get("Accept"),
            "accept_encoding": self.headers.get("Accept-Encoding"),
            "custom": self.headers.get("X-Custom"),
        }
        data = json.dumps(seen).encode() * (1 if "small" in self.path else 2000)  # ~270 kB
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream", "echo")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - its name
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serving(_Echo) as url:
        yield f"{url}/base"


def test_proxy_forwards_path_query_body_and_headers_and_streams_the_answer(
    upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy no request can pass: the internal hop must not go there.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = Client(ReverseProxy(upstream, "echo", max_body_bytes=1000))
    response = client.post(
        "/csw/x",
        query_string="small=1&eo:cloudCover=[0,20]&q=a%20b",
        data=b"<a/>",
        content_type="application/xml",
        headers={"X-Custom": "kept", "Accept-Encoding": "gzip"},
    )
    assert response.status_code == 201
    assert response.headers["X-Upstream"] == "echo"
    seen = json.loads(response.get_data())
    assert seen["method"] == "POST"
    assert seen["path"] == "/base/csw/x?small=1&eo:cloudCover=%5B0,20%5D&q=a%20b"
    assert seen["body"] == "<a/>"
    assert seen["content_type"] == "application/xml"
    assert seen["custom"] == "kept"
    assert seen["accept"] == "*/*"
    assert seen["accept_encoding"] in (None, "identity")  # the gateway streams plain bytes

    big = client.get("/big")  # streamed through in chunks, every byte
    assert big.status_code == 201
    body = big.get_data()
    assert len(body) > 4 * 64 * 1024  # several of the proxy's chunks
    assert body == body[: len(body) // 2000] * 2000


def test_proxy_to_nothing_is_service_unavailable() -> None:
    proxy = ReverseProxy("http://127.0.0.1:9", "nothing", max_body_bytes=1000, timeout_s=5)
    with pytest.raises(ServiceUnavailable, match="nothing service is not available"):
        Client(proxy).get("/csw")

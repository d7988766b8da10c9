"""Run STAC validators offline: JSON schema URLs are answered from the vendored copies in
``tests/data/stac-schemas`` (``<host>/<path>``), and any other connection that leaves
the machine is refused and recorded, so a test can prove nothing went out.

stac-validator and stac-check fetch schemas with ``requests``; pystac reads with
``urllib``. Both end in a socket ``connect``, which is where the refusal sits; schema
hosts are answered before that, at the ``requests`` transport adapter and at urllib's
opener."""

from __future__ import annotations

import io
import ipaddress
import socket
import urllib.error
import urllib.request
import urllib.response
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import requests
import requests.adapters

SCHEMAS = Path(__file__).parent / "data" / "stac-schemas"
SCHEMA_HOSTS = {path.name for path in SCHEMAS.iterdir() if path.is_dir()}


@dataclass
class OfflineLog:
    served: list[str] = field(default_factory=list)  # schema URLs answered locally
    missing: list[str] = field(default_factory=list)  # schema URLs with no vendored copy
    refused: list[str] = field(default_factory=list)  # outbound connections refused


def _local_schema(url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.hostname not in SCHEMA_HOSTS:
        return None
    return SCHEMAS / str(parts.hostname) / parts.path.lstrip("/")


@contextmanager
def vendored_schemas() -> Iterator[OfflineLog]:
    log = OfflineLog()
    original_send = requests.adapters.HTTPAdapter.send
    original_connect = socket.socket.connect
    original_open = urllib.request.OpenerDirector.open

    def send(adapter: Any, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        path = _local_schema(str(request.url))
        if path is None:
            return original_send(adapter, request, **kwargs)
        response = requests.Response()
        response.url = str(request.url)
        response.request = request
        if path.is_file():
            log.served.append(str(request.url))
            response.status_code = 200
            response._content = path.read_bytes()
            response.headers["Content-Type"] = "application/json"
        else:
            log.missing.append(str(request.url))
            response.status_code = 404
            response._content = b"not vendored"
        return response

    def open_url(opener: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        url = target.full_url if isinstance(target, urllib.request.Request) else str(target)
        path = _local_schema(url)
        if path is None:
            return original_open(opener, target, *args, **kwargs)
        if not path.is_file():
            log.missing.append(url)
            raise urllib.error.HTTPError(url, 404, "not vendored", Message(), None)
        log.served.append(url)
        headers = Message()
        headers["Content-Type"] = "application/json"
        return urllib.response.addinfourl(io.BytesIO(path.read_bytes()), headers, url, 200)

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                log.refused.append(f"{host}:{address[1]}")
                raise ConnectionRefusedError(f"offline test: no connection to {host}")
        return original_connect(sock, address)

    with (
        mock.patch.object(requests.adapters.HTTPAdapter, "send", send),
        mock.patch.object(urllib.request.OpenerDirector, "open", open_url),
        mock.patch.object(socket.socket, "connect", connect),
    ):
        yield log

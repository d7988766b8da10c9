"""Which references a job may fetch."""

from __future__ import annotations

import io
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ogcsdl.errors import Forbidden, InvalidParameterValue, PayloadTooLarge
from ogcsdl.harvest.transport import fetch as harvest_fetch
from ogcsdl.jobs import urls
from ogcsdl.jobs.urls import check_url, fetch, is_public, own_product_id
from tests.canary import canary_server
from tests.processing_support import processing_settings


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x.tif",
        "http://127.0.0.1:5000/data/x.tif",
        "http://localhost/x.tif",
        "http://10.1.2.3/x.tif",
        "http://192.168.0.10/x.tif",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.tif",
        "http://[::ffff:127.0.0.1]/x.tif",
        "http://0.0.0.0/x.tif",
    ],
)
def test_forbidden_references(tmp_path: Path, url: str) -> None:
    settings = processing_settings(tmp_path)
    with pytest.raises(Forbidden) as info:
        check_url(url, settings)
    assert info.value.status == 403 and info.value.code == "InvalidParameterValue"


def test_public_address_allowed_and_private_allowed_by_config(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path)
    assert check_url("http://93.184.216.34/x.tif", settings) == "http://93.184.216.34/x.tif"
    relaxed = processing_settings(tmp_path, security={"allow_private_urls": True})
    assert check_url("http://127.0.0.1:9/x.tif", relaxed)
    with pytest.raises(Forbidden):  # the scheme rule holds even then
        check_url("file:///etc/passwd", relaxed)


def test_unresolvable_host_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue):
        check_url("http://no-such-host.invalid/x.tif", processing_settings(tmp_path))


def test_own_urls_name_products(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path, public_url="http://127.0.0.1:5999")
    assert own_product_id("http://127.0.0.1:5999/data/S2A_X.tif", settings) == "S2A_X"
    wcs = "http://127.0.0.1:5999/wcs?service=WCS&version=2.0.1&request=GetCoverage&coverageId=S2A_Y"
    assert own_product_id(wcs, settings) == "S2A_Y"
    assert (
        own_product_id("http://127.0.0.1:5999/wms?LAYERS=S2A_Z&request=GetMap", settings) == "S2A_Z"
    )
    coverages = "http://127.0.0.1:5999/coverages/collections/S2A_W/coverage?f=GTiff"
    assert own_product_id(coverages, settings) == "S2A_W"
    assert own_product_id("http://127.0.0.1:6000/data/S2A_X.tif", settings) is None
    assert own_product_id("http://example.org/data/S2A_X.tif", settings) is None


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # shared address space (carrier NAT)
        "100.127.255.254",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "2002:0a00:0001::1",  # 6to4 embedding 10.0.0.1
        "2002:7f00:0001::1",  # 6to4 embedding 127.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "fe80::1",
        "fd00::1",
        "::1",
        "::",
        "169.254.169.254",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_non_public_address_forms(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "2002:5db8:d822::1"])
def test_public_address_forms(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_refusal_does_not_tell_what_the_name_resolved_to(tmp_path: Path) -> None:
    with pytest.raises(Forbidden) as info:
        check_url("http://localhost:9/x.tif", processing_settings(tmp_path))
    assert "127.0.0.1" not in info.value.message and "::1" not in info.value.message


@pytest.fixture
def loopback_is_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 plays a public host (no real internet here); 127.0.0.2 stays private.
    ``public.test`` resolves to 127.0.0.1 once, then to 127.0.0.2 (a DNS rebinding)."""
    real = urls.is_public
    monkeypatch.setattr(urls, "is_public", lambda ip: str(ip) == "127.0.0.1" or real(ip))
    answers = iter(["127.0.0.1"] + ["127.0.0.2"] * 10)
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        if host == "public.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real_getaddrinfo(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(urls.socket, "getaddrinfo", getaddrinfo)


@pytest.mark.usefixtures("loopback_is_internet")
def test_redirect_to_a_private_address_is_refused(tmp_path: Path) -> None:
    with canary_server("127.0.0.2") as canary:
        target = f"{canary.url}/latest/meta-data/"
        with canary_server(responder=lambda _: (302, {"Location": target}, b"")) as public:
            with pytest.raises(Forbidden):
                fetch(public.url + "/x.tif", io.BytesIO(), processing_settings(tmp_path))
            assert len(public.hits) == 1
        assert canary.hits == []


@pytest.mark.usefixtures("loopback_is_internet")
def test_the_checked_address_is_the_one_connected(tmp_path: Path) -> None:
    with canary_server("127.0.0.2") as canary, canary_server() as public:
        port = public.url.rsplit(":", 1)[1]
        sink = io.BytesIO()
        fetch(f"http://public.test:{port}/x.tif", sink, processing_settings(tmp_path))
        assert sink.getvalue() == b"canary"
        assert public.hits[0][2]["Host"] == f"public.test:{port}"
        assert canary.hits == []


def test_public_redirects_are_followed_and_checked_each_hop(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path, security={"allow_private_urls": True})
    with canary_server() as final:
        with canary_server(responder=lambda _: (307, {"Location": final.url + "/b"}, b"")) as hop:
            sink = io.BytesIO()
            fetch(hop.url + "/a", sink, settings)
    assert sink.getvalue() == b"canary" and [hit[1] for hit in final.hits] == ["/b"]


def test_size_limit_and_deadline_hold(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path, security={"allow_private_urls": True})
    big = lambda _: (200, {}, b"x" * 5000)  # noqa: E731
    with canary_server(responder=big) as server:
        with pytest.raises(PayloadTooLarge):
            fetch(server.url, io.BytesIO(), settings, max_bytes=4096)
    dripping = lambda _: (200, {}, b"x" * 20 * 1024)  # noqa: E731 - 1 KiB every 0.5 s: 10 s
    with canary_server(responder=dripping, delay_s=0.5) as slow:
        started = time.monotonic()
        with pytest.raises(InvalidParameterValue, match="took too long"):
            fetch(slow.url, io.BytesIO(), settings, timeout_s=1)
        assert time.monotonic() - started < 4  # the deadline, not the 10 s the server takes


@contextmanager
def header_dripping_server() -> Iterator[str]:
    """Answers a status line, then one byte of a header every 0.2 s for 30 s: every read
    gets something well within any socket timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(150):
                if stop.wait(0.2):
                    return
                try:
                    connection.sendall(b"x")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/x.tif"
    finally:
        stop.set()
        listener.close()
        thread.join(5)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_deadline_holds_while_the_headers_drip(tmp_path: Path, method: str) -> None:
    settings = processing_settings(tmp_path, security={"allow_private_urls": True})
    body = b"<GetRecords/>" if method == "POST" else None
    with header_dripping_server() as url:
        started = time.monotonic()
        with pytest.raises(InvalidParameterValue, match="took too long"):
            fetch(url, io.BytesIO(), settings, timeout_s=1, body=body)
        assert time.monotonic() - started < 4  # the deadline, not the 30 s the server takes


@pytest.mark.usefixtures("loopback_is_internet")
def test_a_post_goes_to_the_checked_address(tmp_path: Path) -> None:
    """A harvest's CSW POST: sent to the address that was checked, not to what the name
    resolves to on a second look (here a private address on the same port)."""
    with canary_server() as public:
        port = int(public.url.rsplit(":", 1)[1])
        with canary_server("127.0.0.2", port=port) as canary:
            answer = harvest_fetch(
                f"http://public.test:{port}/csw",
                processing_settings(tmp_path),
                body=b"<GetRecords/>",
                content_type="application/xml",
            )
        assert answer == b"canary" and canary.hits == []
        assert public.hits[0][0] == "POST" and public.bodies == [b"<GetRecords/>"]
        assert public.hits[0][2]["Content-Type"] == "application/xml"


def test_a_post_is_not_redirected(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path, security={"allow_private_urls": True})
    with canary_server() as elsewhere:
        moved = lambda _: (307, {"Location": elsewhere.url + "/csw"}, b"")  # noqa: E731
        with canary_server(responder=moved) as remote:
            with pytest.raises(InvalidParameterValue, match="redirects a POST"):
                fetch(remote.url + "/csw", io.BytesIO(), settings, body=b"<GetRecords/>")
        assert elsewhere.hits == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/"])
def test_link_local_is_refused_even_when_private_urls_are_allowed(tmp_path: Path, url: str) -> None:
    settings = processing_settings(tmp_path / "var", security={"allow_private_urls": True})
    with pytest.raises(Forbidden, match="link-local"):
        check_url(url, settings)

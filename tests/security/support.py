"""The hostile corpus' machinery: a raw HTTP client, a loopback canary, and the checks
every case's answer must pass."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lxml import etree

Body = bytes | Callable[[], bytes] | None


@dataclass(frozen=True)
class Case:
    """One hostile request and the answer it must get.

    ``expect``: ``ows`` (an OWS ExceptionReport, any version), ``wms`` (a WMS
    ServiceExceptionReport), ``problem`` (OGC API problem JSON), ``oai:<code>`` (an OAI-PMH
    error, HTTP 200 as OAI-PMH 2.0 section 3.6 says), or ``empty:<kind>`` (the standard's
    empty answer with HTTP 200: a search that matches nothing). ``target`` is the raw
    path and query (sent unnormalised); ``{canary}`` is the canary server's base URL and
    ``{product}`` the corpus' product id; ``image`` is a map drawn while a parameter the
    standard lets a server ignore was ignored."""

    id: str
    category: str
    method: str
    target: str
    expect: str
    body: Body = None
    headers: tuple[tuple[str, str], ...] = ()
    chunked: bool = False
    status: tuple[int, ...] = ()  # when set, the exact statuses allowed
    xfail: str | None = None  # reason naming the branch whose fix turns it green

    def body_bytes(self, canary: str, product: str) -> bytes | None:
        body = self.body() if callable(self.body) else self.body
        if body is None:
            return None
        return fill(body.decode("latin-1"), canary, product).encode("latin-1")


def fill(text: str, canary: str, product: str) -> str:
    """The placeholders of a case filled in (URL-encoded ones too)."""
    port = canary.rsplit(":", 1)[1]
    for key, value in (("canary", canary), ("port", port), ("product", product)):
        text = text.replace("{" + key + "}", value).replace("%7B" + key + "%7D", value)
    return text


@dataclass
class Answer:
    status: int
    media_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def send(base_url: str, case: Case, canary: str, product: str, timeout_s: float = 60) -> Answer:
    """The request exactly as written (no path normalisation), chunked when asked."""
    parts = urlsplit(base_url)
    target = fill(case.target, canary, product)
    body = case.body_bytes(canary, product)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    headers = dict(case.headers)
    try:
        try:
            if case.chunked:
                payload = body or b""
                chunks: Iterator[bytes] = (
                    payload[i : i + 65536] for i in range(0, len(payload), 65536)
                )
                headers["Transfer-Encoding"] = "chunked"
                connection.request(case.method, target, chunks, headers, encode_chunked=True)
            else:
                connection.request(case.method, target, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (413) before reading all of an oversized body
        response = connection.getresponse()
        data = response.read()
        return Answer(
            response.status,
            (response.getheader("Content-Type") or "").lower(),
            data,
            {k.lower(): v for k, v in response.getheaders()},
        )
    finally:
        connection.close()


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_LEAK_MARKERS = (
    "Traceback (most recent call",
    'File "/',
    "site-packages",
    "/work/",
    "/root/",
    "object has no attribute",  # Python exception text
    "NoneType",
    "list index out of range",
    "positional argument",
)


def xml_root(answer: Answer) -> etree._Element:
    return etree.fromstring(answer.body, _PARSER)


def check_document(case: Case, answer: Answer) -> None:
    """The answer is the kind of document ``case.expect`` names."""
    kind, _, detail = case.expect.partition(":")
    if kind == "problem":
        assert "json" in answer.media_type, answer.media_type
        document = json.loads(answer.body)
        assert document["status"] == answer.status and document["title"], document
        return
    if kind in ("ows", "wms"):
        root = xml_root(answer)
        name = etree.QName(root).localname
        wanted = "ExceptionReport" if kind == "ows" else "ServiceExceptionReport"
        assert name == wanted, f"{name} is not a {wanted}: {answer.text[:300]}"
        return
    if kind == "oai":
        root = xml_root(answer)
        codes = [e.get("code") for e in root.iter("{http://www.openarchives.org/OAI/2.0/}error")]
        assert codes == [detail], f"OAI-PMH error {codes} is not {detail}: {answer.text[:300]}"
        return
    if kind == "image":  # a parameter the standard lets a server ignore was ignored
        assert answer.status == 200 and answer.media_type.startswith("image/"), answer.text[:200]
        return
    if kind == "empty":
        assert answer.status == 200, answer.status
        check_empty(detail, answer)
        return
    raise AssertionError(f"unknown expectation {case.expect}")


def check_empty(kind: str, answer: Answer) -> None:
    """The standard's answer for a search that matched nothing."""
    if kind == "stac":
        document = json.loads(answer.body)
        assert document["type"] == "FeatureCollection" and document["features"] == []
    elif kind == "csw":
        root = xml_root(answer)
        results = [e for e in root.iter() if etree.QName(e).localname == "SearchResults"]
        assert results and results[0].get("numberOfRecordsMatched") == "0", answer.text[:300]
    elif kind == "csw-byid":  # CSW 2.0.2 10.9.4.1: no match is an empty response
        root = xml_root(answer)
        assert etree.QName(root).localname == "GetRecordByIdResponse" and len(root) == 0
    elif kind == "opensearch":
        root = xml_root(answer)
        totals = [e.text for e in root.iter() if etree.QName(e).localname == "totalResults"] or [
            e.get("numberOfRecordsMatched")
            for e in root.iter()
            if etree.QName(e).localname == "SearchResults"
        ]
        assert totals and totals[0] == "0", answer.text[:300]
    elif kind == "oai":
        root = xml_root(answer)
        codes = [e.get("code") for e in root.iter("{http://www.openarchives.org/OAI/2.0/}error")]
        assert codes == ["noRecordsMatch"], answer.text[:300]
    else:
        raise AssertionError(f"unknown empty answer {kind}")


def check_no_leak(answer: Answer, secrets: list[str]) -> None:
    """No server path, internal address or traceback in the answer."""
    text = answer.text
    for marker in [*_LEAK_MARKERS, *secrets]:
        assert marker not in text, f"the answer leaks {marker!r}: {text[:400]}"


def check_no_script(answer: Answer) -> None:
    """No reflected markup a browser would run."""
    assert not re.search(r"<script", answer.text, re.IGNORECASE), answer.text[:400]
    assert not re.search(r"<[a-z]+[^>]*\son\w+=", answer.text, re.IGNORECASE), answer.text[:400]

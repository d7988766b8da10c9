"""A body the gateway answers without reading is read after the answer (unread_body.py)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from werkzeug.test import EnvironBuilder

from ogcsdl.gateway.unread_body import DrainUnreadBody


def _refuse(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("401 Unauthorized", [("Content-Type", "application/xml")])
    return [b"<refused/>"]


def _answer(limit: int, body: bytes, declared: int | None = None) -> tuple[bytes, io.BytesIO]:
    stream = io.BytesIO(body)
    environ = EnvironBuilder(method="POST", path="/csw", input_stream=stream).get_environ()
    environ["CONTENT_LENGTH"] = str(len(body) if declared is None else declared)
    result = DrainUnreadBody(_refuse, limit)(environ, lambda status, headers: None)
    answer = b"".join(result)
    getattr(result, "close", lambda: None)()  # as the WSGI server does after writing it
    return answer, stream


def test_a_refused_body_is_read_to_its_end_after_the_answer() -> None:
    answer, stream = _answer(1000, b"x" * 900)
    assert answer == b"<refused/>" and stream.tell() == 900


def test_only_the_declared_length_is_read() -> None:
    _, stream = _answer(1000, b"x" * 900, declared=500)
    assert stream.tell() == 500  # the next bytes could be the next request


def test_a_body_over_the_limit_is_not_read() -> None:
    _, stream = _answer(1000, b"x" * 1500)
    assert stream.tell() == 0


def test_a_body_ending_early_ends_the_drain() -> None:
    _, stream = _answer(1000, b"x" * 10, declared=800)
    assert stream.tell() == 10

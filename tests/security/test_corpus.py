"""The hostile corpus against the live suite (issue 9): every case gets a 4xx OGC
exception (or the standard's named empty answer), never a 5xx, leaks no server path,
internal address or traceback, reflects no markup, makes the suite fetch nothing from
the canary, and leaves ``/health`` at 200."""

from __future__ import annotations

import pytest
import requests

from tests.security.cases import CASES
from tests.security.conftest import Corpus
from tests.security.support import (
    Case,
    check_document,
    check_no_leak,
    check_no_script,
    send,
)

pytestmark = pytest.mark.live


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=f"{case.category}-{case.id}", marks=marks)


def test_corpus_is_large_and_covers_every_category() -> None:
    assert len(CASES) >= 150
    assert {case.category for case in CASES} >= {
        "xml",
        "sql",
        "ssrf",
        "traversal",
        "eval",
        "script",
        "number",
        "json",
        "body",
    }
    prefixes = {case.target.split("?")[0].split("/")[1] for case in CASES}
    assert prefixes >= {"csw", "stac", "maps", "wcs", "coverages", "wps", "ogcapi", "data"}


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_hostile_request(corpus: Corpus, case: Case) -> None:
    fetched_before = len(corpus.canary.hits)
    answer = send(corpus.suite.base_url, case, corpus.canary.url, corpus.product)
    assert answer.status < 500, f"{answer.status}: {answer.text[:400]}"
    if case.status:
        assert answer.status in case.status, f"{answer.status}: {answer.text[:300]}"
    elif case.expect.split(":")[0] in ("oai", "empty", "image"):
        assert answer.status == 200, f"{answer.status}: {answer.text[:300]}"
    else:
        assert 400 <= answer.status < 500, f"{answer.status}: {answer.text[:300]}"
    check_document(case, answer)
    check_no_leak(answer, corpus.secrets)
    check_no_script(answer)
    assert corpus.canary.hits[fetched_before:] == [], "the suite fetched from the canary"
    assert requests.get(corpus.suite.url("health"), timeout=30).status_code == 200

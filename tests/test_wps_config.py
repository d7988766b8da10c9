"""pywps keeps its configuration in one global of the process and reads ``$PYWPS_CFG``
after the files it is given, so a pywps.cfg named there (a user's own pywps set-up, or,
in the test run, another WpsApp of the same process: pywps copies the request's config
path into ``os.environ``) overrode ours: its URLs went into capabilities and into the
statusLocation of asynchronous executes (seen as status URLs on port 5000 under load)."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from ogcsdl.processing.wps import WpsApp
from tests.processing_support import processing_settings

CAPABILITIES = "/?service=WPS&request=GetCapabilities&version=1.0.0"


def test_a_pywps_cfg_named_in_the_environment_does_not_override_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = tmp_path / "foreign.cfg"
    foreign.write_text(
        "[server]\nurl = http://foreign.example/wps\noutputurl = http://foreign.example/out/\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PYWPS_CFG", str(foreign))
    settings = processing_settings(tmp_path / "var", public_url="http://ours.example:8123")
    text = Client(WpsApp(settings)).get(CAPABILITIES).get_data(as_text=True)
    assert "foreign.example" not in text
    assert "http://ours.example:8123/wps" in text


def test_two_apps_in_one_process_each_answer_with_their_own_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYWPS_CFG", raising=False)
    first, second = (
        Client(WpsApp(processing_settings(tmp_path / name, public_url=f"http://{name}.example")))
        for name in ("first", "second")
    )
    for _ in range(2):
        assert "http://first.example/wps" in first.get(CAPABILITIES).get_data(as_text=True)
        assert "http://second.example/wps" in second.get(CAPABILITIES).get_data(as_text=True)

"""Start the real suite (``python -m ogcsdl serve`` under gunicorn, with all its child
processes) on free loopback ports in a temporary data directory, for live tests."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml
from pydantic import BaseModel

from ogcsdl.config import PROJECT_ROOT, Settings, load_settings
from tests.ports import free_port


@dataclass
class LiveSuite:
    base_url: str
    settings: Settings
    config_file: Path
    log_file: Path
    process: subprocess.Popen[bytes]

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _port_sections() -> dict[str, dict[str, int]]:
    """A free port for every settings section that has a ``port`` (gateway, catalogue,
    cluster, renderer, ... - new sections are picked up without editing this file)."""
    sections: dict[str, dict[str, int]] = {}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if "port" in annotation.model_fields:
                sections[name] = {"port": free_port()}
    return sections


def one_worker_each(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``extra`` with one process per server and one Dask worker, for a suite whose tests
    are about its life cycle, harvesting or the demo rather than serving requests in
    parallel: every further worker is one more interpreter importing the stack at each
    boot (~1.5 CPU-s on 2 cores). The session suites (conftest.py, secured.py) keep the
    defaults (two of each)."""
    lean: dict[str, Any] = {
        section: {"workers": 1} for section in ("server", "catalogue", "render", "cluster")
    }
    return _merge(lean, copy.deepcopy(extra or {}))


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def write_config(directory: Path, extra: dict[str, Any] | None = None) -> Path:
    config: dict[str, Any] = {
        "data_dir": str(directory / "var"),
        "log_level": "INFO",
        "catalogue": {"python": str(PROJECT_ROOT / ".venv-catalogue" / "bin" / "python")},
    }
    _merge(config, _port_sections())
    _merge(config, extra or {})
    config_file = directory / "ogcsdl.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    return config_file


# A boot takes ~10 s on an idle 2-core machine; under a load average of 60-80 (seen
# when the machine is shared) importing alone took 70 s, so the bound is generous.
BOOT_TIMEOUT_S = 300


@contextmanager
def run_suite(
    directory: Path,
    extra: dict[str, Any] | None = None,
    timeout_s: float = BOOT_TIMEOUT_S,
    stop_in_background: bool = False,
) -> Iterator[LiveSuite]:
    """Run the suite until the ``with`` block ends; fail with the server log if it does
    not come up. With ``stop_in_background`` (shared fixtures) the end only sends SIGTERM
    and the stop is awaited at the end of the session (:func:`wait_for_stopping`): the
    suites of several fixtures then shut down together instead of one after the other."""
    directory.mkdir(parents=True, exist_ok=True)
    config_file = write_config(directory, extra)
    suite = start_suite(config_file, timeout_s)
    try:
        yield suite
    finally:
        if stop_in_background and suite.process.poll() is None:
            suite.process.send_signal(signal.SIGTERM)
            _STOPPING.append(suite)
        else:
            stop_suite(suite)


_STOPPING: list[LiveSuite] = []


def wait_for_stopping() -> None:
    """Wait for the suites stopped in the background (see :func:`run_suite`)."""
    while _STOPPING:
        stop_suite(_STOPPING.pop())


def start_suite(
    config_file: Path, timeout_s: float = BOOT_TIMEOUT_S, log_name: str = "suite.log"
) -> LiveSuite:
    """Start ``ogcsdl serve`` on an existing configuration (e.g. again after a crash)
    and wait until /health answers 200; the caller stops it."""
    directory = config_file.parent
    env = {key: value for key, value in os.environ.items() if not key.startswith("OGCSDL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    settings = load_settings(config_file)
    log_file = directory / log_name
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ogcsdl", "--config", str(config_file), "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
        )
    suite = LiveSuite(settings.public_url, settings, config_file, log_file, process)
    try:
        _wait_until_up(suite, timeout_s)
    except BaseException:
        stop_suite(suite)
        raise
    return suite


def _wait_until_up(suite: LiveSuite, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if suite.process.poll() is not None:
            raise RuntimeError(
                f"the suite exited with code {suite.process.returncode}:\n{suite.log_tail()}"
            )
        try:
            if requests.get(suite.url("health"), timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the suite did not become healthy in {timeout_s} s:\n{suite.log_tail()}")


def stop_suite(suite: LiveSuite, timeout_s: float = 30) -> int:
    if suite.process.poll() is None:
        suite.process.send_signal(signal.SIGTERM)
        try:
            suite.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            suite.process.kill()
            suite.process.wait()
    return int(suite.process.returncode)

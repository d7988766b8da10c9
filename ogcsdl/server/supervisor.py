"""``ogcsdl serve``: start every component as a child process, wait until each answers,
keep them running, and stop them all cleanly on SIGTERM/SIGINT.

Children: the ones listed in ``components.CHILDREN`` (pycsw in its own environment, the
embedded Dask cluster, the tile renderer, ...) and, last, the gateway under gunicorn.
Each child gets ``OGCSDL_CONFIG`` so it reads the same configuration.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import requests
from pydantic import BaseModel

from ogcsdl.config import CONFIG_ENV, Settings
from ogcsdl.errors import OgcsdlError
from ogcsdl.gateway.http_errors import MAX_REQUEST_LINE
from ogcsdl.jobs.cluster import JobWatchdog
from ogcsdl.server.children import ChildSpec, gunicorn_argv
from ogcsdl.server.components import CHILDREN
from ogcsdl.startup import prepare

LOG = logging.getLogger(__name__)

ChildFactory = Callable[[Settings], ChildSpec | None]
_PR_SET_PDEATHSIG = 1


class StartupError(OgcsdlError):
    """A component did not come up; the message names it and says where to look."""


def gateway_child(settings: Settings) -> ChildSpec:
    server = settings.server
    return ChildSpec(
        name="gateway",
        argv=gunicorn_argv(
            sys.executable,
            f"{server.host}:{server.port}",
            server.workers,
            server.timeout_s,
            "ogcsdl.gateway.app:create_app()",
            *("--graceful-timeout", "10", "--access-logfile", "-"),
            *("--log-level", settings.log_level.lower()),
            *("--limit-request-line", str(MAX_REQUEST_LINE)),
        ),
        ready_url=f"http://{_connect_host(server.host)}:{server.port}/",
    )


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - a check, not a bind


def _ports_to_bind(settings: Settings) -> dict[str, tuple[str, int]]:
    """Every port the suite listens on, by the settings key that sets it."""
    ports = {"server.port": (settings.server.host, settings.server.port)}
    for name, section in settings:
        if name != "server" and isinstance(section, BaseModel) and hasattr(section, "port"):
            if name == "cluster" and settings.cluster.scheduler_address:
                continue  # an external scheduler: nothing of ours listens there
            ports[f"{name}.port"] = ("127.0.0.1", int(section.port))
    return ports


def _port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now.

    ``SO_REUSEADDR`` as every server of ours sets it (gunicorn, Dask): connections of a
    previous run sitting in TIME-WAIT must not block a restart, only a live listener."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports_free(settings: Settings, wait_s: float | None = None) -> None:
    """Refuse to start, naming the setting, when another program holds one of our ports
    (otherwise its answers could pass for ours). A port still held is retried for
    ``wait_s`` (default ``server.port_wait_s``): the children of a crashed previous run are
    then still shutting down."""
    deadline = time.monotonic() + (settings.server.port_wait_s if wait_s is None else wait_s)
    for key, (host, port) in _ports_to_bind(settings).items():
        while not _port_is_free(host, port):
            if time.monotonic() >= deadline:
                variable = "OGCSDL_" + key.upper().replace(".", "__")
                raise StartupError(
                    f"port {port} ({key}) is already in use: stop the program holding it "
                    f"or choose another port ({key} in the config, or {variable})"
                )
            time.sleep(0.2)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to send SIGTERM to this child when the supervisor dies, even by
    SIGKILL: orphaned children would keep the suite's ports and jobs."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _load_factory(target: str) -> ChildFactory:
    module_name, _, attribute = target.partition(":")
    factory: ChildFactory = getattr(importlib.import_module(module_name), attribute)
    return factory


class Supervisor:
    def __init__(self, settings: Settings, config_file: Path, ready_timeout_s: float = 120) -> None:
        self.settings = settings
        self.config_file = config_file
        self.ready_timeout_s = ready_timeout_s
        self.children: list[tuple[ChildSpec, subprocess.Popen[bytes]]] = []
        self._stop = threading.Event()
        self.watchdog: JobWatchdog | None = None

    def specs(self) -> list[ChildSpec]:
        specs = [spec for target in CHILDREN if (spec := _load_factory(target)(self.settings))]
        return [*specs, gateway_child(self.settings)]

    def start(self) -> None:
        check_ports_free(self.settings)
        prepare(self.settings)  # dirs, schema and no scratch, before any worker runs
        *backends, gateway = self.specs()
        # The back-ends do not need each other: start them together (one after the
        # other, each waiting for the previous one, doubled the start-up time), then
        # the gateway in front of them.
        for spec in backends:
            self._spawn(spec)
        for spec, process in list(self.children):
            self._wait_ready(spec, process)
        if self.stop_requested:
            return
        self._wait_ready(gateway, self._spawn(gateway))
        if self.stop_requested:
            return
        # No job stays running forever after its worker died (see jobs/cluster.py).
        self.watchdog = JobWatchdog(self.settings).start()

    def _spawn(self, spec: ChildSpec) -> subprocess.Popen[bytes]:
        env = {**os.environ, **spec.env, CONFIG_ENV: str(self.config_file)}
        LOG.info("starting %s: %s", spec.name, " ".join(spec.argv))
        # Own session: a terminal's Ctrl-C reaches only us; we stop children in order.
        process = subprocess.Popen(
            spec.argv,
            env=env,
            cwd=spec.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
        )
        self.children.append((spec, process))
        return process

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _wait_ready(self, spec: ChildSpec, process: subprocess.Popen[bytes]) -> None:
        """Wait until the child answers; return early if a stop is asked for meanwhile
        (SIGTERM while starting is a stop, not a start-up failure)."""
        if spec.ready_url is None:
            return
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.stop_requested:
                return
            if process.poll() is not None:
                raise StartupError(
                    f"{spec.name} exited with code {process.returncode} while starting; "
                    "its log is above"
                )
            try:
                if requests.get(spec.ready_url, timeout=2).status_code == 200:
                    LOG.info("%s is up", spec.name)
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise StartupError(f"{spec.name} did not answer at {spec.ready_url} in time")

    def run_until_stopped(self) -> int:
        """Block until a signal arrives or the gateway dies; return an exit code."""
        while not self._stop.wait(0.5):
            for spec, process in self.children:
                if process.poll() is not None:
                    if spec.name == "gateway":
                        LOG.error("the gateway exited with code %s; stopping", process.returncode)
                        return 1
                    LOG.error("%s exited with code %s (see /health)", spec.name, process.returncode)
                    self.children.remove((spec, process))
                    break
        return 0

    def request_stop(self, signum: int, _frame: FrameType | None = None) -> None:
        LOG.info("received %s, stopping", signal.Signals(signum).name)
        self._stop.set()

    def stop(self, timeout_s: float = 20) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None
        for spec, process in reversed(self.children):
            if process.poll() is None:
                LOG.info("stopping %s", spec.name)
                process.terminate()
        deadline = time.monotonic() + timeout_s
        for spec, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                LOG.warning("%s did not stop in time; killing it", spec.name)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.children.clear()


def run_suite(settings: Settings, config_file: Path) -> int:
    """Start the whole suite and serve until SIGTERM/SIGINT. Returns the exit code."""
    supervisor = Supervisor(settings, config_file)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    try:
        supervisor.start()
        if supervisor.stop_requested:
            return 0
        print(f"ogcsdl is up at {settings.public_url}/ (Ctrl-C stops it)", flush=True)
        return supervisor.run_until_stopped()
    finally:
        supervisor.stop()

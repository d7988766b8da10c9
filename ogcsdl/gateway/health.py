"""The /health report: every component with its state; 503 when one is down."""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ogcsdl.config import Settings
from ogcsdl.db import ping
from ogcsdl.server.components import HEALTH_CHECKS

LOG = logging.getLogger(__name__)

HealthCheck = Callable[[Settings], None]


def check_database(settings: Settings) -> None:
    ping(settings.database_url)


def _load(target: str) -> HealthCheck:
    module_name, _, attribute = target.partition(":")
    check: HealthCheck = getattr(importlib.import_module(module_name), attribute)
    return check


def _run_check(settings: Settings, target: str) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        _load(target)(settings)
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the reason is shown
        LOG.warning("health check %s failed: %s", target, exc)
        return {"status": "down", "reason": str(exc) or type(exc).__name__}
    return {"status": "up", "ms": round((time.perf_counter() - started) * 1000, 1)}


def health_report(settings: Settings) -> tuple[int, bytes]:
    """(HTTP status, JSON body). Checks run concurrently so one slow component does not
    hide the others."""
    with ThreadPoolExecutor(max_workers=max(1, len(HEALTH_CHECKS))) as pool:
        futures = {
            name: pool.submit(_run_check, settings, target)
            for name, target in HEALTH_CHECKS.items()
        }
        components = {name: future.result() for name, future in futures.items()}
    healthy = all(item["status"] == "up" for item in components.values())
    body = {"status": "up" if healthy else "down", "components": components}
    return (200 if healthy else 503), json.dumps(body, indent=2).encode("utf-8")

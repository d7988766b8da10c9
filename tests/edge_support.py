"""An app as the gateway mounts it: behind its edge (body limit, exception style), so
in-process tests see the answers clients see, without booting the suite."""

from __future__ import annotations

import importlib

from ogcsdl.config import Settings
from ogcsdl.gateway.edge import ServiceEdge, WSGIApp
from ogcsdl.gateway.mounts import MOUNTS


def behind_edge(settings: Settings, prefix: str, app: WSGIApp | None = None) -> ServiceEdge:
    mount = next(mount for mount in MOUNTS if mount.prefix == prefix)
    if app is None:
        module, _, attribute = mount.factory.partition(":")
        app = getattr(importlib.import_module(module), attribute)(settings)
    return ServiceEdge(app, mount.errors, settings.security.max_request_bytes, mount.title)

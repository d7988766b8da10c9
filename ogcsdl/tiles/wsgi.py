"""gunicorn entry points (``ogcsdl.tiles.wsgi:renderer_app()``)."""

from __future__ import annotations

from ogcsdl.config import load_settings
from ogcsdl.tiles.renderer import RendererApp, make_renderer


def renderer_app() -> RendererApp:
    return make_renderer(load_settings())

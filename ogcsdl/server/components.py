"""What the supervisor starts and what /health checks: one line per component.

Each entry is ``"module:function"``. Child factories take Settings and return a
:class:`~ogcsdl.server.children.ChildSpec` or ``None`` (not needed in this
configuration). Health checks take Settings and raise when the component is down.
"""

from __future__ import annotations

CHILDREN: list[str] = [
    "ogcsdl.catalogue.service:catalogue_child",
    "ogcsdl.tiles.renderer:renderer_child",
    "ogcsdl.jobs.cluster:cluster_child",
    "ogcsdl.harvest.scheduler:harvest_child",
]

HEALTH_CHECKS: dict[str, str] = {
    "database": "ogcsdl.gateway.health:check_database",
    "catalogue": "ogcsdl.catalogue.service:check_catalogue",
    "renderer": "ogcsdl.tiles.renderer:check_renderer",
    "cluster": "ogcsdl.jobs.cluster:check_cluster",
}

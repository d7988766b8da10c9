"""Description of a child process the suite supervises (pycsw, the Dask cluster, the
gateway itself)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ChildSpec:
    name: str  # shown in logs and /health, e.g. "catalogue"
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the parent's environment
    ready_url: str | None = None  # polled until it answers 200 before the suite is "up"
    cwd: str | None = None

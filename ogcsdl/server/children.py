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


def gunicorn_argv(
    python: str, bind: str, workers: int, timeout_s: int, app: str, *options: str
) -> list[str]:
    """The command line of one of our gunicorn servers (gateway, pycsw, renderer): the
    options every one of them needs, then ``options``, then the WSGI ``app``."""
    return [
        python,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--timeout",
        str(timeout_s),
        "--no-control-socket",  # gunicorn 27's default socket is one path shared by every instance
        *options,
        app,
    ]

"""CLI: ``ogcsdl serve``."""

from __future__ import annotations

import click

from ogcsdl.cli_context import CliContext, pass_context
from ogcsdl.server.supervisor import run_suite


@click.command("serve")
@pass_context
def serve(context: CliContext) -> None:
    """Run the whole suite: the gateway on server.host:server.port and every service
    behind it (catalogue, processing cluster, renderer). Ctrl-C stops everything."""
    raise SystemExit(run_suite(context.settings, context.config_file))

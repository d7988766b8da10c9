"""The ``ogcsdl`` command. Each part of the suite contributes its subcommands in its own
module (listed in ``_SUBCOMMANDS``); this file only wires them together."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from ogcsdl.cli_context import CliContext, pass_context
from ogcsdl.errors import OgcsdlError

# "module:attribute" of every click command or group added to the top level.
_SUBCOMMANDS: list[str] = [
    "ogcsdl.server.commands:serve",
    "conformance.commands:conformance",
    "ogcsdl.tiles.seed:seed_command",
    "ogcsdl.ingest.commands:ingest",
    "ogcsdl.demo.commands:demo",
    "ogcsdl.harvest.commands:harvest",
    "ogcsdl.security.keys:keys_command",
]


@click.group()
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration file (default: $OGCSDL_CONFIG or config/ogcsdl.yml).",
)
@click.version_option(package_name="ogcsdl")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """ogcsdl: ingest, catalogue, process and view Earth-observation data through OGC
    standards."""
    ctx.obj = CliContext(config)


@cli.group("config")
def config_group() -> None:
    """Inspect and check the configuration."""


@config_group.command("validate")
@pass_context
def config_validate(context: CliContext) -> None:
    """Check the configuration file and environment overrides; one line per bad key."""
    settings = context.settings
    click.echo(f"{context.config_file}: valid")
    click.echo(f"  public URL: {settings.public_url}")
    click.echo(f"  data dir:   {settings.data_dir}")
    database = "SQLite (embedded)" if settings.database.url is None else "PostgreSQL"
    click.echo(f"  database:   {database}")
    cluster = settings.cluster.scheduler_address or "embedded LocalCluster"
    click.echo(f"  cluster:    {cluster}")


def _register_subcommands() -> None:
    """Add every subcommand to ``cli`` (idempotent)."""
    for target in _SUBCOMMANDS:
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        cli.add_command(command)


def main() -> None:
    _register_subcommands()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OgcsdlError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)

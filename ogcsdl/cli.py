"""The ``ogcsdl`` command. Each part of the suite contributes its subcommands in its own
module (listed in ``_SUBCOMMANDS``, imported when used); this file only wires them
together."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from ogcsdl.cli_context import CliContext, pass_context
from ogcsdl.errors import OgcsdlError

# The top-level subcommands: name -> "module:attribute" of the click command or group.
# Each is imported only when it runs (or for --help): `ogcsdl config validate` or
# `ogcsdl keys` then start in ~0.3 s instead of importing the whole stack (~2 s).
_SUBCOMMANDS: dict[str, str] = {
    "serve": "ogcsdl.server.commands:serve",
    "conformance": "conformance.commands:conformance",
    "seed": "ogcsdl.tiles.seed:seed_command",
    "ingest": "ogcsdl.ingest.commands:ingest",
    "demo": "ogcsdl.demo.commands:demo",
    "harvest": "ogcsdl.harvest.commands:harvest",
    "keys": "ogcsdl.security.keys:keys_command",
}


class LazyGroup(click.Group):
    """A group whose subcommands in ``_SUBCOMMANDS`` are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _SUBCOMMANDS and cmd_name not in self.commands:
            module_name, _, attribute = _SUBCOMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if command.name != cmd_name:
                raise RuntimeError(f"{_SUBCOMMANDS[cmd_name]} is named {command.name!r}")
            self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
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


def main() -> None:
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

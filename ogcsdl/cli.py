"""The ``ogcsdl`` command. Each part of the suite contributes its subcommands in its own
module (listed in ``_SUBCOMMANDS``); this file only wires them together."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import click

from ogcsdl.config import Settings, config_path, load_settings
from ogcsdl.errors import OgcsdlError

# "module:attribute" of every click command or group added to the top level.
_SUBCOMMANDS: list[str] = [
    "ogcsdl.server.commands:serve",
    "ogcsdl.ingest.commands:ingest",
    "ogcsdl.demo.commands:demo",
]


class _Context:
    def __init__(self, config: Path | None) -> None:
        self._config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self._config)
            logging.basicConfig(
                level=self._settings.log_level,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        return self._settings


pass_context = click.make_pass_decorator(_Context)


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
    ctx.obj = _Context(config)


@cli.group("config")
def config_group() -> None:
    """Inspect and check the configuration."""


@config_group.command("validate")
@pass_context
def config_validate(context: _Context) -> None:
    """Check the configuration file and environment overrides; one line per bad key."""
    settings = context.settings
    click.echo(f"{config_path(context._config)}: valid")
    click.echo(f"  public URL: {settings.public_url}")
    click.echo(f"  data dir:   {settings.data_dir}")
    database = "SQLite (embedded)" if settings.database.url is None else "PostgreSQL"
    click.echo(f"  database:   {database}")
    cluster = settings.cluster.scheduler_address or "embedded LocalCluster"
    click.echo(f"  cluster:    {cluster}")


def _register_subcommands() -> None:
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

"""What every ``ogcsdl`` subcommand receives: the configuration, loaded on first use."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ogcsdl.config import Settings, config_path, load_settings


class CliContext:
    def __init__(self, config: Path | None) -> None:
        self._config = config
        self._settings: Settings | None = None

    @property
    def config_file(self) -> Path:
        return config_path(self._config)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self._config)
            logging.basicConfig(
                level=self._settings.log_level,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        return self._settings


pass_context = click.make_pass_decorator(CliContext)

"""``ogcsdl ingest PATH...``"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import click

from ogcsdl.cli_context import CliContext, pass_context
from ogcsdl.ingest.pipeline import BatchResult, ingest_paths


def _parse_datetime(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2019-09-17 or 2019-09-17T06:02:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def quiet_gdal() -> None:
    """GDAL's own messages about a bad file are turned into one clear FAILED line; do not
    repeat them as log noise."""
    logging.getLogger("rasterio").setLevel(logging.WARNING)


def print_summary(result: BatchResult) -> None:
    for record in result.ingested:
        click.echo(
            f"ingested {record.identifier} [{record.collection}] "
            f"{record.start:%Y-%m-%d} {len(record.bands)} bands -> {record.file_path}"
        )
    click.echo(
        f"{len(result.ingested)} ingested, {len(result.failed)} failed, "
        f"{len(result.skipped)} skipped in {result.seconds:.1f} s"
    )


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--collection", default=None, help="Put the products in this collection.")
@click.option(
    "--datetime",
    "acquired",
    callback=_parse_datetime,
    default=None,
    help="Acquisition time for files that carry none (ISO 8601).",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@pass_context
def ingest(
    context: CliContext,
    paths: tuple[Path, ...],
    collection: str | None,
    acquired: datetime | None,
    progress: bool,
) -> None:
    """Ingest products (SAFE folders, band folders, GeoTIFF/COG/NetCDF files, or
    directories to scan) into COGs and catalogue records."""
    settings = context.settings
    quiet_gdal()
    result = ingest_paths(
        settings, paths, collection=collection, acquired=acquired, progress=progress
    )
    print_summary(result)
    if result.failed:
        raise SystemExit(1)

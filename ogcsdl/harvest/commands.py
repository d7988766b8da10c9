"""``ogcsdl harvest``: harvest a remote catalogue once, list sources, delete one."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from ogcsdl.cli_context import CliContext, pass_context
from ogcsdl.harvest.model import PROTOCOLS, HarvestSource, default_name
from ogcsdl.harvest.runner import delete_source, run_harvest
from ogcsdl.harvest.state import HarvestState
from ogcsdl.schema import create_schema


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date", param_hint="--since"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("harvest")
@click.argument("url", required=False)
@click.option("--protocol", type=click.Choice(PROTOCOLS), help="How the source is read.")
@click.option("--name", help="Our name for the source (default: protocol-host-port).")
@click.option("--collection", help="Only this remote collection (parent identifier).")
@click.option(
    "--bbox",
    nargs=4,
    type=float,
    default=None,
    metavar="MINX MINY MAXX MAXY",
    help="Only records intersecting this WGS84 box.",
)
@click.option("--since", help="Only records modified since (ISO 8601); default: last run.")
@click.option(
    "--full",
    is_flag=True,
    help="Also list the whole source and remove records deleted there.",
)
@click.option(
    "--force-deletions",
    is_flag=True,
    help="Apply remote deletions even above harvest.max_delete_percent.",
)
@click.option("--delete-source", "delete", metavar="NAME", help="Remove a source and its records.")
@click.option("--list", "list_sources", is_flag=True, help="List harvest sources and their state.")
@pass_context
def harvest(
    context: CliContext,
    url: str | None,
    protocol: str | None,
    name: str | None,
    collection: str | None,
    bbox: tuple[float, float, float, float] | None,
    since: str | None,
    full: bool,
    force_deletions: bool,
    delete: str | None,
    list_sources: bool,
) -> None:
    """Harvest a CSW, OpenSearch or STAC API catalogue into ours (only new or changed
    records since the last successful run; records deleted at the source go when the
    run lists the whole source), list sources, or delete one with its records."""
    settings = context.settings
    settings.ensure_dirs()
    create_schema(settings)  # a start-up, like ingest
    if delete:
        count = delete_source(settings, delete)
        click.echo(f"deleted source {delete} and its {count} record(s)")
        return
    if list_sources:
        state = HarvestState(settings.database_url)
        for source_name in state.names():
            row = state.get(source_name)
            if row is None:
                continue
            if row.failures:
                status = f"failing ({row.failures}x: {row.last_error})"
            else:
                status = f"ok ({row.last_error})" if row.last_error else "ok"
            click.echo(
                f"{row.name}\t{row.protocol}\t{row.url}\t{row.records} record(s)\t"
                f"last success {row.last_success or 'never'}\t"
                f"last full listing {row.last_full or 'never'}\t{status}"
            )
        return
    if not url or not protocol:
        raise click.UsageError("give a URL and --protocol (or --delete-source NAME, or --list)")
    source = HarvestSource(name or default_name(url, protocol), url, protocol, collection, bbox)
    result = run_harvest(
        settings,
        source,
        since=_since(since),
        full=full,
        force_deletions=force_deletions,
        progress=True,
    )
    click.echo(
        f"{source.name}: {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.deleted} deleted, {len(result.conflicts)} "
        f"skipped (identifier held elsewhere), {len(result.rejected)} rejected, "
        f"{result.pages} page(s)"
    )
    if result.deletions_refused:
        click.echo(f"  remote deletions not applied: {result.deletions_refused}", err=True)
    for why in result.rejected[:10]:
        click.echo(f"  rejected {why}", err=True)
    if not result.ok:
        raise click.ClickException(
            f"{result.error} (retry after {result.retry_at:%Y-%m-%d %H:%M:%S} UTC)"
            if result.retry_at
            else str(result.error)
        )

"""``ogcsdl demo``: generate the synthetic demo set if needed, ingest it (plus any real
data folders given) and start the suite."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import click

from ogcsdl.cli_context import CliContext, pass_context
from ogcsdl.demo import generate_demo_set
from ogcsdl.ingest.commands import print_summary, quiet_gdal
from ogcsdl.ingest.pipeline import ingest_paths

DEMO_INPUT = "demo-input"


def _generate_atomically(demo_dir: Path) -> int:
    """Generate next to ``demo_dir`` and rename: an interrupted run never leaves a half
    set that later runs would take as complete."""
    staging = Path(tempfile.mkdtemp(prefix=f".{demo_dir.name}-", dir=demo_dir.parent))
    try:
        count = len(generate_demo_set(staging))
        staging.rename(demo_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count


@click.command("demo")
@click.option(
    "--data",
    "data_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also ingest the products found in this folder (e.g. ../shared/data); repeatable.",
)
@click.option("--no-serve", is_flag=True, help="Prepare and ingest, but do not start the suite.")
@pass_context
def demo(context: CliContext, data_dirs: tuple[Path, ...], no_serve: bool) -> None:
    """Run the suite on demo data: synthetic Sentinel-2/Sentinel-1 products (generated
    once) plus any real folders given with --data."""
    settings = context.settings
    settings.ensure_dirs()
    quiet_gdal()
    demo_dir = settings.data_dir / DEMO_INPUT
    if not demo_dir.is_dir():
        started = time.perf_counter()
        count = _generate_atomically(demo_dir)
        click.echo(
            f"generated {count} synthetic products in {demo_dir} "
            f"({time.perf_counter() - started:.1f} s)"
        )
    result = ingest_paths(settings, [demo_dir, *data_dirs])
    print_summary(result)
    if no_serve:
        return
    from ogcsdl.server.supervisor import run_suite  # starts servers: import only when needed

    raise SystemExit(run_suite(settings, context.config_file))

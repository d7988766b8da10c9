"""CLI: ``ogcsdl conformance BASE_URL`` - run the protocol checks against a deployment."""

from __future__ import annotations

import click

from conformance.runner import TimeoutSession, format_table, run_checks


@click.command("conformance")
@click.argument("base_url")
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Run only these check modules or standards (e.g. --only csw --only opensearch).",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per HTTP request.")
@click.option(
    "--token",
    envvar="OGCSDL_CONFORMANCE_TOKEN",
    default=None,
    help="API key or token sent as 'Authorization: Bearer ...' (processing checks need one "
    "on a secured deployment).",
)
def conformance(base_url: str, only: tuple[str, ...], timeout: float, token: str | None) -> None:
    """Check a deployment at BASE_URL (e.g. http://127.0.0.1:5000) against the OGC
    standards it serves; print a table; exit 1 when a check fails."""
    session = TimeoutSession(timeout)
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    outcomes = run_checks(base_url, set(only) or None, session=session, timeout_s=timeout)
    if not outcomes:
        raise click.UsageError(f"no checks selected by --only {' '.join(only)}")
    click.echo(format_table(outcomes))
    failed = any(outcome.result.status == "fail" for outcome in outcomes)
    raise SystemExit(1 if failed else 0)

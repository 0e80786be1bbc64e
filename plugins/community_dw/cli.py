"""The `cdw` command: one entry point for the warehouse, the simulator and the pipeline."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from community_dw.dictionary import dictionary_app
from community_dw.outreach.cli import match_list_command, outreach_app
from community_dw.report.cli import report_command
from community_dw.simulate.cli import simulate_app

app = typer.Typer(help="community-dw: department deliveries to resolved people, marts and outreach lists.",
                  no_args_is_help=True, add_completion=False)
warehouse_app = typer.Typer(help="Start, stop and inspect the embedded PostgreSQL warehouse.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(simulate_app, name="simulate")
app.add_typer(outreach_app, name="outreach")
app.command("report")(report_command)
app.command("match-list")(match_list_command)
app.add_typer(dictionary_app, name="docs")
console = Console()


@app.command()
def migrate() -> None:
    """Apply pending SQL migrations (sql/migrations/) to the warehouse; safe to run twice."""
    from community_dw.config import resolve_warehouse_url
    from community_dw.warehouse.connection import get_engine
    from community_dw.warehouse.migrate import migrate as apply_migrations

    resolved = resolve_warehouse_url()
    done = apply_migrations(get_engine(resolved.url))
    console.print(f"warehouse: {resolved.origin}")
    if done:
        for migration in done:
            console.print(f"  applied V{migration.version:04d} {migration.name}")
    else:
        console.print("  up to date")


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the embedded PostgreSQL (data under .cdw/pgdata) and print its URL."""
    from community_dw.warehouse import embedded

    url = embedded.ensure_database("cdw")
    console.print(f"embedded warehouse running: {url}")


@warehouse_app.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded PostgreSQL; its data stays for the next start."""
    from community_dw.warehouse import embedded

    console.print("stopped" if embedded.stop() else "was not running")


@warehouse_app.command("url")
def warehouse_url() -> None:
    """Print the warehouse URL that commands would use and where it comes from."""
    from community_dw.config import resolve_warehouse_url

    resolved = resolve_warehouse_url()
    print(resolved.url)
    console.print(f"[dim]from {resolved.origin}[/dim]", highlight=False)


@warehouse_app.command("status")
def warehouse_status() -> None:
    """Row counts of every table per schema layer."""
    from community_dw.warehouse.connection import get_engine
    from community_dw.warehouse.inventory import table_counts

    table = Table("schema", "table", "rows")
    for schema, name, rows in table_counts(get_engine()):
        table.add_row(schema, name, f"{rows:,}")
    console.print(table)


@app.command()
def run(
    logical_date: str = typer.Option(None, "--date", help="Logical date YYYY-MM-DD (Asia/Shanghai); default today."),
    only: list[str] = typer.Option(None, "--only", help="Only this department (repeatable): "
                                   "public_security, health, civil_affairs, grid."),
) -> None:
    """Run the whole pipeline in process for a logical date: ingest, standardize, resolve, core, marts."""
    from datetime import date

    from community_dw.pipeline import QualityGateFailed, run_pipeline

    day = date.fromisoformat(logical_date) if logical_date else None
    try:
        summary = run_pipeline(day, only or None,
                               progress=lambda message: console.print(f"[cyan]•[/cyan] {message}"))
    except QualityGateFailed as error:
        console.print(f"[red]✗ stopped by a quality gate[/red] — nothing downstream was published\n{error}",
                      highlight=False)
        raise typer.Exit(2) from None
    for department, error in summary.ingest_failures.items():
        console.print(f"[red]✗ {department}[/red]: {error}")
    console.print(f"done: {summary.seconds}")
    if summary.ingest_failures:
        raise typer.Exit(1)


core_app = typer.Typer(help="Build the core layer: only the persons whose records changed, or in full.",
                       no_args_is_help=True)
app.add_typer(core_app, name="core")


@core_app.command("build")
def core_build_command(
    logical_date: str = typer.Option(None, "--date", help="As-of date YYYY-MM-DD; default today."),
    full: bool = typer.Option(False, "--full", help="Rebuild every person, not only those whose records changed."),
) -> None:
    """Build core (and the department-facing tables) from staging: scoped to the changed persons when that
    gives the same result, else in full; prints which, and why (also kept in audit.core_build)."""
    from datetime import date

    from community_dw.pipeline import build_core

    build = build_core(date.fromisoformat(logical_date) if logical_date else None, full=full)
    console.print(f"core build {build['build_id']}: {build['mode']} — {build['reason']} "
                  f"({build['seconds']:.1f} s)", highlight=False)


marts_app = typer.Typer(help="Operate the marts: publish a build a person has reviewed.", no_args_is_help=True)
app.add_typer(marts_app, name="marts")


@marts_app.command("publish")
def marts_publish(
    accept: bool = typer.Option(False, "--accept", help="Confirm you reviewed the gate's findings (Data Docs)."),
) -> None:
    """Publish the marts last built in mart_build after their gate failed on a change you accept
    (e.g. a denominator that moved more than 10% because of a known re-registration)."""
    from community_dw.pipeline import publish_marts

    if not accept:
        console.print("Review the failed gate in the Data Docs first, then run with --accept.")
        raise typer.Exit(1)
    console.print("published: " + ", ".join(publish_marts()))


ingest_app = typer.Typer(help="Operate the ingest: deliveries held for a reason a person resolves.",
                         no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")


@ingest_app.command("accept-gap")
def ingest_accept_gap(
    source: str = typer.Argument(..., help="The delivery source, e.g. public_security.residents."),
    day: str = typer.Argument(..., help="The day with no delivery, YYYY-MM-DD."),
    reason: str = typer.Option(..., "--reason", help="Why there is none (e.g. the department's reply); recorded."),
    through: str = typer.Option(None, "--through", help="Last day of a run of days with no delivery, YYYY-MM-DD."),
) -> None:
    """Accept that SOURCE issued no delta on DAY (through --through), so the deltas held behind it load.

    A delta dated after a day with no delivery is held (its changes would be applied over a missing
    day). Accept only once the department confirmed the day has none; the acknowledgement, who gave it
    and why, is kept in audit.accepted_delivery_gap. The next ingest loads the held deltas.
    """
    from datetime import date

    from community_dw.sources.delta_gaps import accept_gap
    from community_dw.sources.file_ingest import FILE_DELIVERIES
    from community_dw.warehouse.session import warehouse_engine

    if source not in FILE_DELIVERIES:
        console.print(f"[red]unknown source '{source}'[/red]; choose from {', '.join(FILE_DELIVERIES)}")
        raise typer.Exit(1)
    try:
        first = date.fromisoformat(day)
        last = date.fromisoformat(through) if through else first
        added = accept_gap(warehouse_engine(), source, first, last, reason)
    except ValueError as error:
        console.print(f"[red]not accepted[/red]: {error}", highlight=False)
        raise typer.Exit(1) from None
    if added:
        console.print(f"accepted for {source}: no delivery on {', '.join(str(d) for d in added)}; "
                      "the next ingest loads the deltas held behind it", highlight=False)
    else:
        console.print(f"already accepted for {source}: nothing changed", highlight=False)


def main() -> None:  # pragma: no cover - console entry
    app()

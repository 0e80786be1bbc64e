"""`cdw report`: write the offline HTML reports (one per community, one for the city)."""

from __future__ import annotations

from pathlib import Path

import typer


def report_command(
    community: str = typer.Option(None, "--community", help="Only this community (as named in core.grid)."),
    out: Path = typer.Option(None, "--out", help="Folder to write to; default <output dir>/reports."),
) -> None:
    """Offline HTML reports: grid map coloured by vaccination coverage, key populations, outreach, data freshness.

    One file per community and city.html for the whole city (counts under 5 suppressed there). Everything is
    inlined: the reports open on a machine with no network.
    """
    from rich.console import Console

    from community_dw.report.build import build_reports
    from community_dw.warehouse.session import warehouse_engine

    console = Console(soft_wrap=True)
    try:
        paths = build_reports(warehouse_engine(), out, community)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    for path in paths:
        console.print(f"{path}  ({path.stat().st_size / 1e6:.1f} MB)")
    console.print(f"{len(paths)} reports in {paths[-1].parent}" if paths else "no reports written")


#: For `app.add_typer(report_app)` users; cdw registers `report_command` directly as `cdw report`.
report_app = typer.Typer(help="Offline HTML reports per community and for the city.")
report_app.command("build")(report_command)

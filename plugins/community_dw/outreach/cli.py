"""`cdw outreach`: build the lists, export them per grid worker, and take back what staff report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console

outreach_app = typer.Typer(help="Outreach lists for community staff: build, export per grid worker, ingest returns.",
                           no_args_is_help=True)
console = Console(soft_wrap=True)  # file paths and row messages stay on one line, copyable


@outreach_app.command("build")
def build(
    as_of: str = typer.Option(None, "--date", help="As-of date YYYY-MM-DD; default the date the core was built for."),
) -> None:
    """Apply the rules (outreach/rules.yaml) to the core: open new items, refresh and close old ones."""
    from community_dw.outreach.lists import build_outreach_lists
    from community_dw.warehouse.session import warehouse_engine

    summary = build_outreach_lists(warehouse_engine(), date.fromisoformat(as_of) if as_of else None)
    console.print(f"run {summary['run_id']} for {summary['as_of_date']}: opened {summary['items_opened']}, "
                  f"refreshed {summary['items_refreshed']}, closed {summary['items_closed']}, "
                  f"open now {summary['items_open_after']} ({summary['seconds']}s)")
    for rule_id, selected in summary["selected_per_rule"].items():
        console.print(f"  {rule_id}: {selected:,} selected")


@outreach_app.command("export")
def export(
    grid: str = typer.Option(None, "--grid", help="Only this grid (grid_code)."),
    worker: str = typer.Option(None, "--worker", help="Only this grid worker (name as in the grid register)."),
    out: Path = typer.Option(None, "--out", help="Folder to write to; default <output dir>/outreach."),
) -> None:
    """One XLSX (with a 走访结果 drop-down) and one CSV per grid worker, open items by priority."""
    from community_dw.outreach.export import export_lists
    from community_dw.warehouse.session import warehouse_engine

    if grid and worker:
        raise typer.BadParameter("give --grid or --worker, not both")
    exported = export_lists(warehouse_engine(), out, grid=grid, worker=worker)
    if not exported:
        console.print("no open outreach items" + (f" for {grid or worker}" if grid or worker else ""))
        return
    for item in exported:
        console.print(f"{item.worker} ({'、'.join(item.grid_codes) or '无网格'}): {item.items} → {item.xlsx}")
    console.print(f"[dim]CSV copies beside them; {len(exported)} worker list(s)[/dim]")


@outreach_app.command("feedback")
def feedback(files: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                                help="Returned lists (XLSX or CSV) with 走访结果 filled in.")) -> None:
    """Apply returned lists: close or keep items by outcome; bad rows are quarantined and listed."""
    from community_dw.outreach.feedback import FeedbackRejected, ingest_feedback
    from community_dw.warehouse.session import warehouse_engine

    engine = warehouse_engine()
    failed = False
    for path in files:
        try:
            result = ingest_feedback(engine, path)
        except FeedbackRejected as error:
            console.print(f"[red]✗ rejected[/red] {error}")
            failed = True
            continue
        if result["status"] == "skipped_duplicate":
            console.print(f"{path.name}: already loaded, skipped")
            continue
        console.print(f"{path.name}: {result['applied']} applied ({result['closed']} closed, "
                      f"{result['kept_open']} kept open, {result['item_already_closed']} already closed), "
                      f"{result['rows_blank_outcome']} without outcome, {result['quarantined']} quarantined")
        for message in result["problems"]:
            console.print(f"  [yellow]![/yellow] {message}")
        failed = failed or bool(result["problems"])
    if failed:
        raise typer.Exit(1)


def match_list_command(
    file: Path = typer.Argument(..., dir_okay=False, help="The list: XLSX or CSV, headers such as 姓名, 身份证号, 联系电话."),
    community: str = typer.Option(None, "--community", help="Match against this community's residents only "
                                  "(default: the whole city); its residents not on the list form the complement."),
    out: Path = typer.Option(None, "--out", help="Folder to write to; default <output dir>/match_list."),
    keys: bool = typer.Option(False, "--keys", help="Show person keys instead of pseudonymous references (engineers)."),
) -> None:
    """Annotate a staff list with the residents it names (person, confidence, grid, grid worker,
    vaccination status) and list the community's residents it leaves out."""
    from community_dw.outreach.match_list import MatchListError, match_list
    from community_dw.warehouse.session import warehouse_engine

    try:
        result = match_list(warehouse_engine(), file, community=community, out_dir=out, person_keys=keys)
    except MatchListError as error:
        console.print(f"[red]✗[/red] {error}")
        raise typer.Exit(1) from None
    counts = result.counts
    console.print(f"{file.name}: {counts['rows']} rows — matched {counts['matched']} "
                  f"({counts['by_id_number']} by ID number, {counts['probabilistic']} probabilistic), "
                  f"to verify {counts['to_verify']}, unmatched {counts['unmatched']} "
                  f"(candidates: {community or 'whole city'}, {counts['candidates']:,} persons; {result.seconds}s)")
    console.print(f"residents not on the list ({'、'.join(result.communities) or 'none'}): {counts['complement']}")
    console.print(f"→ {result.xlsx}")
    for path in result.csv:
        console.print(f"→ {path}")


outreach_app.command("match-list")(match_list_command)

"""`cdw simulate` subcommands."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

simulate_app = typer.Typer(help="Simulate the four departments' deliveries, with ground truth.", no_args_is_help=True)


@simulate_app.command("city")
def city(
    out: Path = typer.Option(None, "--out", help="Landing folder to write into (default: CDW_LANDING_DIR)."),
    residents: int = typer.Option(5000, "--residents", "-n", help="Residents on day 1."),
    seed: int = typer.Option(42, "--seed", help="Same seed, same bytes."),
    days: int = typer.Option(3, "--days", help="Simulated days: day 1 full snapshot, then daily deltas."),
    start_date: datetime = typer.Option("2026-11-01", "--start-date", formats=["%Y-%m-%d"], help="Date of day 1."),
    health_db_url: str = typer.Option(None, "--health-db-url", envvar="CDW_SIM_HEALTH_DB_URL",
                                      help="PostgreSQL URL of the health replica (database created if missing)."),
    through_day: int = typer.Option(None, "--through-day",
                                    help="Load the health database only as it stands after this day (default: last)."),
    defect_rate: list[str] = typer.Option(None, "--defect-rate", "-d",
                                          help="Override a defect rate, name=value (repeatable); see DefectRates."),
    defect_file: Path = typer.Option(None, "--defect-file", help="YAML mapping of defect-rate overrides."),
) -> None:
    """Generate one synthetic city: public security files, grid files, civil affairs API data, health DB, _truth/."""
    from community_dw.config import landing_dir
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig, parse_overrides
    from community_dw.simulate.defects import DefectRates

    rates = DefectRates().override(**parse_overrides(defect_rate, defect_file))
    cfg = SimConfig(residents=residents, seed=seed, days=days, start_date=start_date.date(), defects=rates)
    target = out or landing_dir()
    result = generate_city(target, cfg, health_db_url, through_day)
    typer.echo(f"city written to {result.out_dir}")
    for name, value in result.counts.items():
        typer.echo(f"  {name:28s} {value:>12,}")
    if result.health_rows is not None:
        typer.echo(f"  health vaccination_record rows {result.health_rows:>10,} (through day {through_day or days})")
    typer.echo("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))


@simulate_app.command("health-day")
def health_day(
    data: Path = typer.Option(..., "--data", help="The city folder written by `cdw simulate city`."),
    health_db_url: str = typer.Option(..., "--health-db-url", envvar="CDW_SIM_HEALTH_DB_URL"),
    day: int = typer.Option(..., "--day", help="Simulated day whose commits to apply (2..days)."),
) -> None:
    """Advance the health database by one simulated day (new rows, corrections, revocations, late commits)."""
    from community_dw.simulate.health import apply_health_day

    changed = apply_health_day(health_db_url, data, day)
    typer.echo(f"day {day}: {changed:,} row versions committed")


@simulate_app.command("serve-api")
def serve_api(
    data: Path = typer.Option(None, "--data", help="The city folder (default: CDW_LANDING_DIR)."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8765, "--port"),
    token: str = typer.Option(..., "--token", envvar="CDW_SIM_API_TOKEN", help="Bearer token clients must send."),
    throttle_rate: float = typer.Option(0.05, "--throttle-rate", help="Share of requests answered 429 + Retry-After."),
    error_rate: float = typer.Option(0.02, "--error-rate", help="Share of requests answered 503."),
    stall_rate: float = typer.Option(0.01, "--stall-rate", help="Share of requests left hanging, then dropped."),
    stall_seconds: float = typer.Option(30.0, "--stall-seconds"),
    change_rate: float = typer.Option(0.2, "--change-rate", help="Chance a page request re-saves a few records."),
    retry_after: int = typer.Option(1, "--retry-after", help="Seconds in the Retry-After header."),
    seed: int = typer.Option(0, "--seed"),
    as_of: str = typer.Option(None, "--as-of", help="Serve the data as of this ISO time (default: end of last day)."),
) -> None:
    """Serve the civil affairs API (SOURCES.md section 3) from a simulated city, faults included."""
    from community_dw.config import landing_dir
    from community_dw.simulate.api_server import serve_forever

    serve_forever(data or landing_dir(), token, host, port, throttle_rate=throttle_rate, error_rate=error_rate,
                  stall_rate=stall_rate, stall_seconds=stall_seconds, change_rate=change_rate,
                  retry_after=retry_after, seed=seed, as_of=as_of)

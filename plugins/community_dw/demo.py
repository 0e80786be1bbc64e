"""`make demo`: simulate the four departments and run every DAG with `airflow dags test`, then summarize.

It works on the embedded warehouse (or CDW_WAREHOUSE_URL) and starts from a clean slate each time:
the demo warehouse, the simulated health replica and the landing folder are recreated, so two runs
give the same result. Everything it writes lives under the git-ignored state folder.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from community_dw.config import TIMEZONE, output_dir, state_dir

console = Console()
INGEST_DAGS = ("ingest_health", "ingest_civil_affairs", "ingest_grid", "ingest_public_security")
#: Which drop folder a file-waiting DAG looks in; the demo skips a DAG on a day with no delivery,
#: as its sensor would after its timeout in production.
FILE_DAGS = {"ingest_grid": "grid", "ingest_public_security": "public_security"}


def _recreate_database(name: str) -> str:
    from community_dw.warehouse import embedded

    url = embedded.ensure_database("postgres")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        conn.exec_driver_sql(f'create database "{name}"')
    admin.dispose()
    return embedded.server_url(name)


def _airflow(env: dict[str, str], *args: str, log_file: Path) -> subprocess.Popen:
    """Start an `airflow` CLI command writing to its own log; `_wait` collects it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log = log_file.open("a")
    log.write(f"\n$ airflow {' '.join(args)}\n")
    log.flush()
    process = subprocess.Popen([str(Path(sys.executable).with_name("airflow")), *args], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    process.log_file = log_file  # type: ignore[attr-defined]
    process.args_text = " ".join(args)  # type: ignore[attr-defined]
    return process


def _wait(*processes: subprocess.Popen) -> None:
    """Wait for every command; on a failure show the end of its log and stop the demo."""
    for process in processes:
        if process.wait() != 0:
            log_file: Path = process.log_file  # type: ignore[attr-defined]
            tail = log_file.read_text(errors="replace").splitlines()[-40:]
            console.print("\n".join(tail), markup=False, highlight=False)
            raise SystemExit(f"airflow {process.args_text} failed (exit {process.returncode}); "  # type: ignore[attr-defined]
                             f"full log: {log_file}")


def _summary(engine: sa.Engine, landing: Path, logs: Path) -> None:
    from community_dw.warehouse.inventory import table_counts

    table = Table("layer", "table", "rows", title="What the warehouse holds now")
    for schema, name, rows in table_counts(engine):
        if schema != "audit" or name in ("load_run", "quality_result"):
            table.add_row(schema, name, f"{rows:,}")
    console.print(table)
    with engine.connect() as conn:
        loads = conn.execute(sa.text(
            "select status, count(*), coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0) "
            "from audit.load_run group by status order by status")).all()
        quality = conn.execute(sa.text(
            "select severity, success, count(*) from audit.quality_result group by severity, success "
            "order by severity, success")).all()
        coverage = conn.execute(sa.text(
            "select vaccine_code, sum(people), sum(vaccinated_complete) from mart.vaccination_coverage "
            "where area_level = 'subdistrict' group by vaccine_code order by vaccine_code")).all()
    console.print("[bold]Loads:[/bold] " + ", ".join(
        f"{count} {status} ({rows:,} rows, {quarantined:,} quarantined)" for status, count, rows, quarantined in loads))
    console.print("[bold]Quality checks:[/bold] " + ", ".join(
        f"{count} {severity} {'passed' if ok else 'failed'}" for severity, ok, count in quality))
    console.print("[bold]Complete-series coverage (whole city):[/bold] " + ", ".join(
        f"{code} {done / people:.0%}" for code, people, done in coverage if people))
    console.print(f"[bold]Data Docs:[/bold] {output_dir() / 'data_docs' / 'index.html'}")
    console.print(f"[bold]Reports (open in a browser, work offline):[/bold] {output_dir() / 'reports'}")
    console.print(f"[bold]Outreach lists per grid worker:[/bold] {output_dir() / 'outreach'}")
    console.print(f"[bold]Landing archive:[/bold] {landing / '_archive'}")
    console.print(f"[bold]Airflow logs of this demo:[/bold] {logs}")
    console.print("Explore: [cyan].venv/bin/cdw warehouse status[/cyan], [cyan]psql $(.venv/bin/cdw warehouse url "
                  "| sed 's/+psycopg2//')[/cyan], or [cyan]make airflow[/cyan] for the UI.")


def _export_outreach(engine: sa.Engine) -> None:
    from community_dw.outreach.export import export_lists

    export_lists(engine)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=int(os.environ.get("CDW_DEMO_RESIDENTS", 5000)))
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warehouse-db", default="cdw", help="embedded database to (re)create as the warehouse")
    parser.add_argument("--airflow-db", default="airflow_demo", help="embedded database for Airflow's metadata")
    parser.add_argument("--work-dir", type=Path, default=None, help="landing folder and logs (default .cdw/demo)")
    options = parser.parse_args(argv)
    started = time.perf_counter()

    from community_dw.airflow_env import airflow_connection_url, airflow_environment, ensure_airflow_db
    from community_dw.simulate.api_server import start_api
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig
    from community_dw.simulate.health import apply_health_day
    from community_dw.warehouse.migrate import migrate

    console.rule("[bold]community-dw demo")
    demo_dir = options.work_dir or state_dir() / "demo"
    landing = demo_dir / "landing"
    logs = demo_dir / "logs"
    shutil.rmtree(demo_dir, ignore_errors=True)
    landing.mkdir(parents=True)

    console.print("[cyan]1/5[/cyan] warehouse and the health department's source database")
    warehouse_url = os.environ.get("CDW_WAREHOUSE_URL") or _recreate_database(options.warehouse_db)
    health_url = _recreate_database(f"{options.warehouse_db}_health_source")
    engine = sa.create_engine(warehouse_url)
    migrate(engine)
    console.print(f"    warehouse {warehouse_url}")

    console.print(f"[cyan]2/5[/cyan] simulating a city of {options.residents:,} residents over {options.days} days")
    config = SimConfig(residents=options.residents, days=options.days, seed=options.seed)
    city = generate_city(landing, config, health_url, through_day=1)
    console.print("    " + ", ".join(f"{key} {value:,}" for key, value in city.counts.items()
                                     if key in ("persons_day1", "households_day1", "grids", "buildings",
                                                "health_records", "facilities", "service_recipients")))

    console.print("[cyan]3/5[/cyan] the civil-affairs API on loopback (throttling and errors switched on)")
    token = secrets.token_urlsafe(16)
    api = start_api(landing, token, throttle_rate=0.05, error_rate=0.02, change_rate=0.1, seed=options.seed)
    console.print(f"    {api.url}")

    console.print("[cyan]4/5[/cyan] Airflow: metadata database, connections, pool")
    # Its own metadata database: a local Airflow started with `make airflow` (scheduler included) must
    # not pick up and race the demo's test runs.
    env = {**os.environ, **airflow_environment(warehouse_url, metadata_db=options.airflow_db)}
    env.update({
        "AIRFLOW_CONN_HEALTH_IMMUNIZATION_DB": airflow_connection_url(health_url),
        "AIRFLOW_CONN_CIVIL_AFFAIRS_API": f"http://:{token}@{api.url.removeprefix('http://')}",
        "AIRFLOW_CONN_CDW_LANDING": f'{{"conn_type": "fs", "extra": {{"path": "{landing}"}}}}',
        # The demo's own sources win over anything inherited from the caller's environment.
        "CDW_CIVIL_AFFAIRS_URL": api.url,
        "CDW_CIVIL_AFFAIRS_TOKEN": token,
        "CDW_HEALTH_DB_URL": health_url,
        "CDW_LANDING_DIR": str(landing),
        "CDW_WAREHOUSE_URL": warehouse_url,
        "CDW_OUTPUT_DIR": str(output_dir()),
    })
    ensure_airflow_db(env)
    _wait(_airflow(env, "pools", "set", "cdw_warehouse", "2", "warehouse work", log_file=logs / "setup.log"))

    console.print(f"[cyan]5/5[/cyan] running the DAGs day by day (airflow dags test); logs: {logs}")
    try:
        for day in range(1, options.days + 1):
            run_day: date = config.day_date(day)
            if day > 1:
                apply_health_day(health_url, landing, day)
            end_of_day = datetime.combine(run_day, clock(23, 59, 59), ZoneInfo(TIMEZONE))
            api.state.set_as_of(end_of_day)
            # One at a time: every `dags test` process writes the serialized DAGs at start, and two
            # doing so at once collide in the metadata database.
            started_day = time.perf_counter()
            running = []
            for dag_id in INGEST_DAGS:
                folder = FILE_DAGS.get(dag_id)
                if folder and not any((landing / folder).glob(f"*_{run_day:%Y%m%d}.*")):
                    console.print(f"    {run_day} {dag_id:24s} [dim]no delivery today, skipped[/dim]")
                    continue
                # A logical time after the drop (deliveries arrive early; the DAGs run at 06:00-07:00).
                running.append(dag_id)
                _wait(_airflow(env, "dags", "test", dag_id, f"{run_day}T08:00:00+08:00",
                               log_file=logs / f"{run_day}_{dag_id}.log"))
            console.print(f"    {run_day} {len(running)} ingest DAGs      [green]success[/green] "
                          f"({time.perf_counter() - started_day:.0f}s)")
            # Asset-triggered in production; `dags test` runs them in the order the assets would.
            for dag_id in ("warehouse_build", "outreach_lists"):
                step_started = time.perf_counter()
                _wait(_airflow(env, "dags", "test", dag_id, f"{run_day}T08:00:00+08:00",
                               log_file=logs / f"{run_day}_{dag_id}.log"))
                console.print(f"    {run_day} {dag_id:24s} [green]success[/green] "
                              f"({time.perf_counter() - step_started:.0f}s)")
    finally:
        api.stop()

    console.print("    exporting outreach lists (one XLSX per grid worker)")
    _export_outreach(engine)
    console.rule(f"[bold]done in {time.perf_counter() - started:.0f}s")
    _summary(engine, landing, logs)


if __name__ == "__main__":
    main()

"""`make bench SCALE=N`: a city of N residents through the whole pipeline, timed stage by stage.

Prints one table (rows, seconds, rows/s, peak memory per stage, plus totals) for the initial load and
for a daily delta, with a plain PostgreSQL COPY of the largest delivery as the ingest baseline, and
writes the same figures as JSON under bench/results/. Runs on the embedded warehouse in databases of
its own (bench_warehouse, bench_health), recreated each time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

console = Console()
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Stage:
    phase: str
    name: str
    rows: int
    seconds: float
    peak_rss_mb: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class PeakMemory:
    """Samples this process's RSS every 50 ms: a stage's peak is what Python held during it
    (the PostgreSQL server's own memory is not counted)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakMemory:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _recreate(name: str) -> str:
    from community_dw.warehouse import embedded

    admin = sa.create_engine(embedded.ensure_database("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        conn.exec_driver_sql(f'create database "{name}"')
    admin.dispose()
    return embedded.server_url(name)


def _count(engine: sa.Engine, query: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(query)).scalar() or 0)


def copy_baseline(engine: sa.Engine, csv_path: Path) -> Stage:
    """A plain COPY of the same rows already in UTF-8: the yardstick for the ingest ratio."""
    utf8 = csv_path.with_suffix(".utf8.csv")
    utf8.write_bytes(csv_path.read_bytes().decode("gb18030").encode("utf-8"))
    header = utf8.open(encoding="utf-8").readline().strip().split(",")
    columns = ", ".join(f"c{i} text" for i in range(len(header)))
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute(f"drop table if exists public.copy_baseline; create table public.copy_baseline ({columns})")
        raw.commit()
        started = time.perf_counter()
        with raw.cursor() as cur, utf8.open("rb") as handle:
            cur.copy_expert("copy public.copy_baseline from stdin with (format csv, header true)", handle)
            rows = cur.rowcount
        raw.commit()
        seconds = time.perf_counter() - started
        with raw.cursor() as cur:
            cur.execute("drop table public.copy_baseline")
        raw.commit()
    finally:
        raw.close()
        utf8.unlink()
    return Stage("baseline", "plain COPY (UTF-8)", rows, seconds, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=100_000, help="residents on day 1")
    parser.add_argument("--seed", type=int, default=42)
    options = parser.parse_args()

    from community_dw.config import TIMEZONE, state_dir
    from community_dw.simulate.api_server import start_api
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig
    from community_dw.simulate.health import apply_health_day

    work = state_dir() / "bench" / f"city_{options.scale}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    warehouse_url, health_url = _recreate("bench_warehouse"), _recreate("bench_health")
    os.environ.update({"CDW_WAREHOUSE_URL": warehouse_url, "CDW_LANDING_DIR": str(work),
                       "CDW_HEALTH_DB_URL": health_url})
    from community_dw import pipeline
    from community_dw.ingest import DEPARTMENTS, ingest_all
    from community_dw.warehouse.session import warehouse_engine

    stages: list[Stage] = []

    def measure(phase: str, name: str, func, rows_query: str | None = None, rows: int | None = None,
                grows_by: str | None = None):
        """Time func; its rows are `rows`, or what rows_query counts after it, or how much grows_by grew."""
        console.print(f"[cyan]{phase}[/cyan] {name} …")
        before = _count(warehouse_engine(), grows_by) if grows_by else 0
        with PeakMemory() as memory:
            started = time.perf_counter()
            result = func()
            seconds = time.perf_counter() - started
        if rows is not None:
            counted = rows
        elif grows_by:
            counted = _count(warehouse_engine(), grows_by) - before
        else:
            counted = _count(warehouse_engine(), rows_query) if rows_query else 0
        stages.append(Stage(phase, name, counted, seconds, memory.peak / 2**20))
        console.print(f"  {seconds:.1f}s, {counted:,} rows, peak {memory.peak / 2**20:,.0f} MB")
        return result

    config = SimConfig(residents=options.scale, days=2, seed=options.seed)
    city = measure("initial", "simulate (all four departments)",
                   lambda: generate_city(work, config, health_url, through_day=1), rows=options.scale)
    api = start_api(work, "bench-token", throttle_rate=0.05, retry_after=0, seed=options.seed)
    os.environ.update({"CDW_CIVIL_AFFAIRS_URL": api.url, "CDW_CIVIL_AFFAIRS_TOKEN": "bench-token"})
    full_csv = next((work / "public_security").glob("residents_full_*.csv"), None)
    day1, day2 = config.day_date(1), config.day_date(2)
    try:
        api.state.set_as_of(datetime.combine(day1, clock(23, 59, 59), ZoneInfo(TIMEZONE)))
        for phase, day in (("initial", day1), ("delta", day2)):
            if phase == "delta":
                apply_health_day(health_url, work, 2)
                api.state.set_as_of(datetime.combine(day2, clock(23, 59, 59), ZoneInfo(TIMEZONE)))
            if phase == "initial" and full_csv is not None:
                saved = full_csv.with_suffix(".keep")
                shutil.copyfile(full_csv, saved)
            measure(phase, "ingest (4 departments -> raw)", lambda d=day: ingest_all(d),
                    grows_by="select coalesce(sum(rows_loaded), 0) from audit.load_run")
            for department in DEPARTMENTS:  # one stage each: where standardization time goes
                measure(phase, f"standardize {department}", lambda d=department: pipeline.standardize([d]),
                        grows_by="select coalesce(sum(s.rows_in), 0) from audit.load_step s join audit.load_run r "
                                 f"using (load_id) where s.step = 'standardize' and r.source like '{department}.%'")
            measure(phase, "gate staging (Great Expectations)", lambda: pipeline.gate_layer("staging"))
            measure(phase, "resolve persons (deterministic + Splink)", pipeline.resolve_persons,
                    "select count(*) from core.person_link")
            build = measure(phase, "core (SQL)", lambda d=day: pipeline.build_core(d), "select count(*) from core.person")
            stages[-1].name = f"core (SQL; {build['mode']}, {build['persons_rebuilt']:,} persons rebuilt)"
            measure(phase, "marts (SQL)", pipeline.build_marts)
            measure(phase, "gate marts + publish", lambda: (pipeline.gate_layer("mart"), pipeline.publish_marts()))
            measure(phase, "outreach lists", lambda d=day: pipeline.build_outreach(d),
                    "select count(*) from outreach.list_item where status = 'open'")
            measure(phase, "gate outreach", lambda: pipeline.gate_layer("outreach"))
    finally:
        api.stop()
    if full_csv is not None:
        stages.append(copy_baseline(warehouse_engine(), full_csv.with_suffix(".keep")))

    table = Table("phase", "stage", "rows", "seconds", "rows/s", "peak MB", title=f"community-dw, {options.scale:,} residents")
    for stage in stages:
        table.add_row(stage.phase, stage.name, f"{stage.rows:,}", f"{stage.seconds:.1f}", f"{stage.rows_per_s:,.0f}",
                      f"{stage.peak_rss_mb:,.0f}")
    for phase in ("initial", "delta"):
        picked = [s for s in stages if s.phase == phase and not s.name.startswith("simulate")]
        table.add_row(phase, "[bold]total (pipeline)[/bold]", "", f"{sum(s.seconds for s in picked):.1f}", "",
                      f"{max(s.peak_rss_mb for s in picked):,.0f}")
    console.print(table)
    totals = {phase: sum(s.seconds for s in stages if s.phase == phase and not s.name.startswith("simulate"))
              for phase in ("initial", "delta")}
    peak_gb = max(s.peak_rss_mb for s in stages if s.phase == "initial" and not s.name.startswith("simulate")) / 1024
    # Issue #12's targets are for a city of a million on 2 cores; at other sizes they are a yardstick only.
    console.print(f"targets (1,000,000 residents): initial ≤ 600 s and 6 GB — {totals['initial']:.0f} s, "
                  f"{peak_gb:.1f} GB; daily delta ≤ 60 s — {totals['delta']:.0f} s")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench_{options.scale}_{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"scale": options.scale, "counts": city.counts,
                               "stages": [asdict(s) | {"rows_per_s": s.rows_per_s} for s in stages]}, indent=2))
    console.print(f"figures written to {out}")


if __name__ == "__main__":
    main()

"""Ingest speed (issue 5): a 1,000,000-row GB18030 resident CSV into raw vs a plain COPY of the same
rows in UTF-8, side by side; and 10,000 facilities pulled from the simulator's API with 5% of answers
throttled. Prints rows/s, seconds and the ratio; asserts nothing.

The machine is shared: the load average is printed with the figures, `--repeat N` measures the
ingest and the plain COPY N times alternately (ratio per pair and median), `--csv PATH` reuses a
delivery generated before (`--keep-csv PATH` writes it) so only the loads are timed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

console = Console()


def _fresh_database(name: str) -> str:
    from community_dw.warehouse import embedded
    from community_dw.warehouse.migrate import migrate

    admin = sa.create_engine(embedded.ensure_database("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        conn.exec_driver_sql(f'create database "{name}"')
    admin.dispose()
    url = embedded.server_url(name)
    migrate(sa.create_engine(url))
    return url


def resident_csv(path: Path, rows: int) -> None:
    """A resident delivery of `rows` rows in GB18030 with CRLF, from the simulator's generators."""
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig

    city = path.parent / "city"
    generate_city(city, SimConfig(residents=rows, days=1, seed=1))
    shutil.move(next((city / "public_security").glob("residents_full_*.csv")), path)
    shutil.rmtree(city)


def plain_copy(engine: sa.Engine, csv_gb18030: Path) -> tuple[int, float]:
    """COPY of the same rows already in UTF-8 into a plain (logged, unindexed) all-text table."""
    utf8 = csv_gb18030.with_name("baseline_utf8.csv")
    if not utf8.exists():
        utf8.write_bytes(csv_gb18030.read_bytes().decode("gb18030").encode("utf-8"))
    width = len(utf8.open(encoding="utf-8").readline().split(","))
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("drop table if exists public.copy_baseline")
            cur.execute("create table public.copy_baseline (" + ", ".join(f"c{i} text" for i in range(width)) + ")")
        raw.commit()
        started = time.perf_counter()
        with raw.cursor() as cur, utf8.open("rb") as handle:
            cur.copy_expert("copy public.copy_baseline from stdin with (format csv, header true)", handle)
            rows = cur.rowcount
        raw.commit()
        return rows, time.perf_counter() - started
    finally:
        raw.close()


def land_residents(engine: sa.Engine, csv_gb18030: Path, landing: Path) -> tuple[int, float]:
    from community_dw.sources.file_ingest import FILE_DELIVERIES, ingest_file

    drop = landing / "public_security" / csv_gb18030.name
    drop.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(csv_gb18030, drop)
    shutil.rmtree(landing / "_archive", ignore_errors=True)
    with engine.begin() as conn:  # a repeat is a first delivery again, not a skipped duplicate
        conn.exec_driver_sql("delete from audit.landing_file; delete from audit.load_run "
                             "where source = 'public_security.residents'; truncate raw.public_security__resident")
    started = time.perf_counter()
    outcome = ingest_file(engine, FILE_DELIVERIES["public_security.residents"], drop)
    return outcome.rows_loaded, time.perf_counter() - started


def pull_facilities(engine: sa.Engine, folder: Path, count: int, throttle: float) -> tuple[int, float, int]:
    from community_dw.simulate.api_server import running_api
    from community_dw.sources.http_api import FACILITIES, ApiSettings, pull_endpoint

    api_dir = folder / "_api" / "civil_affairs"
    api_dir.mkdir(parents=True)
    categories = ["养老服务", "儿童关爱", "医疗卫生", "文化体育", "党群服务", "便民服务"]
    facilities = [{"facility_id": f"MZ-442000-{i:06d}", "name": f"设施{i}", "category": categories[i % 6],
                   "address": f"广东省中山市石岐街道某路{i}号", "longitude": 113.39 + (i % 100) / 1000,
                   "latitude": 22.52 + (i // 100) / 1000, "capacity": 20, "status": "运营",
                   "community": "某社区", "subdistrict": "石岐街道",
                   "updated_at": f"2026-10-{1 + i % 28:02d}T08:00:00+08:00"} for i in range(count)]
    (api_dir / "facilities.json").write_text(json.dumps(facilities, ensure_ascii=False), encoding="utf-8")
    (api_dir / "service_recipients.json").write_text("[]", encoding="utf-8")
    (api_dir / "meta.json").write_text(json.dumps({"as_of": "2026-11-01T23:59:59+08:00"}), encoding="utf-8")
    with running_api(folder, "bench", throttle_rate=throttle, retry_after=1, seed=5) as api:
        started = time.perf_counter()
        outcome = pull_endpoint(engine, FACILITIES, ApiSettings(api.url, "bench", page_size=500))
        return outcome.rows_loaded, time.perf_counter() - started, api.state.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--facilities", type=int, default=10_000)
    parser.add_argument("--throttle", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=1, help="ingest / plain COPY pairs to measure")
    parser.add_argument("--csv", type=Path, help="a resident delivery generated before (GB18030)")
    parser.add_argument("--keep-csv", type=Path, help="keep the generated delivery here")
    parser.add_argument("--skip-api", action="store_true")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cdw-bench-ingest-"))
    pairs: list[tuple[int, float, int, float, float]] = []
    pulled = None
    try:
        os.environ["CDW_LANDING_DIR"] = str(work / "landing")
        engine = sa.create_engine(_fresh_database("bench_ingest"))
        csv_path = work / "residents_full_20261101.csv"
        if options.csv:
            shutil.copyfile(options.csv, csv_path)
        else:
            console.print(f"generating a {options.rows:,}-row GB18030 resident delivery …")
            resident_csv(csv_path, options.rows)
            if options.keep_csv:
                shutil.copyfile(csv_path, options.keep_csv)
        size_mb = csv_path.stat().st_size / 2**20
        for _ in range(options.repeat):
            landed_rows, landed_s = land_residents(engine, csv_path, work / "landing")
            copy_rows, copy_s = plain_copy(engine, csv_path)
            pairs.append((landed_rows, landed_s, copy_rows, copy_s, os.getloadavg()[0]))
        if not options.skip_api:
            pulled, pull_s, requests = pull_facilities(engine, work / "api", options.facilities, options.throttle)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = Table("measure", "rows", "seconds", "rows/s", title=f"ingest ({size_mb:,.0f} MB GB18030 CSV)")
    ratios = []
    for landed_rows, landed_s, copy_rows, copy_s, load in pairs:
        ratios.append((landed_rows / landed_s) / (copy_rows / copy_s))
        table.add_row("cdw: archive + parse + COPY into raw (GB18030)", f"{landed_rows:,}", f"{landed_s:.1f}",
                      f"{landed_rows / landed_s:,.0f}")
        table.add_row(f"plain COPY of the same rows in UTF-8 (ratio {ratios[-1]:.2f}, load avg {load:.1f})",
                      f"{copy_rows:,}", f"{copy_s:.1f}", f"{copy_rows / copy_s:,.0f}")
    if pulled is not None:
        table.add_row(f"API pull, {options.throttle:.0%} throttled ({requests} requests)", f"{pulled:,}",
                      f"{pull_s:.1f}", f"{pulled / pull_s:,.0f}")
    console.print(table)
    console.print(f"ingest rate / plain COPY rate = {statistics.median(ratios):.2f} (median of {len(ratios)}; "
                  f"target ≥ 0.5); API pull target < 60 s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

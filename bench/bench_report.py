"""Time building every community report (and the city report) for a large generated city.

The city's places come from the simulator's geography (grid polygons and building points, default
1,000,000 residents: ~67 communities, ~1,000 grids); residents, vaccination status, service
recipients, facilities, audit rows and outreach items are generated in SQL into a throwaway warehouse,
and the marts are built by the project's own sql/mart/*.sql. Then build_reports writes every report.
Prints seconds (warehouse read, rendering, total) and sizes; figures are printed, never asserted.

    .venv/bin/python bench/bench_report.py [--residents N] [--keep-out DIR]

Uses CDW_TEST_DATABASE_URL's server when set, else the embedded PostgreSQL. Target: 1,000,000
residents in at most 60 s.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

AS_OF = date(2026, 11, 2)

CORE_DDL = """
drop table if exists core.person, core.grid, core.building, core.facility, core.service_recipient,
    core.vaccination_status;
create table core.grid (
    grid_code text primary key, grid_name text, community text, subdistrict text, grid_worker_name text,
    grid_worker_phone text, grid_leader_name text, geometry_wkt text, geometry_issue text);
create table core.building (
    building_code text primary key, address text, longitude double precision, latitude double precision,
    grid_code text, households int);
create table core.facility (
    facility_id text primary key, name text, category text, status text, is_open boolean, capacity int,
    address text, community text, subdistrict text, longitude double precision, latitude double precision);
"""

GENERATE = """
insert into core.as_of (as_of_date) values (:as_of)
    on conflict (singleton) do update set as_of_date = excluded.as_of_date;
create table core.person as
with slots as (
    select b.building_code, b.grid_code, g.community, g.subdistrict, h as household, m as member
    from core.building b
    join core.grid g using (grid_code)
    cross join lateral generate_series(1, b.households) h
    cross join lateral generate_series(1, 1 + (hashtext(b.building_code || h) & 2147483647) % 4) m
)
select row_number() over ()::bigint as person_key,
       'resident' as residency_status, building_code, grid_code, community, subdistrict,
       building_code || '-' || household as household_no,
       (hashtext(building_code || household || member) & 2147483647) % 96 as age_years,
       case when (hashtext(building_code || household) & 7) < 3 then '流动人口' else '户籍人口' end as population_type,
       case when member % 2 = 0 then 'F' else 'M' end as sex
from slots;
create table core.service_recipient as
select 'R' || person_key as recipient_id, person_key,
       (array['特困人员', '低保', '残疾人', '高龄独居', '困境儿童'])[1 + person_key % 5] as category,
       community, true as is_current
from core.person where (hashint8(person_key) & 1023) < 20;
create table core.vaccination_status as
select p.person_key, c.vaccine_code,
       (hashint8(p.person_key * 31 + length(c.vaccine_code)) & 1023) < 700 as has_any_dose,
       (hashint8(p.person_key * 31 + length(c.vaccine_code)) & 1023) < 550 as is_complete
from core.person p
join core.vaccine_catalogue c
  on p.age_years * 12 >= coalesce(c.min_age_months, 0)
 and (c.max_age_years is null or p.age_years <= c.max_age_years)
 and (c.sex is null or c.sex = p.sex);
"""

AUDIT_AND_OUTREACH = """
insert into audit.load_run (source, delivery_name, logical_date, status, rows_read, rows_loaded, finished_at)
select source, 'bench', :as_of, 'succeeded', n, n, now()
from (values ('public_security.residents', 1000000), ('health.vaccination_record', 3000000),
             ('civil_affairs.facilities', 1000), ('civil_affairs.service_recipients', 20000),
             ('grid.grids', 1000), ('grid.buildings', 10000)) v(source, n);
insert into outreach.rule (rule_id, reason, priority, vaccine_code, definition, predicate_sql)
values ('bench_rule', 'bench', 1, 'FLU', '{}', 'true') on conflict do nothing;
insert into outreach.run (as_of_date, rules_hash, finished_at)
select d, 'bench', now() from (values (:as_of - 14), (:as_of - 7), (:as_of)) v(d);
insert into outreach.list_item (person_key, rule_id, vaccine_code, dose_number_due, priority, reason, community,
    grid_code, doses_counted, due_date, days_overdue, status, closed_reason, last_outcome, last_outcome_at,
    opened_run_id, last_seen_run_id, opened_as_of, closed_at)
select p.person_key, 'bench_rule', 'FLU', 1, 1, 'bench', p.community, p.grid_code, 0, :as_of - 30, 30,
       case when k < 2 then 'closed' else 'open' end,
       case when k = 0 then 'need_met' when k = 1 then 'refused' end,
       case when k < 4 then (array['已接种', '拒绝', '联系不上', '已接种'])[k + 1] end,
       case when k < 4 then (:as_of - (k * 3))::timestamptz end,
       (select min(run_id) from outreach.run), (select max(run_id) from outreach.run),
       :as_of - 14 + (p.person_key % 3)::int * 7,
       case when k < 2 then (:as_of - 2)::timestamptz end
from (select person_key, community, grid_code, (hashint8(person_key) & 15)::int as k
      from core.person where age_years >= 60) p;
"""


def _server_url() -> str:
    from community_dw.config import normalize_postgres_url

    if url := os.environ.get("CDW_TEST_DATABASE_URL"):
        return normalize_postgres_url(url)
    from community_dw.warehouse import embedded

    return embedded.ensure_database("postgres")


def _copy(engine: sa.Engine, table: str, frame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.copy_expert(f"copy {table} ({', '.join(frame.columns)}) from stdin with (format csv)", buffer)
        raw.commit()
    finally:
        raw.close()


def generate(engine: sa.Engine, residents: int) -> dict[str, int]:
    """Places from the simulator's geography; people, marts, audit and outreach in SQL."""
    import pandas as pd
    import shapely

    from community_dw.simulate.defects import DefectRates
    from community_dw.simulate.geography import build_geography, geometry_to_lonlat
    from community_dw.warehouse.sql_runner import run_sql

    rng = np.random.default_rng(7)
    households = int(residents / 2.5)
    geo = build_geography(households, residents, 15000, 400, DefectRates(), rng)
    grids = geo.grids
    wkt = shapely.to_wkt(np.array([geometry_to_lonlat(g) for g in grids["geometry_m"]], dtype=object),
                         rounding_precision=7)
    with engine.begin() as conn:
        conn.exec_driver_sql(CORE_DDL)
    _copy(engine, "core.grid", pd.DataFrame({
        "grid_code": grids["grid_code"], "grid_name": grids["grid_name"], "community": grids["community"],
        "subdistrict": grids["subdistrict"], "grid_worker_name": grids["grid_worker_name"], "geometry_wkt": wkt}))
    b = geo.buildings
    _copy(engine, "core.building", b[["building_code", "address", "longitude", "latitude", "grid_code", "households"]])
    n_fac = max(10, residents // 1000)
    pick = rng.integers(0, len(b), n_fac)
    categories = np.array(["养老服务", "医疗卫生", "便民服务", "党群服务", "文化体育", "儿童关爱"])
    _copy(engine, "core.facility", pd.DataFrame({
        "facility_id": [f"F{i:05d}" for i in range(n_fac)], "name": [f"设施{i}" for i in range(n_fac)],
        "category": categories[rng.integers(0, len(categories), n_fac)], "status": "运营", "is_open": True,
        "community": b["community"].to_numpy()[pick], "longitude": b["longitude"].to_numpy()[pick] + 0.001,
        "latitude": b["latitude"].to_numpy()[pick] + 0.001}))
    with engine.begin() as conn:
        conn.execute(sa.text(GENERATE), {"as_of": AS_OF})
        for mart in ("resident_population", "vaccination_coverage", "key_population", "grid_workload",
                     "facility_access"):
            run_sql(conn, f"mart/{mart}")
        conn.execute(sa.text(AUDIT_AND_OUTREACH), {"as_of": AS_OF})
        counts = {name: conn.execute(sa.text(f"select count(*) from {name}")).scalar() for name in
                  ("core.person", "core.grid", "core.building", "core.facility", "mart.vaccination_coverage",
                   "outreach.list_item")}
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--keep-out", type=Path, help="write the reports here (default: a temporary folder)")
    options = parser.parse_args()

    from community_dw.report import build_reports
    from community_dw.report.charts import vega_bundle
    from community_dw.report.data import load_city
    from community_dw.warehouse.migrate import migrate

    server = _server_url()
    name = f"cdw_bench_report_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    try:
        migrate(engine)
        started = time.perf_counter()
        counts = generate(engine, options.residents)
        print(f"generated in {time.perf_counter() - started:.1f}s: "
              + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)

        # the parts, for orientation (build_reports below is the timed whole, from a cold start)
        t = time.perf_counter()
        load_city(engine)
        read_s = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            out = options.keep_out or Path(tmp)
            vega_bundle.cache_clear()
            t = time.perf_counter()
            paths = build_reports(engine, out)
            total_s = time.perf_counter() - t
            sizes = [p.stat().st_size for p in paths]
            city = paths[-1].stat().st_size
        print(f"residents {counts['core.person']:,}: {len(paths) - 1} community reports + city report "
              f"in {total_s:.1f}s (warehouse read {read_s:.1f}s); "
              f"{sum(sizes) / 1e6:.0f} MB, community report median {np.median(sizes[:-1]) / 1e6:.2f} MB, "
              f"city report {city / 1e6:.2f} MB; target <= 60 s: {'met' if total_s <= 60 else 'NOT met'}")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        admin.dispose()


if __name__ == "__main__":
    main()

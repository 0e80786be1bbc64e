"""Time outreach list building on a generated core (default 1,000,000 persons) in a throwaway database.

The core is generated in SQL (persons in households and 1,000 grids, doses for COVID, flu, PPSV23,
MMR, HEPB, civil-affairs 高龄独居 recipients), core.vaccination_status is built by the project's own
sql/core/vaccination_status.sql, then build_outreach_lists runs three times: the first run (every item
new), a second run on the same data (steady state: refresh only), and a run after 5% of the listed
people got a dose (closes). Prints seconds and rows/s; figures are printed, never asserted.

    .venv/bin/python bench/bench_outreach.py [--persons N] [--export]

With --truth, it measures instead of timing: a city of --residents is simulated (defects at their
default rates), run through the real pipeline (run_pipeline: ingest -> resolve -> core -> marts ->
outreach lists), day by day with --daily (so items open, refresh and close as the days go), and the
open items are scored against the needs recomputed from the simulator's truth
(tests/integration/outreach/outreach_truth.py): precision and recall per rule and overall, and
every miss with its cause (resolution merge/split, missing dose link, age, residency, ...).

    flock /tmp/cdw-bench.lock .venv/bin/python bench/bench_outreach.py --truth [--residents 100000]
        [--days 3] [--seed 23] [--daily] [--keep] [--show N]

Uses CDW_TEST_DATABASE_URL's server when set, else the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(1, str(ROOT))  # tests.integration.outreach.outreach_truth for --truth

AS_OF = date(2026, 11, 2)

GENERATE_CORE = """
drop table if exists core.person, core.grid, core.building, core.service_recipient, core.vaccination_dose;
insert into core.as_of (as_of_date) values (:as_of)
    on conflict (singleton) do update set as_of_date = excluded.as_of_date;
create table core.grid as
select 'G' || lpad(g::text, 4, '0') as grid_code, '网格' || g as grid_name, '社区' || (g / 50) as community,
       '街道' as subdistrict, '网格员' || g as grid_worker_name, '139' || lpad(g::text, 8, '0') as grid_worker_phone,
       null::text as grid_leader_name, null::text as geometry_wkt, null::text as geometry_issue
from generate_series(1, :grids) g;
create table core.building as
select 'B' || lpad(b::text, 6, '0') as building_code, '路' || b || '号' as address, null::text as address_key,
       null::float8 as longitude, null::float8 as latitude, null::text as coord_issue,
       'G' || lpad((b % :grids + 1)::text, 4, '0') as grid_code, null::text as registered_grid_code,
       false as grid_disagrees
from generate_series(1, :persons / 40) b;
create table core.person as
with people as (
    select i,
           -- ages 0..95, a little older-heavy like a real community
           (cast(:as_of as date) - make_interval(days => (hashint4(i) & 2147483647) % 35000))::date as birth_date,
           -- households of three, but every 7th household is one person alone
           case when i % 7 = 0 then 'S' || i else 'H' || (i / 3) end as household_no,
           'B' || lpad(((i / 3) % (:persons / 40) + 1)::text, 6, '0') as building_code
    from generate_series(1, :persons) i
)
select i::bigint as person_key, '442000' || to_char(birth_date, 'YYYYMMDD') || lpad((i % 10000)::text, 4, '0')
           as id_number, true as id_valid, '居民' || i as name, null::text as name_pinyin, birth_date,
       case when i % 2 = 0 then 'F' else 'M' end as sex,
       case when i % 10 = 0 then null else '138' || lpad(i::text, 8, '0') end as phone_primary,
       extract(year from age(cast(:as_of as date), birth_date))::int as age_years,
       case when i % 50 = 0 then 'moved_out' else 'resident' end as residency_status,
       household_no, p.building_code, b.grid_code, '社区' as community, '街道' as subdistrict,
       case when i % 5 = 0 then '流动人口' else '户籍人口' end as population_type, array['bench'] as known_to
from people p join core.building b using (building_code);
alter table core.person add primary key (person_key);
create table core.service_recipient as
select 'R' || person_key as recipient_id, person_key, '高龄独居'::text as category, community,
       null::date as valid_from, null::date as valid_to, true as is_current
from core.person where age_years >= 80 and person_key % 4 = 0;
create table core.vaccination_dose as
with plan as (
    select person_key, birth_date, age_years, hashint4(person_key::int * 31) & 2147483647 as h from core.person
),
doses as (
    -- COVID: 0-3 doses from 2021 for those 3+
    select person_key, 'COVID-INACT' as vaccine_code, date '2021-04-01' + n * 40 as vaccinated_date
    from plan, generate_series(1, h % 4) n where age_years >= 3
    union all
    -- flu: 40% this season, 20% last season only
    select person_key, 'FLU', case when h % 5 < 2 then date '2026-10-01' else date '2025-10-15' end
    from plan where h % 5 < 3
    union all
    select person_key, 'PPSV23', date '2022-05-01' from plan where age_years >= 60 and h % 2 = 0
    union all
    -- MMR: dose 1 at 8 months for 90%, dose 2 at 18 months for 70%
    select person_key, 'MMR', birth_date + 243 from plan where h % 10 < 9 and birth_date + 243 <= :as_of
    union all
    select person_key, 'MMR', birth_date + 548 from plan where h % 10 < 7 and birth_date + 548 <= :as_of
    union all
    select person_key, 'HEPB', birth_date + (n - 1) * 60 from plan, generate_series(1, 3) n where h % 20 <> 0
)
select person_key, vaccine_code, vaccinated_date,
       row_number() over (partition by person_key, vaccine_code order by vaccinated_date)::int as dose_sequence,
       null::int as dose_number_recorded, null::timestamptz as vaccinated_at, null::text as site_name,
       null::bigint[] as record_ids
from doses;
alter table core.vaccination_dose add primary key (person_key, vaccine_code, vaccinated_date);
analyze core.person; analyze core.vaccination_dose; analyze core.service_recipient;
"""


def _server_url() -> str:
    from community_dw.config import normalize_postgres_url

    if url := os.environ.get("CDW_TEST_DATABASE_URL"):
        return normalize_postgres_url(url)
    from community_dw.warehouse import embedded

    return embedded.ensure_database("postgres")


def measure_against_truth(args: argparse.Namespace) -> None:
    from tests.integration.marts.truth_figures import Truth
    from tests.integration.outreach import outreach_truth as ot

    server = _server_url()
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    tag = uuid.uuid4().hex[:8]
    names = [f"cdw_bench_outreach_truth_{tag}", f"cdw_bench_outreach_health_{tag}"]
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'create database "{name}"')
    url, health_url = (make_url(server).set(database=n).render_as_string(hide_password=False) for n in names)
    folder = tempfile.mkdtemp(prefix="cdw_bench_outreach_")
    engine = sa.create_engine(url)
    try:
        from community_dw.warehouse.migrate import migrate

        migrate(engine)
        print(f"city of {args.residents:,} residents, seed {args.seed}, {args.days} days "
              f"({'pipeline every day' if args.daily else 'pipeline once for the last day'}), default defect rates")
        seconds = ot.simulate_and_build(Path(folder), url, health_url, args.residents, args.days, args.seed, args.daily)
        started = time.perf_counter()
        truth = Truth.load(Path(folder))
        expected = ot.expected_needs(truth)
        got = ot.listed(engine, truth)
        scored = ot.score(expected, got, truth)
        seconds["score"] = time.perf_counter() - started
        print(", ".join(f"{k} {v:.0f}s" for k, v in seconds.items()))
        print(f"as of {truth.as_of}: {len(truth.residents):,} residents in truth; resolution: "
              f"{len(got.split_persons):,} persons split, {len(got.merged_keys):,} keys merging persons")
        print(scored.report())
        if args.show:
            columns = ["person_key", "person_id", "rule_id", "cause"]
            for title, frame in (("listed, not expected", scored.false_positives),
                                 ("expected, not listed", scored.false_negatives)):
                if len(frame):
                    print(f"\n{title} (first {args.show}):")
                    print(frame[[c for c in columns if c in frame]].head(args.show).to_string(index=False))
        if args.keep:
            print(f"kept: warehouse {url}\n      health {health_url}\n      city {folder}")
    finally:
        engine.dispose()
        if not args.keep:
            from community_dw.warehouse.connection import _engine_for

            _engine_for(url).dispose()
            with admin.connect() as conn:
                for name in names:
                    conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--export", action="store_true", help="also time the XLSX/CSV export of every list")
    parser.add_argument("--truth", action="store_true",
                        help="measure precision and recall against a simulated city's truth instead of timing")
    parser.add_argument("--residents", type=int, default=100_000, help="--truth: city size")
    parser.add_argument("--days", type=int, default=3, help="--truth: simulated days")
    parser.add_argument("--seed", type=int, default=23, help="--truth: simulator seed")
    parser.add_argument("--daily", action="store_true", help="--truth: run the pipeline for every day, not once")
    parser.add_argument("--keep", action="store_true", help="--truth: keep the databases and the city folder")
    parser.add_argument("--show", type=int, default=20, help="--truth: print this many misses of each kind")
    args = parser.parse_args()
    if args.truth:
        measure_against_truth(args)
        return

    from community_dw.outreach.lists import build_outreach_lists
    from community_dw.warehouse.migrate import migrate
    from community_dw.warehouse.sql_runner import run_sql

    server = _server_url()
    name = f"cdw_bench_outreach_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    try:
        migrate(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(sa.text(GENERATE_CORE), {"as_of": AS_OF, "persons": args.persons,
                                                  "grids": max(args.persons // 1000, 1)})
        generated = time.perf_counter() - started
        started = time.perf_counter()
        with engine.begin() as conn:
            run_sql(conn, "core/vaccination_status")
            statuses = conn.execute(sa.text("select count(*) from core.vaccination_status")).scalar()
        status_seconds = time.perf_counter() - started
        print(f"generated core: {args.persons:,} persons in {generated:.1f}s; "
              f"core.vaccination_status {statuses:,} rows in {status_seconds:.1f}s (not part of outreach)")

        def timed(label: str) -> dict:
            summary = build_outreach_lists(engine)
            print(f"{label:<34} {summary['seconds']:7.2f}s  {args.persons / summary['seconds']:>11,.0f} persons/s  "
                  f"{statuses / summary['seconds']:>11,.0f} status rows/s  opened {summary['items_opened']:,}, "
                  f"refreshed {summary['items_refreshed']:,}, closed {summary['items_closed']:,}, "
                  f"open {summary['items_open_after']:,}")
            return summary

        timed("first run (every item new)")
        timed("second run (same data)")
        with engine.begin() as conn:
            conn.execute(sa.text(
                "insert into core.vaccination_dose (person_key, vaccine_code, vaccinated_date, dose_sequence) "
                "select person_key, vaccine_code, date '2026-11-01', dose_number_due from outreach.list_item "
                "where status = 'open' and item_id % 20 = 0 on conflict do nothing"))
            run_sql(conn, "core/vaccination_status")
        timed("after doses for 5% of items")

        if args.export:
            from community_dw.outreach.export import export_lists

            with tempfile.TemporaryDirectory() as folder:
                started = time.perf_counter()
                exported = export_lists(engine, Path(folder))
                seconds = time.perf_counter() - started
                rows = sum(item.items for item in exported)
                print(f"export: {len(exported):,} workers, {rows:,} rows in {seconds:.1f}s ({rows / seconds:,.0f} rows/s)")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        admin.dispose()


if __name__ == "__main__":
    main()

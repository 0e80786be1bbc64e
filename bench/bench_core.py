"""Time building core and marts for a large city: seconds per table and in total (printed, never asserted).

Staging and person links are synthesized in SQL into a throwaway warehouse (a full resident snapshot
of N people plus two daily deltas with moves out, deaths and phone changes; ~3 doses per person; grids,
buildings, facilities, service recipients), because ingest, standardize and resolve have their own
benches. Then every sql/core file in CORE_TABLES order (plus person_history) and every sql/mart file
runs as the pipeline runs them, one transaction each layer.

    .venv/bin/python bench/bench_core.py [--residents 1000000] [--keep] [--database NAME]

--keep leaves the bench database (its name is printed); --database NAME reuses such a database: no
synthesis, only core and marts are rebuilt and timed (each file drops and recreates its tables).

Uses CDW_TEST_DATABASE_URL's server when set, else the embedded PostgreSQL. Target: 1,000,000
residents in at most 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

SYNTHESIZE = """
insert into core.as_of (as_of_date) values ('2026-11-03')
    on conflict (singleton) do update set as_of_date = excluded.as_of_date;
insert into audit.load_run (load_id, source, status) overriding system value
    values (1, 'bench', 'succeeded'), (2, 'bench', 'succeeded'), (3, 'bench', 'succeeded')
    on conflict do nothing;
-- grids: 1,000 residents each, 4 grids a community
insert into staging.stg_grid__grid (grid_code, load_id, source_row, grid_name, community, subdistrict,
                                    grid_worker_name, grid_worker_phone, grid_leader_name, geometry_wkt)
select 'G' || lpad(g::text, 6, '0'), 1, g, '网格' || g, '社区' || (g / 4), '街道' || (g / 60), '网格员' || g,
       '139' || lpad(g::text, 8, '0'), '网格长' || g, 'POLYGON((0 0,1 0,1 1,0 0))'
from generate_series(0, :grids - 1) g;
-- buildings: 25 a grid, on a lattice around Zhongshan
drop table if exists core.building;
create table core.building as
select 'B' || lpad(b::text, 8, '0') as building_code, '路' || b || '号1栋' as address, '路' || b || '号1栋' as address_key,
       113.30 + (b % 400) * 0.0005 as longitude, 22.45 + (b / 400) * 0.0005 as latitude, null::text as coord_issue,
       'G' || lpad((b / 25)::text, 6, '0') as grid_code, 'G' || lpad((b / 25)::text, 6, '0') as registered_grid_code,
       false as grid_disagrees, false as in_overlap, false as outside_all_grids, null::text as building_head_name,
       null::text as building_head_phone, 40 as household_count
from generate_series(0, :grids * 25 - 1) b;
alter table core.building add primary key (building_code);
-- the full snapshot: one row per person (a tenth with a blank building code)
insert into staging.stg_public_security__resident (
    load_id, source_row, delivery_kind, delivery_date, name, id_type, id_number, id_valid, birth_date, sex,
    phone_primary, phone_primary_type, household_no, relation_to_head, current_address, address_key,
    building_code, population_type, subdistrict, community)
select 1, p + 1, 'full', '2026-11-01', '人' || p, '居民身份证', '9' || lpad(p::text, 17, '0'), false,
       date '1940-01-01' + (p::bigint * 7919 % 31000)::int, case when p % 2 = 0 then 'M' else 'F' end,
       '138' || lpad(p::text, 8, '0'), 'mobile', 'H' || (p / 3), case when p % 3 = 0 then '户主' else '子' end,
       '中山市路' || (p / 40) || '号1栋' || (p % 40) || '房', '路' || (p / 40) || '号1栋' || (p % 40) || '房',
       case when p % 10 <> 0 then 'B' || lpad((p / 40)::text, 8, '0') end,
       case when p % 3 = 0 then '流动人口' else '户籍人口' end, '街道' || (p / 60000), '社区' || (p / 4000)
from generate_series(0, :residents - 1) p;
-- two deltas: 0.3% change phone, 0.15% move out, 0.03% die
insert into staging.stg_public_security__resident (
    load_id, source_row, delivery_kind, delivery_date, name, id_type, id_number, id_valid, birth_date, sex,
    phone_primary, phone_primary_type, household_no, relation_to_head, current_address, address_key,
    building_code, population_type, subdistrict, community, change_type, change_date)
select 1 + d, row_number() over (partition by d order by s.source_row) + 1, 'delta', date '2026-11-01' + d,
       name, id_type, id_number, id_valid, birth_date, sex,
       case when (s.source_row + d * 7) % 1000 < 3 then '137' || lpad((s.source_row * d)::text, 8, '0') else phone_primary end,
       phone_primary_type, household_no, relation_to_head, current_address, address_key, building_code,
       population_type, subdistrict, community,
       case when (s.source_row + d * 7) % 1000 < 3 then '信息变更' when (s.source_row + d * 7) % 1000 < 5 then '迁出'
            else '死亡' end,
       date '2026-11-01' + d
from staging.stg_public_security__resident s
cross join generate_series(1, 2) d
where s.load_id = 1 and (s.source_row + d * 7) % 1000 < 6;
insert into core.person_link (source, record_ref, person_key, method, rule_version)
select 'public_security.residents', load_id || ':' || source_row, substr(id_number, 2)::bigint, 'id_number', 'bench'
from staging.stg_public_security__resident;
-- doses: HEPB x3 for the young, COVID x2, FLU for a third
insert into staging.stg_health__vaccination_record (
    record_id, load_id, source_row, recipient_name, id_number, id_valid, birth_date, sex, vaccine_code,
    dose_number, vaccinated_at, site_name, updated_at)
select row_number() over (), 2, row_number() over (), s.name, s.id_number, false, s.birth_date, s.sex, v.code, v.dose,
       timestamptz '2021-03-01 09:00+08' + (v.dose * 40 + s.source_row % 200) * interval '1 day', '接种点', now()
from staging.stg_public_security__resident s
cross join (values ('COVID-INACT', 1), ('COVID-INACT', 2), ('HEPB', 1), ('FLU', 1)) v(code, dose)
where s.load_id = 1 and (v.code <> 'FLU' or s.source_row % 3 = 0) and (v.code <> 'HEPB' or s.birth_date > '2005-01-01');
insert into core.person_link (source, record_ref, person_key, method, rule_version)
select 'health.vaccination_record', record_id::text, substr(id_number, 2)::bigint, 'id_number', 'bench'
from staging.stg_health__vaccination_record;
-- facilities: 10 per 10,000 residents; service recipients: 3% of residents
insert into staging.stg_civil_affairs__facility (facility_id, load_id, source_row, name, category, longitude,
                                                 latitude, status, community, subdistrict, updated_at)
select 'F' || f, 3, f, '设施' || f,
       (array['养老服务','儿童关爱','医疗卫生','文化体育','党群服务','便民服务'])[1 + f % 6],
       113.30 + (f * 7 % 400) * 0.0005, 22.45 + ((f * 13) % (:grids * 25 / 400 + 1)) * 0.0005,
       case when f % 10 = 0 then '停业' else '运营' end, '社区' || f, '街道', now()
from generate_series(1, greatest(:residents / 1000, 12)) f;
insert into staging.stg_civil_affairs__service_recipient (recipient_id, load_id, source_row, name, id_number,
                                                          id_valid, category, community, valid_from, updated_at)
select 'R' || s.source_row, 3, s.source_row, s.name, s.id_number, false,
       (array['特困人员','低保','残疾人','高龄独居','困境儿童'])[1 + s.source_row % 5], s.community, '2020-01-01', now()
from staging.stg_public_security__resident s
where s.load_id = 1 and s.source_row % 33 = 0;
insert into core.person_link (source, record_ref, person_key, method, rule_version)
select 'civil_affairs.service_recipients', recipient_id, substr(id_number, 2)::bigint, 'id_number', 'bench'
from staging.stg_civil_affairs__service_recipient;
"""


def _server_url() -> str:
    from community_dw.config import normalize_postgres_url

    if url := os.environ.get("CDW_TEST_DATABASE_URL"):
        return normalize_postgres_url(url)
    from community_dw.warehouse import embedded

    return embedded.ensure_database("postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench database (its URL is printed)")
    parser.add_argument("--database", help="reuse a database kept by --keep: skip synthesis (implies --keep)")
    args = parser.parse_args()

    from community_dw.pipeline import CORE_TABLES, MART_TABLES
    from community_dw.warehouse.migrate import migrate
    from community_dw.warehouse.sql_runner import run_sql

    server = _server_url()
    name = args.database or f"cdw_bench_core_{uuid.uuid4().hex[:8]}"
    keep = args.keep or bool(args.database)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    if not args.database:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'create database "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    try:
        if not args.database:
            migrate(engine)
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(sa.text(SYNTHESIZE),
                             {"residents": args.residents, "grids": max(1, args.residents // 1000)})
                run_sql(conn, "resolve/person_record")
                conn.exec_driver_sql("analyze")
            print(f"synthesized staging for {args.residents:,} residents in {time.perf_counter() - started:.1f}s")
        core = list(CORE_TABLES) + ([] if "person_history" in CORE_TABLES else ["person_history"])
        seconds: dict[str, float] = {}
        with engine.begin() as conn:
            for table in core:
                t = time.perf_counter()
                run_sql(conn, f"core/{table}")
                seconds[f"core.{table}"] = time.perf_counter() - t
        with engine.begin() as conn:
            for table in MART_TABLES:
                t = time.perf_counter()
                run_sql(conn, f"mart/{table}")
                seconds[f"mart.{table}"] = time.perf_counter() - t
            counts = {t: conn.exec_driver_sql(f"select count(*) from {t}").scalar()
                      for t in ("core.person", "core.person_history", "core.vaccination_status",
                                "mart.vaccination_coverage", "mart.facility_access")}
        for table, s in seconds.items():
            print(f"  {table:<32} {s:7.2f}s")
        print(f"  {'total core + marts':<32} {sum(seconds.values()):7.2f}s  (target: 120 s for 1,000,000)")
        print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    finally:
        engine.dispose()
        if keep:
            print(f"kept: --database {name}  ({url})")
        else:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        admin.dispose()


if __name__ == "__main__":
    main()

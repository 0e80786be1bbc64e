"""Read what the reports show from the warehouse: marts, grids, buildings, facilities, audit, outreach."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

#: Age bands of mart.vaccination_coverage, in display order; "all" is their sum, computed here.
AGE_BANDS = ("0-17", "18-59", "60-79", "80+")
ALL_AGES = "all"

#: mart.key_population's counts, in display order, with their labels.
KEY_POPULATION_COLUMNS: dict[str, str] = {
    "residents": "常住人口 residents",
    "aged_60_plus": "60岁以上 aged 60+",
    "aged_80_plus": "80岁以上 aged 80+",
    "aged_80_plus_living_alone": "80+独居 80+ living alone",
    "floating_population": "流动人口 floating",
    "extreme_poverty": "特困 extreme poverty",
    "minimum_allowance": "低保 minimum allowance",
    "disability": "残疾 disability",
    "aged_80_plus_alone_recipients": "高龄独居补贴 80+ alone (recipients)",
    "children_in_difficulty": "困境儿童 children in difficulty",
}

#: Department of a load source ("public_security.residents") or a suite ("staging.stg_health__x").
DEPARTMENT_LABELS: dict[str, str] = {
    "public_security": "公安 public security",
    "health": "卫健 health",
    "civil_affairs": "民政 civil affairs",
    "grid": "网格办 grid office",
    "outreach": "走访反馈 outreach feedback",
    "warehouse": "数据仓库 marts",
}


@dataclass
class CityData:
    """Everything a report needs, read once for the whole city; reports filter it by community."""

    as_of_date: object
    grids: pd.DataFrame          # core.grid + mart.grid_workload + mart.facility_access_by_grid
    buildings: pd.DataFrame      # core.building points with resident counts
    facilities: pd.DataFrame     # open core.facility with coordinates
    coverage: pd.DataFrame       # mart.vaccination_coverage, plus "all" age band rows
    vaccines: pd.DataFrame       # core.vaccine_catalogue (code, name)
    key_population: pd.DataFrame  # mart.key_population
    freshness: pd.DataFrame      # one row per load source
    outreach: OutreachData | None


@dataclass
class OutreachData:
    """Outreach items per community: state at each list run's date, and staff outcomes by contact date."""

    states: pd.DataFrame    # community, as_of_date, state, items
    outcomes: pd.DataFrame  # community, outcome_date, outcome, items
    current: pd.DataFrame   # community, status, outcome, items (now)


def _read(conn: Connection, query: str, **params: object) -> pd.DataFrame:
    return pd.read_sql(sa.text(query), conn, params=params)


def _table_exists(conn: Connection, name: str) -> bool:
    return conn.execute(sa.text("select to_regclass(:name) is not null"), {"name": name}).scalar()


GRIDS_SQL = """
select g.grid_code, g.grid_name, g.community, g.subdistrict, g.grid_worker_name, g.geometry_wkt,
       coalesce(w.residents, 0) as residents, coalesce(w.households, 0) as households,
       coalesce(w.grid_workers, 1) as grid_workers,
       coalesce(w.target_residents_per_worker, 1000) as target_residents_per_worker,
       coalesce(w.over_target, false) as over_target,
       a.elderly_care_within_1km_rate, a.health_within_1km_rate
from core.grid g
left join mart.grid_workload w using (grid_code)
left join mart.facility_access_by_grid a using (grid_code)
order by g.community, g.grid_code
"""

BUILDINGS_SQL = """
with residents as (
    select building_code, count(*) as residents
    from core.person
    where residency_status = 'resident' and building_code is not null
    group by building_code
)
select b.building_code, b.grid_code, g.community, b.longitude, b.latitude, coalesce(r.residents, 0) as residents
from core.building b
join core.grid g using (grid_code)
left join residents r using (building_code)
where b.longitude is not null and b.latitude is not null
"""

FACILITIES_SQL = """
select facility_id, name, category, community, longitude, latitude
from core.facility
where is_open and longitude is not null and latitude is not null
order by category, facility_id
"""

FRESHNESS_SQL = """
with latest_success as (
    select distinct on (source) source, load_id, delivery_name, logical_date, finished_at, rows_loaded
    from audit.load_run
    where status = 'succeeded'
    order by source, finished_at desc nulls last, load_id desc
),
latest_attempt as (
    select distinct on (source) source, status as last_status, started_at as last_attempt_at
    from audit.load_run
    where status <> 'skipped_duplicate'
    order by source, started_at desc, load_id desc
),
final as (
    select a.source, a.last_status, a.last_attempt_at,
           s.delivery_name, s.logical_date, s.finished_at as last_success_at, s.rows_loaded
    from latest_attempt a
    left join latest_success s using (source)
)
select * from final order by source
"""

QUALITY_SQL = """
with latest as (
    select suite_name, max(checked_at) as checked_at from audit.quality_result group by suite_name
)
select q.suite_name, max(q.checked_at) as checked_at,
       count(*) filter (where not q.success and q.severity = 'critical') as critical_failed,
       count(*) filter (where not q.success and q.severity = 'warning')  as warnings_failed,
       count(*) as expectations
from audit.quality_result q
join latest l on l.suite_name = q.suite_name and l.checked_at = q.checked_at
group by q.suite_name
"""

OUTREACH_STATES_SQL = """
with runs as (
    select distinct as_of_date from outreach.run where finished_at is not null
),
items as (
    select coalesce(community, '(unknown)') as community, opened_as_of, status, closed_reason,
           (closed_at at time zone 'Asia/Shanghai')::date as closed_date
    from outreach.list_item
),
final as (
    select i.community, r.as_of_date,
           case when i.closed_date is not null and i.closed_date <= r.as_of_date
                then 'closed: ' || i.closed_reason else 'open' end as state,
           count(*) as items
    from runs r
    join items i on i.opened_as_of <= r.as_of_date
    group by i.community, r.as_of_date, state
)
select * from final order by community, as_of_date, state
"""

OUTREACH_OUTCOMES_SQL = """
select coalesce(community, '(unknown)') as community,
       (last_outcome_at at time zone 'Asia/Shanghai')::date as outcome_date,
       last_outcome as outcome, count(*) as items
from outreach.list_item
where last_outcome is not null
group by community, outcome_date, outcome
order by community, outcome_date, outcome
"""

OUTREACH_CURRENT_SQL = """
select coalesce(community, '(unknown)') as community, status,
       coalesce(last_outcome, '(none yet)') as outcome, count(*) as items
from outreach.list_item
group by community, status, outcome
order by community, status, outcome
"""


def department_of(name: str) -> str:
    """'public_security.residents' -> public_security; 'staging.stg_health__x' -> health; mart.* -> warehouse."""
    if match := re.match(r"staging\.stg_([a-z]+(?:_[a-z]+)*?)__", name):
        return match.group(1)
    if name.startswith(("mart.", "mart_build.", "core.")):
        return "warehouse"
    return name.split(".", 1)[0]


def _quality_status(row: pd.Series) -> str:
    if row["critical_failed"]:
        return "failed"
    if row["warnings_failed"]:
        return "warnings"
    return "passed"


def _freshness(conn: Connection) -> pd.DataFrame:
    loads = _read(conn, FRESHNESS_SQL)
    quality = _read(conn, QUALITY_SQL)
    loads["department"] = loads["source"].map(department_of)
    quality["department"] = quality["suite_name"].map(department_of)
    by_department = {}
    for department, rows in quality.groupby("department"):
        statuses = {_quality_status(row) for _, row in rows.iterrows()}
        status = next(s for s in ("failed", "warnings", "passed") if s in statuses | {"passed"})
        by_department[department] = (status, rows["checked_at"].max(), int(rows["expectations"].sum()))
    loads["quality_status"] = loads["department"].map(lambda d: by_department.get(d, ("not checked",))[0])
    loads["quality_checked_at"] = loads["department"].map(lambda d: by_department.get(d, (None, None))[1])
    marts = by_department.get("warehouse")
    if marts is not None:
        mart_row = {"source": "mart.*", "department": "warehouse", "last_status": "built",
                    "quality_status": marts[0], "quality_checked_at": marts[1]}
        loads = pd.concat([loads, pd.DataFrame([mart_row])], ignore_index=True)
    loads["department_label"] = loads["department"].map(lambda d: DEPARTMENT_LABELS.get(d, d))
    return loads


def _coverage(conn: Connection) -> pd.DataFrame:
    """mart.vaccination_coverage plus an 'all' age band per vaccine x area (sums of the bands)."""
    coverage = _read(conn, "select vaccine_code, area_level, area_code, community, subdistrict, age_band, people, "
                           "vaccinated_any_dose, vaccinated_complete from mart.vaccination_coverage")
    keys = ["vaccine_code", "area_level", "area_code"]
    totals = (coverage.groupby(keys, as_index=False, dropna=False)
              .agg(community=("community", "first"), subdistrict=("subdistrict", "first"), people=("people", "sum"),
                   vaccinated_any_dose=("vaccinated_any_dose", "sum"),
                   vaccinated_complete=("vaccinated_complete", "sum")))
    totals["age_band"] = ALL_AGES
    coverage = pd.concat([coverage, totals], ignore_index=True)
    for column in ("people", "vaccinated_any_dose", "vaccinated_complete"):
        coverage[column] = coverage[column].astype("int64")
    return coverage


def _outreach(conn: Connection) -> OutreachData | None:
    """None when the outreach tables are not there yet (an older warehouse) — the report says so."""
    if not (_table_exists(conn, "outreach.list_item") and _table_exists(conn, "outreach.run")):
        return None
    return OutreachData(states=_read(conn, OUTREACH_STATES_SQL), outcomes=_read(conn, OUTREACH_OUTCOMES_SQL),
                        current=_read(conn, OUTREACH_CURRENT_SQL))


def load_city(engine: Engine) -> CityData:
    """One read of the warehouse in one repeatable-read transaction: every report shows the same snapshot."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        as_of = conn.execute(sa.text("select as_of_date from core.as_of")).scalar() \
            if _table_exists(conn, "core.as_of") else None
        data = CityData(
            as_of_date=as_of,
            grids=_read(conn, GRIDS_SQL),
            buildings=_read(conn, BUILDINGS_SQL),
            facilities=_read(conn, FACILITIES_SQL),
            coverage=_coverage(conn),
            vaccines=_read(conn, "select vaccine_code, vaccine_name from core.vaccine_catalogue order by vaccine_code"),
            key_population=_read(conn, "select * from mart.key_population order by community, grid_code"),
            freshness=_freshness(conn),
            outreach=_outreach(conn),
        )
    return data

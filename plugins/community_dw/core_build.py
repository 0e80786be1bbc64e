"""Build the core layer for a logical date: every person (full) or only those whose records changed (scoped).

A daily delta touches about 1% of a city's records, yet a full build re-derives every person from
millions of staged records. A scoped build works out which persons could have changed since the last
committed build (sql/core/build_scope.sql), runs the same sql/core files over just their links and
staged records into temporary tables, and swaps those persons' rows in core and in the department-facing
tables. The result is the same as a full build's; tests/faults/test_scoped_build.py compares the two.

Anything that moves every person's rows makes the build full, with the reason recorded in
audit.core_build: the first build, a full register snapshot (who is missing from it), changed core
SQL or migrations, changed buildings (placement, grids), a changed vaccine catalogue, pseudonym key
or flu season, or a scope above FULL_SHARE of the persons (one pass over everything is then cheaper).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Connection, Engine

from community_dw.access import REFRESH_STEPS, apply_access
from community_dw.warehouse.sql_runner import run_sql, sql_path

log = logging.getLogger(__name__)

#: Core tables in build order; each is sql/core/<name>.sql.
CORE_TABLES = ("grid", "resident", "person", "person_history", "facility", "service_recipient", "vaccination_dose",
               "vaccination_status")
#: Core tables holding rows per person (keyed by person_key): a scoped build rebuilds these for the
#: persons in scope, in temporary tables of the same name; the others are rebuilt whole every time.
PERSON_TABLES = ("resident", "person", "person_history", "vaccination_dose", "vaccination_status")
#: Staging tables holding records of persons: a scoped build reads only the scope's records of them.
PERSON_STAGING = ("public_security__resident", "health__vaccination_record", "civil_affairs__service_recipient")
#: What a scoped build's files read instead of core and staging: the scope's links, records and rows
#: (sql/core/build_scope.sql), its records in the shape of core.person_record, and the rows it builds.
SCOPED_TABLE_MAP = {"core.person_link": "pg_temp.scoped_person_link",
                    "core.person_record": "pg_temp.scoped_person_record",
                    **{f"staging.stg_{name}": f"pg_temp.scoped_stg_{name}" for name in PERSON_STAGING},
                    **{f"core.{table}": f"pg_temp.{table}" for table in PERSON_TABLES}}
SCOPE_TABLE = "pg_temp.core_scope"
#: A scope of more than this share of the persons is built in full.
FULL_SHARE = 0.25
#: Two core builds never interleave (pg_advisory_xact_lock key).
BUILD_LOCK_KEY = 7_310_012


@dataclass
class CoreBuild:
    """What one core build did."""

    build_id: int
    mode: str  # full | scoped
    reason: str
    persons_rebuilt: int | None
    seconds: float


def _sql_fingerprint() -> str:
    names = [f"core/{table}" for table in CORE_TABLES] + ["core/build_scope", "resolve/person_record"]
    names += [f"access/{step.name}" for step in REFRESH_STEPS] + ["access/person_ref"]
    digest = hashlib.md5(usedforsecurity=False)
    for name in names:
        digest.update(sql_path(name).read_bytes())
    return digest.hexdigest()


def build_inputs(conn: Connection) -> dict[str, str]:
    """Fingerprints of what every person's core rows depend on besides their own records."""
    row = conn.exec_driver_sql("""
        select
            (select max(version)::text from audit.schema_migration),
            (select md5(string_agg(b::text, E'\\n' order by b.building_code)) from core.building b),
            (select md5(string_agg(c::text, E'\\n' order by c.vaccine_code)) from core.vaccine_catalogue c),
            (select created_at::text from access.pseudonym_key),
            (select make_date(extract(year from as_of_date)::int
                              - case when extract(month from as_of_date) < 9 then 1 else 0 end, 9, 1)::text
             from core.as_of)""").one()
    return {"sql": _sql_fingerprint(), "migrations": row[0] or "", "buildings": row[1] or "",
            "vaccine_catalogue": row[2] or "", "pseudonym_key": row[3] or "", "flu_season": row[4] or ""}


def _full_reason(conn: Connection, inputs: dict[str, str], full: bool) -> str | None:
    """Why this build must rebuild every person, or None when a scoped build gives the same result."""
    if full:
        return "a full build was asked for"
    previous = conn.exec_driver_sql(
        "select build_id, inputs from audit.core_build order by build_id desc limit 1").first()
    if previous is None:
        return "first build"
    missing = [table for table in PERSON_TABLES
               if conn.exec_driver_sql("select to_regclass(%s)", (f"core.{table}",)).scalar() is None]
    if missing:
        return f"core tables missing: {', '.join(missing)}"
    changed = [name for name, value in inputs.items() if previous.inputs.get(name) != value]
    if changed:
        return f"{', '.join(changed)} changed since build {previous.build_id}"
    snapshot = conn.exec_driver_sql("""
        select min(s.load_id) from staging.stg_public_security__resident s
        where s.delivery_kind = 'full'
          and s.load_id in (select load_id from pg_temp.build_loads where source = 'public_security.residents')
        """).scalar()
    if snapshot is not None:
        return f"a full register snapshot arrived (load {snapshot}): everyone it no longer lists changes"
    return None


def _merge_scoped(conn: Connection) -> None:
    """Replace the scope's rows in each per-person core table with the rows just built for them."""
    for table in PERSON_TABLES:
        conn.exec_driver_sql(
            f"delete from core.{table} where person_key = any(array(select person_key from {SCOPE_TABLE}))")
        conn.exec_driver_sql(f"insert into core.{table} select * from pg_temp.{table}")


def build_core(engine: Engine, logical_date: date | None = None, full: bool = False) -> CoreBuild:
    """Rebuild core (and published, access) for the logical date in one transaction: readers see old or new.

    Scoped when a scoped build gives the same result (see the module's docstring); `full` forces a full one.
    """
    from community_dw.geo.grid_assignment import build_core_building

    # core.building first: residents are placed through it (by code, or by address where the code is blank).
    build_core_building(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("select pg_advisory_xact_lock(%s)", (BUILD_LOCK_KEY,))
        conn.exec_driver_sql(
            "insert into core.as_of (as_of_date) values (coalesce(%s, current_date)) "
            "on conflict (singleton) do update set as_of_date = excluded.as_of_date", (logical_date,))
        # The standardized loads no committed build has taken in, listed once (pg_temp.build_loads, read by
        # sql/core/build_scope.sql): a load standardized meanwhile is left for the next build to take in.
        conn.exec_driver_sql("""
            create temp table build_loads on commit drop as
            select r.load_id, r.source from audit.load_run r
            where exists (select 1 from audit.load_step s where s.load_id = r.load_id and s.step = 'standardize')
              and not exists (select 1 from audit.core_build_load b where b.load_id = r.load_id)""")
        inputs = build_inputs(conn)
        reason = _full_reason(conn, inputs, full)
        persons = None
        if reason is None:
            persons = int(run_sql(conn, "core/build_scope") or 0)
            run_sql(conn, "resolve/person_record", table_map=SCOPED_TABLE_MAP)  # pg_temp.scoped_person_record
            total = conn.exec_driver_sql("select count(*) from core.person").scalar() or 0
            if persons > FULL_SHARE * total:
                reason = f"{persons:,} of {total:,} persons changed: more than {FULL_SHARE:.0%}, cheaper in full"
        if reason is None:
            for table in CORE_TABLES:
                run_sql(conn, f"core/{table}", table_map=SCOPED_TABLE_MAP if table in PERSON_TABLES else None)
            _merge_scoped(conn)
            # Department-facing copies: the scope's rows swapped, grants re-applied, pitfalls checked.
            apply_access(conn, scope_table=SCOPE_TABLE, table_map=SCOPED_TABLE_MAP)
            conn.exec_driver_sql("drop table " + ", ".join(f"pg_temp.{table}" for table in PERSON_TABLES))
            mode, reason = "scoped", f"{persons:,} persons whose records, links or age changed"
        else:
            for table in CORE_TABLES:
                run_sql(conn, f"core/{table}")
            # Department-facing copies (masked, pseudonymous) refreshed in the same transaction, grants
            # re-applied to the rebuilt tables; a role that could bypass row-level security stops the build.
            apply_access(conn)
            mode, persons = "full", conn.exec_driver_sql("select count(*) from core.person").scalar()
        seconds = round(time.perf_counter() - started, 2)
        build_id = conn.exec_driver_sql(
            "insert into audit.core_build (as_of_date, mode, reason, persons_rebuilt, inputs, seconds) "
            "select as_of_date, %s, %s, %s, %s, %s from core.as_of returning build_id",
            (mode, reason, persons, json.dumps(inputs), seconds)).scalar()
        conn.exec_driver_sql("insert into audit.core_build_load (load_id, build_id) select load_id, %s "
                             "from pg_temp.build_loads", (build_id,))
    log.info("core build %s: %s (%s) in %.1fs", build_id, mode, reason, seconds)
    return CoreBuild(int(build_id), mode, reason, persons, seconds)

"""The whole pipeline for a logical date, step by step: the same functions the DAG tasks call."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from community_dw import core_build
from community_dw.access import grant_access
from community_dw.ingest import DEPARTMENTS, ingest_all
from community_dw.warehouse.session import warehouse_engine
from community_dw.warehouse.sql_runner import run_sql

log = logging.getLogger(__name__)

#: Core tables in build order; each is sql/core/<name>.sql.
CORE_TABLES = core_build.CORE_TABLES
#: Marts; each is sql/mart/<name>.sql.
MART_TABLES = ("resident_population", "vaccination_coverage", "key_population", "grid_workload",
               "facility_access")


def stage_specs(departments: list[str] | None = None) -> list:
    """The standardization steps of the named departments (all by default), in dependency order."""
    from community_dw.stage.civil_affairs import FACILITIES, SERVICE_RECIPIENTS
    from community_dw.stage.grid import BUILDINGS, GRIDS
    from community_dw.stage.health import VACCINATIONS
    from community_dw.stage.public_security import RESIDENTS

    by_department = {"public_security": [RESIDENTS], "health": [VACCINATIONS],
                     "civil_affairs": [FACILITIES, SERVICE_RECIPIENTS], "grid": [GRIDS, BUILDINGS]}
    return [spec for name in departments or list(DEPARTMENTS) for spec in by_department[name]]


def standardize(departments: list[str] | None = None) -> dict[str, int]:
    """raw -> staging (+ quarantine) for every new load; returns rows staged per source."""
    from community_dw.stage.runner import stage_pending

    engine = warehouse_engine()
    staged: dict[str, int] = {}
    for spec in stage_specs(departments):
        staged[spec.source] = sum(rows_out for _, _, rows_out, _ in stage_pending(engine, spec))
    return staged


def resolve_persons() -> dict[str, int]:
    """Link every new person-bearing staging record to a person_key: review decisions, then ID numbers,
    then the probabilistic linker (Splink), then new persons for what nothing matched."""
    from community_dw.resolve.run import resolve_all

    return resolve_all(warehouse_engine())


def latest_delivery_date() -> date | None:
    """The newest day a loaded file delivery is dated (its name's _YYYYMMDD; the register's daily delta
    names the population's day). Pulls from a database or an API carry no day of their own, so an extra
    pull does not move the date a build is as of; with no dated file loaded, the newest pull's date."""
    with warehouse_engine().connect() as conn:
        return conn.execute(sa.text(r"""
            select coalesce(max(to_date(substring(delivery_name from '_(\d{8})\.'), 'YYYYMMDD')),
                            max(logical_date))
            from audit.load_run where status in ('succeeded', 'skipped_duplicate')""")).scalar()


def build_core(logical_date: date | None = None, full: bool = False) -> dict[str, object]:
    """Rebuild the core tables for the logical date in one transaction (readers see old or new): only the
    persons whose records changed since the last build when that gives the same result (core_build.py)."""
    build = core_build.build_core(warehouse_engine(), logical_date, full=full)
    return dataclasses.asdict(build)


BUILD_SCHEMA = "mart_build"


def build_marts() -> None:
    """Build every mart into the schema mart_build; departments keep reading mart until publish_marts.

    Build, gate, then swap: a mart that fails its quality gate is never published, and the gate can
    compare the new figures with the published ones (e.g. a denominator that moved more than 10%).
    """
    with warehouse_engine().begin() as conn:
        conn.exec_driver_sql(f"drop schema if exists {BUILD_SCHEMA} cascade; create schema {BUILD_SCHEMA}")
        for table in MART_TABLES:
            run_sql(conn, f"mart/{table}", schema_map={"mart": BUILD_SCHEMA})
        # The first build has nothing published to compare with: an empty table of the same shape.
        for (table,) in conn.exec_driver_sql(
                "select tablename from pg_tables where schemaname = %s", (BUILD_SCHEMA,)).all():
            conn.exec_driver_sql(f"create table if not exists mart.{table} (like {BUILD_SCHEMA}.{table})")


def publish_marts() -> list[str]:
    """Swap the gated marts in: one transaction, so readers see the old marts or the new, never a mix."""
    with warehouse_engine().begin() as conn:
        tables = [row[0] for row in conn.exec_driver_sql(
            "select tablename from pg_tables where schemaname = %s order by tablename", (BUILD_SCHEMA,))]
        if not tables:
            raise RuntimeError("nothing to publish: build_marts has not run (schema mart_build is empty)")
        for table in tables:
            conn.exec_driver_sql(f"drop table if exists mart.{table} cascade")
            conn.exec_driver_sql(f"alter table {BUILD_SCHEMA}.{table} set schema mart")
        conn.exec_driver_sql(f"drop schema {BUILD_SCHEMA}")
        grant_access(conn)  # swapped-in tables arrive without grants
    return tables


def build_outreach(logical_date: date | None = None) -> dict:
    """Refresh the outreach lists from the new core: open new items, close met needs."""
    from community_dw.outreach import build_outreach_lists

    result = build_outreach_lists(warehouse_engine(), logical_date)
    return {key: value for key, value in result.items() if not isinstance(value, dict)}


def build_reports() -> list[str]:
    """The offline HTML report per community and for the city (aggregates and masked values only)."""
    from community_dw.report import build_reports as build

    return [str(path) for path in build(warehouse_engine())]


@dataclass
class RunSummary:
    logical_date: date | None
    seconds: dict[str, float] = field(default_factory=dict)
    ingest_failures: dict[str, str] = field(default_factory=dict)
    details: dict[str, object] = field(default_factory=dict)


def run_pipeline(logical_date: date | None = None, only: list[str] | None = None,
                 progress: Callable[[str], None] = log.info) -> RunSummary:
    """Ingest (one failing department does not stop the others), then standardize, resolve, build."""
    summary = RunSummary(logical_date)

    def step(name: str, func: Callable[[], object]) -> object:
        progress(f"{name} …")
        started = time.perf_counter()
        result = func()
        summary.seconds[name] = round(time.perf_counter() - started, 2)
        summary.details[name] = result
        progress(f"{name} done in {summary.seconds[name]:.1f}s")
        return result

    report = step("ingest", lambda: ingest_all(logical_date, only))
    summary.ingest_failures = report.failures
    step("standardize", lambda: standardize(only))
    step("gate staging", lambda: gate_layer("staging"))
    step("resolve", resolve_persons)
    step("core", lambda: build_core(logical_date))
    step("marts", build_marts)
    step("gate marts", lambda: gate_layer("mart"))
    step("publish marts", publish_marts)
    step("outreach lists", lambda: build_outreach(logical_date))
    step("gate outreach", lambda: gate_layer("outreach"))
    step("reports", build_reports)
    return summary


class QualityGateFailed(RuntimeError):
    """Critical expectations failed in a layer: nothing downstream of it may be rebuilt."""


def _ungated_loads(engine, suite) -> list[tuple[int, str | None]]:
    """Loads with rows in the suite's table and no passed gate yet, with their delivery kind if any.

    Probed load by load from audit.load_run (an index lookup each) rather than by a distinct over the
    whole table, which at a million residents meant scanning millions of rows per suite per build."""
    kind = ("(select t.delivery_kind from staging.stg_public_security__resident t "
            f"where t.{suite.load_column} = r.load_id limit 1)"
            if suite.table == "staging.stg_public_security__resident" else "null::text")
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            f"select r.load_id, {kind} from audit.load_run r "
            f"where exists (select 1 from {suite.table} t where t.{suite.load_column} = r.load_id) "
            "and not exists (select 1 from audit.quality_result q where q.load_id = r.load_id "
            "and q.suite_name = :suite and (q.observed ->> 'gate_passed')::boolean) order by 1"),
            {"suite": suite.name})]


def gate_layer(layer: str) -> dict[str, str]:
    """Run every Great Expectations suite of a layer; raise GateFailed naming all critical failures.

    Suites with a load column are run per load not yet passed (a delivery is judged on its own rows,
    and a full snapshot's volume against the previous full snapshot); the others on the whole table.
    """
    from community_dw.quality.gate import GateFailed, enforce, run_gate
    from community_dw.quality.suites import list_suites, load_suite

    engine = warehouse_engine()
    verdicts: dict[str, str] = {}
    failed: list[GateFailed] = []
    for name in list_suites():
        suite = load_suite(name)
        if not suite.table.startswith(f"{layer}."):
            continue
        if layer == "mart":  # marts are gated where they are built, before they are published
            suite = dataclasses.replace(suite, table=suite.table.replace("mart.", f"{BUILD_SCHEMA}.", 1))
        with engine.connect() as conn:
            if conn.execute(sa.text("select to_regclass(:t)"), {"t": suite.table}).scalar() is None:
                continue
        runs = ([dict(load_id=load_id, volume_key=kind, previous_row_count=0 if kind == "delta" else None)
                 for load_id, kind in _ungated_loads(engine, suite)] if suite.load_column else [{}])
        for kwargs in runs:
            result = run_gate(engine, suite, **kwargs)
            verdicts[f"{name}{'#' + str(kwargs['load_id']) if kwargs else ''}"] = "passed" if result.passed else "FAILED"
            try:
                enforce(result)
            except GateFailed as error:
                failed.append(error)
    if failed:
        raise QualityGateFailed(f"{len(failed)} quality gate(s) failed in {layer}:\n\n"
                                + "\n\n".join(str(error) for error in failed))
    return verdicts

"""Ingest entry points, one per department: what the ingest DAG tasks and `cdw run` call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from community_dw.warehouse.audit import LoadOutcome
from community_dw.warehouse.session import warehouse_engine

log = logging.getLogger(__name__)


def ingest_public_security(logical_date: date | None = None) -> list[LoadOutcome]:
    """Resident full snapshots and daily deltas from the public-security drop folder."""
    from community_dw.sources.file_ingest import ingest_source_files

    return ingest_source_files(warehouse_engine(), "public_security.residents", logical_date)


def ingest_grid(logical_date: date | None = None) -> list[LoadOutcome]:
    """Grid polygons (GeoJSON) and the buildings workbook from the grid office's drop folder."""
    from community_dw.sources.file_ingest import ingest_source_files

    engine = warehouse_engine()
    return [*ingest_source_files(engine, "grid.grids", logical_date),
            *ingest_source_files(engine, "grid.buildings", logical_date)]


def ingest_health(logical_date: date | None = None) -> list[LoadOutcome]:
    """Changed vaccination records from the immunization system's reporting replica."""
    from community_dw.sources.sql_source import HEALTH_VACCINATIONS, health_source_url, pull_incremental

    return [pull_incremental(warehouse_engine(), HEALTH_VACCINATIONS, health_source_url(), logical_date)]


def ingest_civil_affairs(logical_date: date | None = None) -> list[LoadOutcome]:
    """Facilities and service recipients from the civil-affairs API."""
    from community_dw.sources.http_api import FACILITIES, SERVICE_RECIPIENTS, api_settings, pull_endpoint

    engine, settings = warehouse_engine(), api_settings()
    return [pull_endpoint(engine, endpoint, settings, logical_date) for endpoint in (FACILITIES, SERVICE_RECIPIENTS)]


def delivery_already_loaded(sources: tuple[str, ...], day: date) -> bool:
    """True when a file dated `day` was loaded for one of `sources` already, e.g. by a later run that
    caught up on missed days: a run for `day` then has nothing to wait for (its file left the drop)."""
    import sqlalchemy as sa

    with warehouse_engine().connect() as conn:
        return bool(conn.execute(sa.text(
            "select exists (select 1 from audit.load_run where source = any(:sources) "
            "and status in ('succeeded', 'skipped_duplicate') and delivery_name ~ :dated)"),
            {"sources": list(sources), "dated": f"_{day:%Y%m%d}\\."}).scalar())


DEPARTMENTS: dict[str, Callable[[date | None], list[LoadOutcome]]] = {
    "public_security": ingest_public_security,
    "health": ingest_health,
    "civil_affairs": ingest_civil_affairs,
    "grid": ingest_grid,
}


@dataclass
class IngestReport:
    outcomes: list[LoadOutcome] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def ingest_all(logical_date: date | None = None, only: list[str] | None = None) -> IngestReport:
    """Every department (or the named ones); one department failing does not stop the others."""
    report = IngestReport()
    for name in only or list(DEPARTMENTS):
        if name not in DEPARTMENTS:
            raise ValueError(f"unknown department '{name}'; choose from {', '.join(DEPARTMENTS)}")
        try:
            report.outcomes.extend(DEPARTMENTS[name](logical_date))
        except Exception as error:  # recorded in audit.load_run by the loader; reported here
            log.error("%s failed: %s", name, error)
            report.failures[name] = f"{type(error).__name__}: {error}"
    return report

"""A small simulated city run through the whole pipeline once per module, for the report tests.

The warehouse is a clone of the session's migrated template; the health department's database is a
fresh one on the same server; the civil-affairs API is the simulator's, on loopback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.city_env import city_settings, civil_affairs_api
from tests.conftest import create_database, drop_database

RESIDENTS = 6000  # two communities at 3,000 per community
PER_COMMUNITY = 3000


@dataclass
class ReportCity:
    engine: sa.Engine
    url: str
    landing: Path


def _clone(server_url: str, template_url: str, prefix: str) -> str:
    import uuid

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}" template "{make_url(template_url).database}"')
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="package")
def report_city(pg_server_url: str, migrated_template: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportCity]:
    """Simulated city (day 1) -> ingest -> standardize -> resolve -> core -> marts -> outreach lists."""
    from community_dw.outreach.lists import build_outreach_lists
    from community_dw.pipeline import run_pipeline
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig

    url = _clone(pg_server_url, migrated_template, "cdw_report")
    health_url = create_database(pg_server_url, "cdw_report_health")
    landing = tmp_path_factory.mktemp("report_city")
    config = SimConfig(residents=RESIDENTS, residents_per_community=PER_COMMUNITY, days=1, seed=11)
    started = time.perf_counter()
    generate_city(landing, config, health_url)
    engine = sa.create_engine(url)
    try:
        with city_settings(landing, health_url, url):
            with civil_affairs_api(landing):  # gone after the pipeline: no later test may inherit its address
                summary = run_pipeline(config.day_date(1))
                assert summary.ingest_failures == {}, summary.ingest_failures
            build_outreach_lists(engine, config.day_date(1))
            print(f"\nreport city: {RESIDENTS:,} residents built in {time.perf_counter() - started:.0f}s")
            yield ReportCity(engine, url, landing)
    finally:
        engine.dispose()
        from community_dw.warehouse.connection import _engine_for

        _engine_for(url).dispose()
        drop_database(pg_server_url, url)
        drop_database(pg_server_url, health_url)

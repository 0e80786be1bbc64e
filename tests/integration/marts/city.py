"""A small simulated city run through the whole pipeline: the warehouse the correctness tests check.

Three simulated days (a full snapshot, then daily deltas with moves out, deaths, phone changes), the
health replica as it stands after the last day, the civil-affairs API on loopback. The pipeline runs
once for the last day, ingesting every delivery up to it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.city_env import city_settings, civil_affairs_api
from tests.conftest import create_database, drop_database

RESIDENTS = 3000
DAYS = 3
SEED = 23


@dataclass
class BuiltCity:
    engine: sa.Engine
    url: str
    landing: Path


def _clone(server_url: str, template_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}" template "{make_url(template_url).database}"')
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _build_person_history_if_unwired(engine: sa.Engine) -> None:
    """core.person_history until pipeline.CORE_TABLES lists it (then the pipeline has built it)."""
    from community_dw.pipeline import CORE_TABLES
    from community_dw.warehouse.sql_runner import run_sql

    if "person_history" not in CORE_TABLES:
        with engine.begin() as conn:
            run_sql(conn, "core/person_history")


@contextmanager
def built_city(server_url: str, template_url: str, landing: Path, residents: int = RESIDENTS,
               days: int = DAYS, seed: int = SEED) -> Iterator[BuiltCity]:
    """Simulate, run the pipeline for the last day, yield the warehouse; drop the databases afterwards."""
    from community_dw.pipeline import run_pipeline
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig

    url = _clone(server_url, template_url, "cdw_marts")
    health_url = create_database(server_url, "cdw_marts_health")
    config = SimConfig(residents=residents, days=days, seed=seed)
    started = time.perf_counter()
    generate_city(landing, config, health_url)
    engine = sa.create_engine(url)
    try:
        with city_settings(landing, health_url, url):
            with civil_affairs_api(landing):  # gone after the pipeline: no later test may inherit its address
                summary = run_pipeline(config.day_date(days))
                assert summary.ingest_failures == {}, summary.ingest_failures
            _build_person_history_if_unwired(engine)
            print(f"\ncity of {residents:,} residents over {days} days built in {time.perf_counter() - started:.0f}s")
            yield BuiltCity(engine, url, landing)
    finally:
        engine.dispose()
        from community_dw.warehouse.connection import _engine_for

        _engine_for(url).dispose()
        drop_database(server_url, url)
        drop_database(server_url, health_url)

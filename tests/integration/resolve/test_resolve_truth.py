"""Resolution of a small simulated city scored against the simulator's truth (pairwise, per defect).

The city goes through production's stages (simulate -> ingest -> standardize -> resolve), large
enough (~22,000 person-bearing records) for the model to be trained as in production rather than
scored with the settings file's priors. Floors sit a little under what the linker reaches, so a
regression fails without the test flickering on a seed. bench/bench_resolve.py prints the same
figures for any city size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.city_env import city_settings, civil_affairs_api
from tests.conftest import create_database, drop_database

RESIDENTS = 5000
DAYS = 2
SEED = 7

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def resolved_city(pg_server_url: str, migrated_template: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sa.Engine, Path, dict[str, int]]]:
    from sqlalchemy.engine import make_url

    from community_dw import pipeline
    from community_dw.ingest import ingest_all
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig
    from community_dw.warehouse.connection import _engine_for

    landing = tmp_path_factory.mktemp("resolve_city")
    name = f"cdw_resolve_truth_{os.getpid()}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        conn.exec_driver_sql(f'create database "{name}" template "{make_url(migrated_template).database}"')
    admin.dispose()
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    health_url = create_database(pg_server_url, "cdw_resolve_truth_health")
    config = SimConfig(residents=RESIDENTS, days=DAYS, seed=SEED)
    generate_city(landing, config, health_url)
    engine = sa.create_engine(url)
    last = config.day_date(DAYS)
    try:
        with city_settings(landing, health_url, url):
            with civil_affairs_api(landing, as_of=datetime.combine(last, time(23, 59, 59), ZoneInfo("Asia/Shanghai"))):
                report = ingest_all(last)
                assert report.failures == {}, report.failures
            pipeline.standardize()
            counts = pipeline.resolve_persons()
            yield engine, landing, counts
    finally:
        engine.dispose()
        _engine_for(url).dispose()
        drop_database(pg_server_url, url)
        drop_database(pg_server_url, health_url)


def test_links_match_the_truth(resolved_city) -> None:
    from community_dw.resolve.evaluate import score

    engine, landing, counts = resolved_city
    scored = score(engine, landing)
    print("\n" + scored.format())
    assert scored.unmatched_records == 0, "every linked record is a record the simulator delivered"
    with engine.connect() as conn:
        trained = conn.execute(sa.text("select count(*) from core.person_match_model")).scalar()
    assert trained == 1, "the city is large enough for the model to be trained"
    overall = scored.overall
    assert overall.precision >= 0.999 and overall.recall >= 0.998, overall
    assert overall.f1 >= 0.998, overall
    assert scored.review_share < 0.005


def test_a_typo_in_the_id_number_still_links(resolved_city) -> None:
    """Records whose ID number has a wrong check digit: found by the probabilistic pass, not lost."""
    from community_dw.resolve.evaluate import score

    engine, landing, _ = resolved_city
    metrics = score(engine, landing).metrics
    typo = metrics.loc["id_number:wrong_check_digit"]
    assert typo.records >= 20, "the default rate plants ID typos in a city of this size"
    assert typo.recall >= 0.98 and typo.precision >= 0.98, typo
    for defect in ("id_number:legacy_15_digit", "id_number:lowercase_x", "id_number:blank_child"):
        assert metrics.loc[defect].recall >= 0.99, (defect, metrics.loc[defect])

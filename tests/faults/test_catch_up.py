"""Missed days: one late run, or a run per missed day, ends in the state daily runs would have left."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from community_dw.pipeline import run_pipeline
from tests.conftest import drop_database
from tests.faults.conftest import DAYS, City, ReferenceBuild, ReliabilityRow
from tests.faults.support import (
    city_environment,
    clone_warehouse,
    comparable_checksums,
    copy_landing,
    diff_checksums,
    dispose_cached_engines,
    sample_differences,
)


@pytest.mark.scenario("Missed days caught up")
def test_daily_runs_and_one_catch_up_run_publish_the_same(
        city: City, reference_build: ReferenceBuild, pg_server_url: str, migrated_template: str,
        tmp_path, reliability: ReliabilityRow) -> None:
    reliability.tried_(f"the city run day by day (run_pipeline for each of {DAYS} days, as the daily schedule "
                       f"does) against the reference: one run on day {DAYS} after missing the days before it "
                       "(what the scheduler does with catchup=False: the late run loads every pending delivery "
                       "dated up to its logical date, in date order); published tables compared without "
                       "surrogate keys and lineage, outreach items compared while open and without the day each "
                       "was first found (history: daily "
                       "runs found a need on day 1, the catch-up on the day it ran), match probabilities to 6 "
                       "decimals (a city this small is scored with the settings file's priors, not a trained "
                       "model; each resolution batch's dedup prior depends on how many of its records no ID "
                       "number linked, and daily runs resolve other batches than one catch-up run)")
    url = clone_warehouse(pg_server_url, migrated_template, "cdw_faults_daily")
    engine = sa.create_engine(url)
    try:
        landing = copy_landing(city.root, tmp_path / "landing")
        with city_environment(landing, city.health_url, url):
            for day in range(1, DAYS + 1):
                summary = run_pipeline(city.day(day))
                assert summary.ingest_failures == {}, (day, summary.ingest_failures)
        daily = comparable_checksums(engine)
        caught_up = comparable_checksums(reference_build.engine)
        changed = diff_checksums(caught_up, daily)
        samples = "\n".join(sample_differences(reference_build.engine, engine, line.split(":")[0])
                            for line in changed[:3])
        reliability.saw(f"{len(daily)} published tables compared, {sum(n for n, _ in daily.values()):,} rows: "
                        + ("every checksum identical" if not changed else f"differ: {'; '.join(changed)}"))
        assert not changed, f"{changed}\n{samples}"
    finally:
        engine.dispose()
        dispose_cached_engines(url)
        drop_database(pg_server_url, url)

"""Missed days: one late run, or a run per missed day, ends in the state daily runs would have left."""

from __future__ import annotations

import pytest

from tests.faults.conftest import DAYS, City, DailyBuild, ReferenceBuild, ReliabilityRow
from tests.faults.support import comparable_checksums, diff_checksums, sample_differences


@pytest.mark.scenario("Missed days caught up")
def test_daily_runs_and_one_catch_up_run_publish_the_same(
        city: City, reference_build: ReferenceBuild, daily_build: DailyBuild, reliability: ReliabilityRow) -> None:
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
    engine = daily_build.engine
    daily = comparable_checksums(engine)
    caught_up = comparable_checksums(reference_build.engine)
    changed = diff_checksums(caught_up, daily)
    samples = "\n".join(sample_differences(reference_build.engine, engine, line.split(":")[0])
                        for line in changed[:3])
    reliability.saw(f"{len(daily)} published tables compared, {sum(n for n, _ in daily.values()):,} rows: "
                    + ("every checksum identical" if not changed else f"differ: {'; '.join(changed)}"))
    assert not changed, f"{changed}\n{samples}"

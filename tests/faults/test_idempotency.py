"""The same logical date run twice leaves every published table identical."""

from __future__ import annotations

import pytest

from community_dw.pipeline import run_pipeline
from tests.faults.conftest import DAYS, City, ReferenceBuild, ReliabilityRow
from tests.faults.support import city_environment, diff_checksums, loads, published_checksums


@pytest.mark.scenario("Same logical date run twice")
def test_a_second_run_of_the_same_day_changes_no_published_table(
        city: City, reference_build: ReferenceBuild, reliability: ReliabilityRow) -> None:
    reliability.tried_(f"run_pipeline({city.day(DAYS)}) on a simulated city (all four departments, full snapshot, "
                       "two deltas, a resent delta), then the same logical date again; per-table row count and "
                       "md5 of every row for core.*, mart.* and outreach.list_item (content columns)")
    before = reference_build.checksums
    runs_before = len(loads(reference_build.engine))
    with city_environment(reference_build.landing, city.health_url, reference_build.url):
        summary = run_pipeline(city.day(DAYS))
    after = published_checksums(reference_build.engine)
    new_loads = loads(reference_build.engine)[runs_before:]

    assert summary.ingest_failures == {}
    reliability.saw(f"{len(before)} published tables, {sum(n for n, _ in before.values()):,} rows; first run "
                    f"{reference_build.seconds:.0f} s, second {sum(summary.seconds.values()):.0f} s")
    reliability.saw("second run's ingest: " + ", ".join(
        f"{load['source']} {load['status']} ({load['rows_loaded'] or 0} rows)" for load in new_loads)
        + " — files were consumed on the first run; the pulls re-read their overlap window (health 48 h, "
          "API 1 h before the watermark), which staging merges by key, so raw grows but nothing published moves")
    changed = diff_checksums(before, after)
    reliability.saw("every checksum identical" if not changed else f"changed: {'; '.join(changed)}")
    assert not changed, changed
    # No file is loaded again; only the incremental pulls may re-read their overlap window.
    assert {load["source"] for load in new_loads} <= {"health.vaccination_record", "civil_affairs.facilities",
                                                      "civil_affairs.service_recipients"}, new_loads
    assert before["core.person"][0] > 0 and before["outreach.list_item"][0] > 0

"""A daily core build rebuilds only the persons whose records changed, and publishes what a full build does."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from community_dw.pipeline import build_core
from tests.faults.conftest import DAYS, City, DailyBuild, ReliabilityRow
from tests.faults.support import city_environment, diff_checksums, table_checksum

#: Everything a core build writes: core, the department-facing copies and the staff contact table.
BUILT_SCHEMAS = ("core", "published")


def _built_checksums(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    with engine.connect() as conn:
        tables = conn.execute(sa.text(
            "select schemaname, tablename from pg_tables where schemaname = any(:schemas) "
            "order by schemaname, tablename"), {"schemas": list(BUILT_SCHEMAS)}).all()
        sums = {f"{schema}.{table}": table_checksum(conn, schema, table) for schema, table in tables}
        sums["access.person_contact"] = table_checksum(conn, "access", "person_contact")
    return sums


@pytest.mark.scenario("Daily core build scoped to changed persons")
def test_scoped_daily_builds_equal_a_full_build(city: City, daily_build: DailyBuild,
                                                reliability: ReliabilityRow) -> None:
    reliability.tried_(f"the city run day by day ({DAYS} days): day 1 builds core in full, later days only for the "
                       "persons whose records, links or age changed; then a full core build of the last day in the "
                       "same warehouse; per-table row count and md5 of every row of core.*, published.* and "
                       "access.person_contact compared (person keys and pseudonyms included)")
    with daily_build.engine.connect() as conn:
        builds = conn.execute(sa.text(
            "select build_id, mode, reason, persons_rebuilt from audit.core_build order by build_id")).all()
    persons = [row.persons_rebuilt for row in builds]
    reliability.saw("; ".join(f"build {b.build_id}: {b.mode} ({b.reason})" for b in builds))
    assert [b.mode for b in builds] == ["full"] + ["scoped"] * (DAYS - 1), builds
    assert all(0 < n < persons[0] for n in persons[1:]), persons

    scoped = _built_checksums(daily_build.engine)
    with city_environment(daily_build.landing, city.health_url, daily_build.url):
        full = build_core(city.day(DAYS), full=True)
    rebuilt = _built_checksums(daily_build.engine)
    changed = diff_checksums(rebuilt, scoped)
    reliability.saw(f"full rebuild: {full['persons_rebuilt']:,} persons in {full['seconds']:.1f} s; "
                    f"{len(scoped)} tables, {sum(n for n, _ in scoped.values()):,} rows: "
                    + ("every checksum identical" if not changed else f"differ: {'; '.join(changed)}"))
    assert full["mode"] == "full"
    assert not changed, changed

"""Each malformed delivery of the corpus: a clear error, the raw delivery kept, the other departments loaded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from community_dw.ingest import ingest_all
from community_dw.sources import http_api
from tests.conftest import create_database, drop_database
from tests.faults.conftest import City, ReliabilityRow
from tests.faults.corpus import CORPUS, Malformed, Plant, hostile_api
from tests.faults.support import TOKEN, city_environment, fetch, loads, scalar

#: The sources each department loads in a good ingest of the city (day 3).
SOURCES = {
    "public_security": {"public_security.residents"},
    "health": {"health.vaccination_record"},
    "civil_affairs": {"civil_affairs.facilities", "civil_affairs.service_recipients"},
    "grid": {"grid.grids", "grid.buildings"},
}
RAW = {"health": "raw.health__vaccination_record", "civil_affairs": "raw.civil_affairs__facility"}
WATERMARK = {"health": "health.vaccination_record", "civil_affairs": "civil_affairs.facilities"}


def _params() -> list:
    return [pytest.param(case, id=case.case_id) for case in CORPUS]


def test_the_corpus_covers_every_department_with_at_least_20_deliveries() -> None:
    assert len(CORPUS) >= 20
    assert {case.department for case in CORPUS} == set(SOURCES)


@pytest.fixture
def health_url(request: pytest.FixtureRequest, city: City, pg_server_url: str) -> Iterator[str]:
    """The shared replica, or a private copy for a case that alters it."""
    case: Malformed = request.getfixturevalue("case")
    if case.transport != "sql":
        yield city.health_url
        return
    name = make_url(create_database(pg_server_url, "cdw_faults_health_case")).database
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    drop_database(pg_server_url, url)
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}" template "{make_url(city.health_url).database}"')
    admin.dispose()
    yield url
    drop_database(pg_server_url, url)


@pytest.mark.scenario("Malformed delivery")
@pytest.mark.parametrize("case", _params())
def test_a_malformed_delivery_fails_alone_and_clearly(
        case: Malformed, city: City, landing: Path, health_url: str, fresh_warehouse: sa.Engine,
        monkeypatch: pytest.MonkeyPatch, reliability: ReliabilityRow) -> None:
    reliability.tried_(f"{case.department}: {case.what}; ingest_all for day 3 with the other departments' "
                       "deliveries good")
    plant = Plant(landing, city.root, health_url)
    case.plant(plant)
    # Fewer retries than production, so '500 forever' gives up in seconds instead of minutes.
    fast = lambda: http_api.ApiSettings(  # noqa: E731
        __import__("os").environ["CDW_CIVIL_AFFAIRS_URL"], TOKEN, page_size=200, timeout_s=2.0, max_attempts=3,
        max_pull_restarts=1)
    monkeypatch.setattr(http_api, "api_settings", fast)
    with city_environment(landing, health_url):
        if plant.api_answer is not None:
            with hostile_api(plant.api_answer) as url:
                monkeypatch.setenv("CDW_CIVIL_AFFAIRS_URL", url)
                report = ingest_all(city.day(3))
        else:
            report = ingest_all(city.day(3))

    # The other departments loaded in the same ingest.
    succeeded = {outcome.source for outcome in report.outcomes if outcome.status == "succeeded"}
    others = set().union(*(SOURCES[d] for d in SOURCES if d != case.department))
    assert others <= succeeded, f"other departments affected: {sorted(others - succeeded)}; {report.failures}"
    if case.accepted:
        assert report.failures == {}, report.failures
        reliability.saw(_accepted(case, fresh_warehouse))
        reliability.saw("the other departments loaded")
        return

    assert set(report.failures) == {case.department}, f"no clear error: {report.failures or 'everything loaded'}"
    message = report.failures[case.department]
    for fragment in (case.delivery, *case.expect):
        assert fragment in message, f"{fragment!r} not in the error: {message}"
    reliability.saw(f"error: {message[:220]}")
    if case.transport == "file":
        folder = landing / ("public_security" if case.department == "public_security" else "grid")
        planted = folder / case.delivery
        assert planted.exists(), "the bad file must stay in the drop folder"
        archived = {path.read_bytes() for path in (landing / "_archive").rglob("*") if path.is_file()}
        assert planted.read_bytes() in archived, "the bad delivery is not in the landing archive"
        failed = [load for load in loads(fresh_warehouse) if load["status"] == "failed"]
        assert [load["delivery_name"] for load in failed] == [case.delivery]
        held = sorted(p.name for p in folder.iterdir() if p.name != case.delivery)
        reliability.saw(f"the file kept as received in the archive and left in the drop folder; audit.load_run "
                        f"'failed' with the error; still waiting behind it: {', '.join(held) or 'nothing'}")
    else:
        raw_rows = scalar(fresh_warehouse, f"select count(*) from {RAW[case.department]}")
        mark = scalar(fresh_warehouse, "select high_water_mark from audit.watermark where source = :s",
                      s=WATERMARK[case.department])
        assert raw_rows == 0 and mark is None
        attempts = [load["status"] for load in loads(fresh_warehouse) if load["source"] == WATERMARK[case.department]]
        reliability.saw(f"no raw rows, no watermark; load attempts recorded for the source: "
                        f"{attempts or 'none (the pull failed before anything was landed)'}")
    reliability.saw("the other departments loaded")


def _accepted(case: Malformed, engine: sa.Engine) -> str:
    if case.case_id == "grid-geojson-unclosed-ring":
        issues = fetch(engine, "select geometry_issue, count(*) from raw.grid__grid where geometry_issue is not null "
                               "group by 1")
        assert any("ring_closed" in str(issue) for issue, _ in issues), issues
        return f"loaded; the ring closed and flagged in raw.grid__grid.geometry_issue {dict(issues)}"
    if case.case_id == "ps-header-only":
        [load] = [load for load in loads(engine) if load["delivery_name"] == case.delivery]
        assert load["status"] == "succeeded" and load["rows_loaded"] == 0
        later = [load["status"] for load in loads(engine) if load["delivery_name"] == "residents_delta_20261103.xlsx"]
        assert later == ["succeeded"], later
        return ("loaded as a delivery of nothing (rows_read 0; by design: a department with no changes sends "
                "its header); later deltas went on loading")
    raise AssertionError(f"no check for accepted case {case.case_id}")


def test_corpus_case_ids_are_unique() -> None:
    ids = [case.case_id for case in CORPUS]
    assert len(ids) == len(set(ids)), json.dumps(ids)

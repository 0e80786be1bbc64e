"""A delta whose previous day never arrived is held; the missing day, or an accepted gap, releases it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from community_dw.cli import app
from community_dw.ingest import ingest_all
from community_dw.sources.file_ingest import IngestError, ingest_source_files

SOURCE = "public_security.residents"
HEADER = "姓名,证件类型,公民身份号码,性别,民族,出生日期,联系电话,户号,与户主关系,户籍地址,现住址,楼栋编码,人口类型,居住证号,街道,社区"
ROW = "张三,居民身份证,11010519491231002X,女,汉族,1949-12-31,13812345678,H1,户主,,悦来路1号,B1,户籍人口,,石岐街道,悦来社区"
GRID = ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"grid_code": "G1"}, '
        '"geometry": {"type": "Polygon", "coordinates": [[[113.39, 22.52], [113.40, 22.52], [113.40, 22.53], '
        '[113.39, 22.53], [113.39, 22.52]]]}}]}')


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path))
    (tmp_path / "public_security").mkdir()
    return tmp_path


def _full(landing: Path, day: str, name: str = "张三") -> Path:
    path = landing / "public_security" / f"residents_full_{day}.csv"
    path.write_bytes(f"{HEADER}\r\n{ROW.replace('张三', name)}\r\n".encode("gb18030"))
    return path


def _delta(landing: Path, day: str, name: str) -> Path:
    path = landing / "public_security" / f"residents_delta_{day}.csv"
    path.write_bytes(f"{HEADER},变动类型,变动日期\r\n{ROW.replace('张三', name)},新增,{day}\r\n".encode("gb18030"))
    return path


def _runs(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "select delivery_name, status from audit.load_run order by load_id"))]


def _held_after_day_one(landing: Path, engine: sa.Engine) -> Path:
    """Day 1's snapshot loaded, then day 3's delta dropped without day 2's: held."""
    _full(landing, "20261101")
    assert [o.status for o in ingest_source_files(engine, SOURCE)] == ["succeeded"]
    day3 = _delta(landing, "20261103", "王五")
    with pytest.raises(IngestError) as held:
        ingest_source_files(engine, SOURCE)
    message = str(held.value)
    assert message.startswith("residents_delta_20261103.csv: held")
    assert "2026-11-02" in message and "residents_full_20261101.csv" in message
    assert "cdw ingest accept-gap public_security.residents 2026-11-02" in message
    assert day3.exists()  # stays in the drop folder, so the source holds until it is resolved
    assert len(list((landing / "_archive" / SOURCE).rglob("*.csv"))) == 2  # archived as received, like any file
    with engine.connect() as conn:
        error = conn.execute(sa.text("select error from audit.load_run where status = 'failed'")).scalar_one()
    assert error == message
    return day3


def test_the_missing_day_arriving_loads_both_in_order(landing: Path, fresh_warehouse: sa.Engine) -> None:
    _held_after_day_one(landing, fresh_warehouse)
    _delta(landing, "20261104", "赵六")
    with pytest.raises(IngestError, match="residents_delta_20261103.csv: held"):
        ingest_source_files(fresh_warehouse, SOURCE)  # a later delta waits behind the held one
    assert (landing / "public_security" / "residents_delta_20261104.csv").exists()

    _delta(landing, "20261102", "李四")
    outcomes = ingest_source_files(fresh_warehouse, SOURCE)
    assert [(o.delivery_name, o.status) for o in outcomes] == [
        ("residents_delta_20261102.csv", "succeeded"), ("residents_delta_20261103.csv", "succeeded"),
        ("residents_delta_20261104.csv", "succeeded")]
    assert not list((landing / "public_security").iterdir())


def test_an_accepted_gap_releases_the_held_delta(landing: Path, fresh_warehouse: sa.Engine) -> None:
    _held_after_day_one(landing, fresh_warehouse)
    runner = CliRunner()
    refused = runner.invoke(app, ["ingest", "accept-gap", SOURCE, "2026-11-02", "--reason", "  "])
    assert refused.exit_code == 1 and "reason" in refused.output
    accepted = runner.invoke(app, ["ingest", "accept-gap", SOURCE, "2026-11-02",
                                   "--reason", "公安: no changes were registered on 2 Nov"])
    assert accepted.exit_code == 0, accepted.output
    assert "2026-11-02" in accepted.output
    with fresh_warehouse.connect() as conn:
        [(day, reason, who)] = conn.execute(sa.text(
            "select gap_date::text, reason, accepted_by from audit.accepted_delivery_gap")).all()
    assert (day, reason) == ("2026-11-02", "公安: no changes were registered on 2 Nov")
    assert "database login" in who

    [outcome] = ingest_source_files(fresh_warehouse, SOURCE)
    assert (outcome.delivery_name, outcome.status) == ("residents_delta_20261103.csv", "succeeded")
    assert _runs(fresh_warehouse) == [("residents_full_20261101.csv", "succeeded"),
                                      ("residents_delta_20261103.csv", "failed"),
                                      ("residents_delta_20261103.csv", "succeeded")]
    again = runner.invoke(app, ["ingest", "accept-gap", SOURCE, "2026-11-02", "--reason", "twice"])
    assert again.exit_code == 0 and "already accepted" in again.output


def test_accept_gap_refuses_a_loaded_day_and_an_unknown_source(landing: Path, fresh_warehouse: sa.Engine) -> None:
    _full(landing, "20261101")
    ingest_source_files(fresh_warehouse, SOURCE)
    runner = CliRunner()
    loaded = runner.invoke(app, ["ingest", "accept-gap", SOURCE, "2026-10-31", "--through", "2026-11-01",
                                 "--reason", "typo"])
    assert loaded.exit_code == 1 and "residents_full_20261101.csv" in loaded.output
    unknown = runner.invoke(app, ["ingest", "accept-gap", "public_security.people", "2026-11-02", "--reason", "x"])
    assert unknown.exit_code == 1 and "public_security.residents" in unknown.output
    with fresh_warehouse.connect() as conn:
        assert conn.execute(sa.text("select count(*) from audit.accepted_delivery_gap")).scalar_one() == 0


def test_a_run_of_missing_days_is_named_and_accepted_as_a_range(landing: Path, fresh_warehouse: sa.Engine) -> None:
    _full(landing, "20261101")
    _delta(landing, "20261105", "王五")
    with pytest.raises(IngestError, match=r"2026-11-02 to 2026-11-04 \(3 days\).*--through 2026-11-04"):
        ingest_source_files(fresh_warehouse, SOURCE)
    result = CliRunner().invoke(app, ["ingest", "accept-gap", SOURCE, "2026-11-02", "--through", "2026-11-04",
                                      "--reason", "holiday: the bureau issued no deltas"])
    assert result.exit_code == 0, result.output
    assert [o.status for o in ingest_source_files(fresh_warehouse, SOURCE)] == ["succeeded"]


def test_a_snapshot_in_the_same_run_needs_no_missing_day(landing: Path, fresh_warehouse: sa.Engine) -> None:
    _full(landing, "20261101")
    ingest_source_files(fresh_warehouse, SOURCE)
    _delta(landing, "20261103", "王五")
    _full(landing, "20261104", "赵六")  # restates everyone: day 2's changes are in it
    outcomes = ingest_source_files(fresh_warehouse, SOURCE)
    assert [(o.delivery_name, o.status) for o in outcomes] == [
        ("residents_delta_20261103.csv", "succeeded"), ("residents_full_20261104.csv", "succeeded")]


def test_a_held_delta_leaves_other_departments_loading(landing: Path, fresh_warehouse: sa.Engine,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _full(landing, "20261101")
    ingest_source_files(fresh_warehouse, SOURCE)
    _delta(landing, "20261103", "王五")
    (landing / "grid").mkdir()
    (landing / "grid" / "grids_20261103.geojson").write_text(GRID, encoding="utf-8")
    monkeypatch.delenv("CDW_HEALTH_DB_URL", raising=False)
    report = ingest_all(only=["public_security", "grid"])
    assert set(report.failures) == {"public_security"} and "2026-11-02" in report.failures["public_security"]
    with fresh_warehouse.connect() as conn:
        assert conn.execute(sa.text("select count(*) from raw.grid__grid")).scalar_one() == 1

"""Schema drift: a new column, a renamed required column, a column that changes its type."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from community_dw.pipeline import standardize
from community_dw.sources.file_ingest import IngestError, ingest_source_files
from community_dw.sources.sql_source import HEALTH_VACCINATIONS, pull_incremental
from tests.conftest import create_database, drop_database
from tests.faults.conftest import City, ReliabilityRow
from tests.faults.support import fetch, loads, scalar

FULL = "residents_full_20261101.csv"


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("gb18030"), newline="")))


def write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode("gb18030"))


@pytest.fixture
def drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_warehouse: sa.Engine) -> Path:
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path))
    return tmp_path


def _steps_add_up(engine: sa.Engine) -> bool:
    return bool(scalar(engine, "select bool_and(rows_in = rows_out + rows_quarantined) from audit.load_step"))


@pytest.mark.scenario("Schema drift: a new column")
def test_a_new_column_is_kept_in_extra_and_reported(city: City, drop: Path, fresh_warehouse: sa.Engine,
                                                    reliability: ReliabilityRow) -> None:
    rows = read_csv(city.root / "public_security" / FULL)
    rows = [[*rows[0], "微信号"], *[[*row, f"wx_{number}"] for number, row in enumerate(rows[1:], start=1)]]
    write_csv(drop / "public_security" / FULL, rows)
    reliability.tried_("the resident full snapshot with an extra column 微信号 (WeChat ID) at the end")
    [outcome] = ingest_source_files(fresh_warehouse, "public_security.residents")
    staged = standardize(["public_security"])["public_security.residents"]
    assert outcome.status == "succeeded" and outcome.drift["unknown_columns"] == ["微信号"]
    drift = scalar(fresh_warehouse, "select schema_drift::text from audit.load_run where load_id = :id",
                   id=outcome.load_id)
    kept = scalar(fresh_warehouse, "select count(*) from raw.public_security__resident where extra ->> '微信号' "
                                   "= 'wx_' || (source_row - 1)")
    assert "微信号" in drift and kept == len(rows) - 1
    assert _steps_add_up(fresh_warehouse) and staged > 0
    reliability.saw(f"loaded; all {kept:,} values kept in raw.extra under 微信号; audit.load_run.schema_drift "
                    f"= {drift}; standardize staged {staged:,} rows, ignoring the new column")


@pytest.mark.scenario("Schema drift: a required column renamed")
def test_a_renamed_required_column_is_a_clear_error(city: City, drop: Path, fresh_warehouse: sa.Engine,
                                                    reliability: ReliabilityRow) -> None:
    rows = read_csv(city.root / "public_security" / FULL)
    rows[0] = ["证件号" if header == "公民身份号码" else header for header in rows[0]]
    write_csv(drop / "public_security" / FULL, rows)
    delta = city.root / "public_security" / "residents_delta_20261102.csv"
    (drop / "public_security" / delta.name).write_bytes(delta.read_bytes())
    reliability.tried_("the resident full snapshot with its required column 公民身份号码 renamed 证件号 (not a "
                       "known alias), and the next day's delta behind it")
    with pytest.raises(IngestError) as error:
        ingest_source_files(fresh_warehouse, "public_security.residents")
    message = str(error.value)
    assert FULL in message and "公民身份号码" in message and "证件号" in message
    assert scalar(fresh_warehouse, "select count(*) from raw.public_security__resident") == 0
    assert (drop / "public_security" / FULL).exists() and (drop / "public_security" / delta.name).exists()
    assert [load["status"] for load in loads(fresh_warehouse)] == ["failed"]
    reliability.saw(f"IngestError: {message[:170]}…; nothing in raw; load recorded as failed; the file and "
                    "the delta behind it stay in the drop folder (the source holds)")


@pytest.mark.scenario("Schema drift: text in a date column (files)")
def test_text_in_a_resident_date_column_is_flagged(city: City, drop: Path, fresh_warehouse: sa.Engine,
                                                   reliability: ReliabilityRow) -> None:
    rows = read_csv(city.root / "public_security" / FULL)
    column = rows[0].index("出生日期")
    garbled = list(range(1, len(rows), 20))
    for number in garbled:
        rows[number][column] = "不详"
    write_csv(drop / "public_security" / FULL, rows)
    reliability.tried_(f"the resident full snapshot with text ('不详', unknown) in 出生日期 on {len(garbled)} rows")
    [outcome] = ingest_source_files(fresh_warehouse, "public_security.residents")
    standardize(["public_security"])
    assert outcome.status == "succeeded" and _steps_add_up(fresh_warehouse)
    lines = [number + 1 for number in garbled]  # source_row is the CSV line (header = line 1)
    flagged, from_id, blank = fetch(fresh_warehouse, """
        select count(*) filter (where birth_date_issue = 'unparseable'),
               count(*) filter (where birth_date is not null and id_valid),
               count(*) filter (where birth_date is null)
        from staging.stg_public_security__resident where source_row = any(:rows)""", rows=lines)[0]
    others_flagged = scalar(fresh_warehouse, "select count(*) from staging.stg_public_security__resident "
                                             "where birth_date_issue is not null and source_row <> all(:rows)",
                            rows=lines)
    kept_in_raw = scalar(fresh_warehouse, "select count(*) from raw.public_security__resident "
                                          "where birth_date = '不详'")
    reliability.saw(f"no crash, counts add up; all {flagged} rows kept and flagged birth_date_issue = 'unparseable' "
                    f"(the staging gate warns on it); birth date taken from a valid ID number for {from_id}, blank "
                    f"for {blank}; the delivered text kept in raw ({kept_in_raw} rows); no other row flagged")
    assert flagged == len(garbled) and others_flagged == 0 and kept_in_raw == len(garbled)
    assert from_id + blank == len(garbled)


@pytest.fixture
def health_copy(city: City, pg_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private copy of the city's health replica, free to alter."""
    url = create_database(pg_server_url, "cdw_faults_health_drift")
    drop_database(pg_server_url, url)
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{make_url(url).database}" '
                             f'template "{make_url(city.health_url).database}"')
    admin.dispose()
    monkeypatch.setenv("CDW_HEALTH_DB_URL", url)
    yield url
    drop_database(pg_server_url, url)


@pytest.mark.scenario("Schema drift: a column changes type (SQL source)")
def test_a_source_column_changing_type_is_quarantined_by_row(health_copy: str, fresh_warehouse: sa.Engine,
                                                             reliability: ReliabilityRow) -> None:
    source = sa.create_engine(health_copy)
    with source.begin() as conn:
        conn.exec_driver_sql("alter table vaccination_record alter column dose_number type text, "
                             "alter column vaccinated_at type text")
        conn.exec_driver_sql("update vaccination_record set dose_number = '第二针' where mod(record_id, 97) = 1")
        conn.exec_driver_sql("update vaccination_record set vaccinated_at = '去年冬天' where mod(record_id, 89) = 2")
        bad_dose, bad_time = (conn.exec_driver_sql(f"select count(*) from vaccination_record where {c}").scalar()
                              for c in ("dose_number = '第二针'", "vaccinated_at = '去年冬天'"))
    source.dispose()
    reliability.tried_(f"the health replica's dose_number and vaccinated_at columns turned to text, with "
                       f"'第二针' in {bad_dose} doses and '去年冬天' in {bad_time} timestamps; incremental pull, "
                       "then standardize")
    outcome = pull_incremental(fresh_warehouse, HEALTH_VACCINATIONS, health_copy)
    standardize(["health"])
    reasons = dict(fetch(fresh_warehouse, "select reason_code, count(*) from quarantine.health__vaccination_record "
                                          "group by 1"))
    detail = scalar(fresh_warehouse, "select reason_detail from quarantine.health__vaccination_record "
                                     "where reason_code = 'bad_dose_number' limit 1")
    assert outcome.status == "succeeded" and _steps_add_up(fresh_warehouse)
    assert reasons.get("bad_dose_number", 0) >= 1 and reasons.get("bad_timestamp", 0) >= 1
    assert detail == "dose_number: 第二针"
    reliability.saw(f"the pull succeeded (raw is text); standardize quarantined them by row: {reasons} "
                    f"(detail e.g. '{detail}'), counts add up (revoked records are not quarantined)")

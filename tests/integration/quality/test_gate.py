"""The quality gate against the real warehouse: verdicts, messages, volume, audit rows, Data Docs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from community_dw.quality.gate import GateFailed, enforce, lookup_previous_row_count, run_gate
from community_dw.quality.suites import list_suites
from community_dw.warehouse.audit import start_load

pytestmark = pytest.mark.slow  # imports Great Expectations (~3 s once per session)


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Data Docs and GX stores go to a temporary output folder, not the developer's .cdw/out."""
    path = tmp_path_factory.mktemp("cdw_out")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDW_OUTPUT_DIR", str(path))
        yield path


@pytest.fixture
def table(warehouse: Engine) -> Iterator[str]:
    """A fresh staging.test_gate_<id> table: 1,000 clean people, loads 1 (1,000 rows) and 2 (400 rows)."""
    name = f"staging.test_gate_{uuid.uuid4().hex[:8]}"
    with warehouse.begin() as conn:
        conn.exec_driver_sql(
            f"create table {name} (load_id bigint not null, person_source_key text, "
            "sex text, age integer, name text)"
        )
        conn.exec_driver_sql(
            f"insert into {name} select case when g <= 1000 then 1 else 2 end, 'P' || g, "
            "case when mod(g, 2) = 0 then 'M' else 'F' end, mod(g, 90), 'name' || g "
            "from generate_series(1, 1400) g"
        )
    yield name
    with warehouse.begin() as conn:
        conn.exec_driver_sql(f"drop table {name}")


def write_suite(folder: Path, table: str, *, load_column: bool = False, extra: list | None = None) -> Path:
    expectations = [
        {"type": "expect_table_columns_to_match_set",
         "kwargs": {"column_set": ["load_id", "person_source_key", "sex", "age", "name"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "person_source_key"},
         "severity": "critical"},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "person_source_key"}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "sex", "value_set": ["M", "F"]},
         "severity": "warning", "notes": "a third code means the source changed its coding"},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "age", "min_value": 0,
                                                                  "max_value": 120}},
        *(extra or []),
    ]
    doc = {"table": table, "grain": "one row per person per load", "key_columns": ["name"],
           "expectations": expectations}
    if load_column:
        doc["load_column"] = "load_id"
    path = folder / f"{table}.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def audit_rows(engine: Engine, suite: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select expectation_type, column_name, severity, success, observed, load_id, run_id "
                    "from audit.quality_result where suite_name = :s order by quality_result_id"),
            {"s": suite},
        )
        return [dict(r._mapping) for r in rows]


def test_clean_table_passes_and_records_every_expectation(warehouse, table, tmp_path, output_dir):
    suite = write_suite(tmp_path, table)
    result = enforce(run_gate(warehouse, suite, run_id="manual__test"))
    assert result.passed and not result.failures and not result.warnings
    assert result.suite == table and result.table == table
    assert result.row_count == 1400 and result.evaluated == 6  # five + the volume check
    rows = audit_rows(warehouse, table)
    assert len(rows) == 6 and all(r["success"] for r in rows)
    assert {r["run_id"] for r in rows} == {"manual__test"}
    assert {r["column_name"] for r in rows} >= {"person_source_key", "sex", "age"}
    volume = [r for r in rows if r["observed"].get("check") == "volume"]
    assert volume[0]["observed"]["row_count"] == 1400 and volume[0]["observed"]["gate_passed"]


def test_nulls_in_a_critical_column_fail_with_suite_expectation_and_samples(warehouse, table, tmp_path,
                                                                           output_dir):
    with warehouse.begin() as conn:
        conn.exec_driver_sql(f"update {table} set person_source_key = null where name in ('name7', 'name8')")
    result = run_gate(warehouse, write_suite(tmp_path, table))
    assert not result.passed
    (failure,) = result.failures
    assert failure.expectation_type == "expect_column_values_to_not_be_null"
    assert failure.column == "person_source_key" and failure.unexpected_count == 2
    assert {row["name"] for row in failure.sample_rows} == {"name7", "name8"}
    with pytest.raises(GateFailed) as raised:
        enforce(result)
    message = str(raised.value)
    assert table in message and "expect_column_values_to_not_be_null" in message
    assert "person_source_key" in message and "name7" in message
    assert raised.value.result is result
    failed = [r for r in audit_rows(warehouse, table) if not r["success"]]
    assert [r["expectation_type"] for r in failed] == ["expect_column_values_to_not_be_null"]
    assert failed[0]["severity"] == "critical" and failed[0]["observed"]["unexpected_count"] == 2


def test_a_warning_is_recorded_and_shown_but_does_not_block(warehouse, table, tmp_path, output_dir):
    with warehouse.begin() as conn:
        conn.exec_driver_sql(f"update {table} set sex = 'X' where name = 'name11'")
    result = enforce(run_gate(warehouse, write_suite(tmp_path, table)))
    assert result.passed and not result.failures
    (warning,) = result.warnings
    assert warning.expectation_type == "expect_column_values_to_be_in_set" and warning.sample_values == ["X"]
    assert "name11" in result.summary() and "[warning]" in result.summary()
    assert any(r["severity"] == "warning" and not r["success"] for r in audit_rows(warehouse, table))


def test_a_halved_delivery_fails_the_volume_check(warehouse, table, tmp_path, output_dir):
    suite = write_suite(tmp_path, table, load_column=True)
    first = enforce(run_gate(warehouse, suite, load_id=None, previous_row_count=None))
    assert first.row_count == 1400 and first.previous_row_count is None
    # the gate's own history is the baseline: 1,400 rows last time, now a delivery of 700
    with warehouse.begin() as conn:
        conn.exec_driver_sql(f"delete from {table} where name in "
                             f"(select name from {table} order by name limit 700)")
    assert lookup_previous_row_count(warehouse, table) == 1400
    halved = run_gate(warehouse, suite)
    assert not halved.passed and halved.row_count == 700 and halved.previous_row_count == 1400
    (failure,) = halved.failures
    assert failure.is_volume_check and "the previous load had 1400" in failure.describe()
    # a failed gate does not become the baseline; one more row than half passes
    assert lookup_previous_row_count(warehouse, table) == 1400
    assert run_gate(warehouse, suite, previous_row_count=1399).passed


def test_load_column_checks_only_that_loads_rows(warehouse, table, tmp_path, output_dir):
    first, second = (start_load(warehouse, "test_gate", f"delivery {n}", None, None) for n in (1, 2))
    with warehouse.begin() as conn:
        conn.exec_driver_sql(f"update {table} set load_id = case load_id when 1 then {first} else {second} end")
        conn.exec_driver_sql(f"update {table} set person_source_key = null where load_id = {first} and age = 3")
    suite = write_suite(tmp_path, table, load_column=True)
    assert not run_gate(warehouse, suite, load_id=first).passed
    result = run_gate(warehouse, suite, load_id=second, previous_row_count=700)
    assert result.passed and result.row_count == 400  # the first load's nulls are not this load's problem
    assert {r["load_id"] for r in audit_rows(warehouse, table)} == {first, second}


def test_a_table_wide_volume_counts_the_table_while_the_checks_read_one_load(warehouse, table, tmp_path,
                                                                              output_dir):
    first, second = (start_load(warehouse, "test_gate", f"delivery {n}", None, None) for n in (1, 2))
    with warehouse.begin() as conn:
        conn.exec_driver_sql(f"update {table} set load_id = case load_id when 1 then {first} else {second} end")
    suite = write_suite(tmp_path, table, load_column=True)
    doc = json.loads(suite.read_text())
    suite.write_text(json.dumps({**doc, "volume": {"min_ratio": 0.5, "of": "table"}}))
    assert enforce(run_gate(warehouse, suite, load_id=first)).row_count == 1400
    # a pull of 400 changes into a table of 1,400: per load it would read as a collapse; the table held
    small_pull = enforce(run_gate(warehouse, suite, load_id=second))
    assert small_pull.row_count == 1400 and small_pull.previous_row_count == 1400
    # the table lost more than half its records: the next pull's gate stops, whatever the pull's size
    with warehouse.begin() as conn:
        conn.exec_driver_sql(f"delete from {table} where load_id = {first}")
    shrunk = run_gate(warehouse, suite, load_id=second)
    assert not shrunk.passed and shrunk.row_count == 400
    (failure,) = shrunk.failures
    assert failure.is_volume_check


def test_unexpected_rows_query_names_the_offending_rows(warehouse, table, tmp_path, output_dir):
    rule = {"type": "unexpected_rows_expectation", "severity": "critical",
            "kwargs": {"unexpected_rows_query": "select name, age from {batch} where age > 87",
                       "description": "nobody in this test is older than 87"}}
    result = run_gate(warehouse, write_suite(tmp_path, table, extra=[rule]))
    (failure,) = result.failures
    assert failure.observed_value == 2 * 15  # ages 88 and 89, 15 people each in 1..1400
    assert len(failure.sample_rows) == 5 and all(row["age"] > 87 for row in failure.sample_rows)


def test_data_docs_are_built_in_the_output_folder(warehouse, table, tmp_path, output_dir):
    result = run_gate(warehouse, write_suite(tmp_path, table), run_id="scheduled__2025-01-01T00:00:00+00:00")
    assert result.data_docs_index == output_dir / "data_docs" / "index.html"
    assert result.data_docs_index.exists()
    assert result.data_docs_page is not None and result.data_docs_page.exists()
    assert table in result.data_docs_index.read_text(encoding="utf-8")
    # the warehouse URL (with any password) stays in memory, never in the stores or pages
    written = " ".join(p.read_text(errors="ignore") for p in output_dir.rglob("*.json"))
    assert "postgresql" not in written


@pytest.fixture(scope="module")
def built_warehouse(warehouse):
    """Core and mart tables are built by SQL, not migrations: build them (empty) once."""
    from community_dw import pipeline

    pipeline.resolve_persons()
    pipeline.build_core()
    pipeline.build_marts()
    pipeline.publish_marts()
    return warehouse


@pytest.mark.parametrize("name", list_suites())
def test_every_project_suite_runs_against_its_migrated_table(built_warehouse, output_dir, name):
    """Each expectation evaluates in PostgreSQL (an empty table passes): column names and SQL are right."""
    result = run_gate(built_warehouse, name, previous_row_count=0)
    errors = [f.describe() for f in result.failures + result.warnings if f.exception]
    assert not errors
    assert result.passed, result.summary()

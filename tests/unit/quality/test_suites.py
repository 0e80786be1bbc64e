"""Suite files: the format is checked strictly, and every project suite maps onto GX classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from community_dw.quality.suites import SuiteError, list_suites, load_suite, parse_suite, suite_path

MINIMAL = {"table": "staging.x", "grain": "one row per x",
           "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}]}


def test_minimal_suite_defaults():
    spec = parse_suite(MINIMAL, name="staging.x")
    assert spec.schema_name == "staging" and spec.table_name == "x"
    assert spec.expectations[0].severity == "critical" and spec.expectations[0].column == "id"
    assert spec.volume is not None and spec.volume.min_ratio == 0.5
    assert parse_suite({**MINIMAL, "volume": None}, name="s").volume is None


@pytest.mark.parametrize("change, message", [
    ({"table": "x"}, "schema.table"),
    ({"grain": ""}, "grain"),
    ({"expectations": []}, "non-empty"),
    ({"expectations": [{"type": "expect_x", "kwargs": {}, "severity": "fatal"}]}, "severity"),
    ({"expectations": [{"type": "expect_x", "kwargs": {"severity": "warning"}}]}, "beside kwargs"),
    ({"volume": {"min_ratio": 2}}, "min_ratio"),
    ({"colour": "red"}, "unknown keys"),
])
def test_malformed_suites_are_refused_with_a_reason(change, message):
    with pytest.raises(SuiteError, match=message):
        parse_suite({**MINIMAL, **change}, name="staging.x")


def test_suite_is_found_by_name_or_path(tmp_path: Path):
    path = tmp_path / "staging.x.json"
    path.write_text(json.dumps(MINIMAL))
    assert load_suite(path).name == "staging.x"
    with pytest.raises(SuiteError, match="no suite named"):
        suite_path("staging.does_not_exist")


def test_column_names_of_multi_column_expectations():
    spec = parse_suite({**MINIMAL, "expectations": [
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a", "b"]}},
        {"type": "expect_column_pair_values_a_to_be_greater_than_b", "kwargs": {"column_A": "a", "column_B": "b"}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
    ]}, name="s")
    assert [e.column for e in spec.expectations] == ["a,b", "a,b", None]


@pytest.mark.parametrize("name", list_suites())
def test_every_project_suite_builds_gx_expectations(name: str):
    """Catches typos in expectation types and arguments before a DAG run does (imports GX)."""
    from community_dw.quality import gx_runner

    spec = load_suite(name)
    assert name == spec.table, "suite files are named <schema>.<table>.json"
    suite = gx_runner.gx_suite(spec, spec.expectations)
    assert len(suite.expectations) == len(spec.expectations)
    assert {str(e.severity.value) for e in suite.expectations} <= {"critical", "warning"}

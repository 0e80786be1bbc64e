"""Our suite files (expectations/<schema>.<table>.json): read, checked and resolved by name.

A suite file is a small JSON document that maps 1:1 onto Great Expectations classes, so a suite can
be read and reviewed without knowing GX's own serialization (which carries ids, rendered content and
version noise that make diffs unreadable):

    {
      "table": "staging.stg_grid__building",          # schema.table the suite checks
      "grain": "one row per building",                 # what one row means (STYLE.md)
      "description": "...",                            # optional
      "key_columns": ["building_code"],                # identify sample offending rows in messages
      "load_column": "load_id",                        # optional: check only this load's rows
      "volume": {"min_ratio": 0.5, "severity": "critical"},   # optional, this is the default;
                                                       # "volume": null switches the check off
      "expectations": [
        {"type": "expect_column_values_to_not_be_null",        # GX expectation type (snake case)
         "kwargs": {"column": "building_code"},                # the class's arguments, verbatim
         "severity": "critical",                               # critical blocks; warning records
         "notes": "why this matters"}                          # optional
      ]
    }

This module does not import Great Expectations (DAG files and summaries may import it cheaply);
gx_runner turns a SuiteSpec into GX objects.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from community_dw.config import PROJECT_ROOT

SEVERITIES = ("critical", "warning")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_TYPE = re.compile(r"^[a-z][a-z0-9_]*$")


class SuiteError(ValueError):
    """A suite file that cannot be used as written."""


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation: a GX expectation type, its arguments and how much a failure matters."""

    type: str
    kwargs: dict[str, Any]
    severity: str = "critical"
    notes: str | None = None

    @property
    def column(self) -> str | None:
        """The column(s) the expectation is about, as recorded in audit.quality_result.column_name."""
        kw = self.kwargs
        if "column" in kw:
            return str(kw["column"])
        if "column_A" in kw and "column_B" in kw:
            return f"{kw['column_A']},{kw['column_B']}"
        if "column_list" in kw:
            return ",".join(str(c) for c in kw["column_list"])
        return None


@dataclass(frozen=True)
class VolumeSpec:
    """The row count must exceed min_ratio × the previous load's count (0.5: half or fewer fails).

    `of`: "load" counts the rows the gate checks (a load's, with a load_column); "table" counts the whole
    table even when the other checks read one load's rows, for tables merged by key, where a pull holds
    only the changes and a shrinking table is what says records were lost."""

    min_ratio: float = 0.5
    severity: str = "critical"
    of: str = "load"


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    table: str
    grain: str
    expectations: list[ExpectationSpec]
    key_columns: list[str] = field(default_factory=list)
    load_column: str | None = None
    volume: VolumeSpec | None = field(default_factory=VolumeSpec)
    description: str | None = None
    path: Path | None = None

    @property
    def schema_name(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".", 1)[1]


def expectations_dir() -> Path:
    """The project's suite folder: one file per checked table."""
    return PROJECT_ROOT / "expectations"


def suite_path(name_or_path: str | Path) -> Path:
    """A suite name ("staging.stg_grid__building") resolves in expectations/; a path is used as is."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or candidate.is_absolute() or len(candidate.parts) > 1:
        if not candidate.exists():
            raise SuiteError(f"suite file not found: {candidate}")
        return candidate
    path = expectations_dir() / f"{name_or_path}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in expectations_dir().glob("*.json"))) or "none"
        raise SuiteError(f"no suite named {name_or_path!r} in {expectations_dir()} (known: {known})")
    return path


def load_suite(name_or_path: str | Path) -> SuiteSpec:
    """Read and check a suite file; the suite's name is the file name without .json."""
    path = suite_path(name_or_path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON: {exc}") from exc
    return parse_suite(doc, name=path.stem, path=path)


def parse_suite(doc: dict[str, Any], *, name: str, path: Path | None = None) -> SuiteSpec:
    where = str(path or name)
    if not isinstance(doc, dict):
        raise SuiteError(f"{where}: a suite is a JSON object")
    unknown = set(doc) - {"table", "grain", "description", "key_columns", "load_column", "volume",
                          "expectations"}
    if unknown:
        raise SuiteError(f"{where}: unknown keys {sorted(unknown)}")
    table = doc.get("table")
    if not isinstance(table, str) or table.count(".") != 1 or not all(
        _IDENTIFIER.match(part) for part in table.split(".")
    ):
        raise SuiteError(f"{where}: 'table' must be schema.table in lower case, got {table!r}")
    grain = doc.get("grain")
    if not isinstance(grain, str) or not grain.strip():
        raise SuiteError(f"{where}: 'grain' must say what one row is (e.g. 'one row per building')")
    key_columns = doc.get("key_columns", [])
    if not isinstance(key_columns, list) or not all(
        isinstance(c, str) and _IDENTIFIER.match(c) for c in key_columns
    ):
        raise SuiteError(f"{where}: 'key_columns' must be a list of column names")
    load_column = doc.get("load_column")
    if load_column is not None and not (isinstance(load_column, str) and _IDENTIFIER.match(load_column)):
        raise SuiteError(f"{where}: 'load_column' must be a column name")
    volume = _parse_volume(doc.get("volume", {}), where)
    raw_expectations = doc.get("expectations")
    if not isinstance(raw_expectations, list) or not raw_expectations:
        raise SuiteError(f"{where}: 'expectations' must be a non-empty list")
    expectations = [_parse_expectation(item, f"{where} expectation #{i + 1}")
                    for i, item in enumerate(raw_expectations)]
    return SuiteSpec(name=name, table=table, grain=grain, expectations=expectations,
                     key_columns=list(key_columns), load_column=load_column, volume=volume,
                     description=doc.get("description"), path=path)


def _parse_volume(raw: Any, where: str) -> VolumeSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"min_ratio", "severity", "of"}:
        raise SuiteError(f"{where}: 'volume' must be null or "
                         "{'min_ratio': 0.5, 'severity': 'critical', 'of': 'load' | 'table'}")
    ratio = raw.get("min_ratio", 0.5)
    severity = raw.get("severity", "critical")
    of = raw.get("of", "load")
    if of not in ("load", "table"):
        raise SuiteError(f"{where}: volume 'of' must be 'load' or 'table'")
    if not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise SuiteError(f"{where}: volume min_ratio must be between 0 and 1")
    if severity not in SEVERITIES:
        raise SuiteError(f"{where}: volume severity must be one of {SEVERITIES}")
    return VolumeSpec(min_ratio=float(ratio), severity=severity, of=of)


def _parse_expectation(item: Any, where: str) -> ExpectationSpec:
    if not isinstance(item, dict) or set(item) - {"type", "kwargs", "severity", "notes"}:
        raise SuiteError(f"{where}: an expectation is {{type, kwargs, severity, notes}}")
    etype = item.get("type")
    if not isinstance(etype, str) or not _TYPE.match(etype):
        raise SuiteError(f"{where}: 'type' must be a GX expectation type such as "
                         "'expect_column_values_to_not_be_null'")
    kwargs = item.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise SuiteError(f"{where}: 'kwargs' must be an object")
    if {"severity", "meta", "result_format"} & set(kwargs):
        raise SuiteError(f"{where}: severity goes beside kwargs; meta and result_format are set by the runner")
    severity = item.get("severity", "critical")
    if severity not in SEVERITIES:
        raise SuiteError(f"{where}: 'severity' must be one of {SEVERITIES}, got {severity!r}")
    return ExpectationSpec(type=etype, kwargs=dict(kwargs), severity=severity, notes=item.get("notes"))


def list_suites() -> list[str]:
    """Names of the project's suites, sorted."""
    return sorted(p.stem for p in expectations_dir().glob("*.json"))

"""The quality gate: run a table's suite, record every result in audit.quality_result, block on critical failures.

Use from a task:

    result = run_gate(engine, "staging.stg_grid__building", load_id=load_id, run_id=run_id)
    enforce(result)          # raises GateFailed (naming suite, expectation, samples) if critical failed

Warnings never block: they are logged, recorded and listed in ``result.warnings`` for the run summary.
Every gate also checks volume against the previous load (see ``lookup_previous_row_count``).
Importing this module does not import Great Expectations; running a gate does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from community_dw import config
from community_dw.quality.suites import ExpectationSpec, SuiteSpec, load_suite, parse_suite

log = logging.getLogger(__name__)

VOLUME_EXPECTATION = "expect_table_row_count_to_be_between"
_MAX_JSON_CHARS = 4000


def data_docs_dir() -> Path:
    """Where the static Data Docs site is built: <output_dir>/data_docs/index.html."""
    return config.output_dir() / "data_docs"


def gx_store_dir() -> Path:
    """Where GX keeps the suites and validation results the Data Docs are rendered from."""
    return config.output_dir() / "gx"


@dataclass
class Finding:
    """One failed expectation, with enough of the evidence to act on without opening Data Docs."""

    suite: str
    expectation_type: str
    column: str | None
    severity: str
    kwargs: dict[str, Any]
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    element_count: int | None = None
    observed_value: Any = None
    sample_values: list[Any] = field(default_factory=list)
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    exception: str | None = None
    notes: str | None = None
    is_volume_check: bool = False
    previous_row_count: int | None = None

    def describe(self) -> str:
        """One line: the expectation, what was wrong, and samples of the offending values/rows."""
        target = f" on {self.column}" if self.column else ""
        head = f"[{self.severity}] {self.expectation_type}{target}"
        if self.exception:
            return f"{head}: could not be evaluated: {self.exception}"
        if self.is_volume_check:
            minimum = self.kwargs.get("min_value")
            return (f"{head} (volume): {self.observed_value} rows, the previous load had "
                    f"{self.previous_row_count}; more than {minimum} required")
        parts = [head + ":"]
        if self.unexpected_count is not None:
            pct = f" ({self.unexpected_percent:.2f}%)" if self.unexpected_percent is not None else ""
            of = f" of {self.element_count}" if self.element_count is not None else ""
            parts.append(f"{self.unexpected_count}{of} rows unexpected{pct};")
        elif self.observed_value is not None:
            parts.append(f"observed {_short(self.observed_value)};")
        shown_kwargs = {k: v for k, v in self.kwargs.items() if k not in ("column", "column_list")}
        if shown_kwargs:
            parts.append(f"expected {_short(shown_kwargs)};")
        if self.sample_values:
            parts.append(f"sample values {_short(self.sample_values)};")
        if self.sample_rows:
            parts.append(f"sample rows {_short(self.sample_rows)}")
        return " ".join(parts).rstrip(";")


@dataclass
class GateResult:
    """What a gate run decided. `passed` is False exactly when a critical expectation failed."""

    suite: str
    table: str
    passed: bool
    failures: list[Finding]
    warnings: list[Finding]
    evaluated: int
    gate_run_id: str
    load_id: int | None = None
    run_id: str | None = None
    row_count: int | None = None
    previous_row_count: int | None = None
    data_docs_index: Path | None = None
    data_docs_page: Path | None = None
    duration_s: float = 0.0

    def summary(self) -> str:
        """Several lines for logs and the run summary: verdict, failures, warnings, Data Docs."""
        verdict = "passed" if self.passed else "FAILED"
        load = f", load {self.load_id}" if self.load_id is not None else ""
        rows = f", {self.row_count} rows" if self.row_count is not None else ""
        lines = [f"quality gate {verdict}: suite {self.suite} (table {self.table}{load}{rows}); "
                 f"{self.evaluated} expectations, {len(self.failures)} critical failed, "
                 f"{len(self.warnings)} warnings"]
        lines += [f"  - {f.describe()}" for f in self.failures + self.warnings]
        if self.data_docs_page or self.data_docs_index:
            lines.append(f"  Data Docs: {self.data_docs_page or self.data_docs_index}")
        return "\n".join(lines)


class GateFailed(Exception):
    """A critical expectation failed: nothing downstream of this table may be published."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        super().__init__(result.summary())


def enforce(result: GateResult) -> GateResult:
    """Raise GateFailed when the gate did not pass; log warnings either way; return the result."""
    for warning in result.warnings:
        log.warning("suite %s: %s", result.suite, warning.describe())
    if not result.passed:
        raise GateFailed(result)
    return result


def lookup_previous_row_count(engine: Engine, suite_name: str, *, load_id: int | None = None,
                       volume_key: str | None = None) -> int | None:
    """The row count seen by the latest *passed* gate of this suite (for another load than `load_id`).

    A failed gate never becomes the baseline: after a halved delivery is rejected, the next one is
    still compared with the last good one. `volume_key` separates kinds of delivery whose sizes are
    not comparable (e.g. "full" and "delta").
    """
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "select (observed->>'row_count')::bigint from audit.quality_result "
                "where suite_name = :suite and observed->>'check' = 'volume' "
                "and (observed->>'gate_passed')::boolean "
                "and (cast(:load_id as bigint) is null or load_id is distinct from cast(:load_id as bigint)) "
                "and observed->>'volume_key' is not distinct from cast(:volume_key as text) "
                "order by quality_result_id desc limit 1"
            ),
            {"suite": suite_name, "load_id": load_id, "volume_key": volume_key},
        ).scalar()


def volume_expectation(suite: SuiteSpec, previous: int | None) -> ExpectationSpec | None:
    """Row count > min_ratio × previous (a delivery with half the rows or fewer fails).

    Without a previous count the bound is 0: the check then only records the count as the baseline.
    """
    if suite.volume is None:
        return None
    minimum = math.floor(previous * suite.volume.min_ratio) if previous else 0
    kwargs: dict[str, Any] = {"min_value": minimum, "strict_min": bool(previous)}
    return ExpectationSpec(type=VOLUME_EXPECTATION, kwargs=kwargs, severity=suite.volume.severity,
                           notes=f"volume: more than {suite.volume.min_ratio:g} × the previous load's rows")


def run_gate(engine: Engine, suite: str | Path | SuiteSpec, *, load_id: int | None = None,
             run_id: str | None = None, previous_row_count: int | None = None,
             volume_key: str | None = None,
             extra_expectations: list[ExpectationSpec | dict[str, Any]] | None = None) -> GateResult:
    """Run a suite against its table in the warehouse, record the results, and return the verdict.

    `suite` is a suite name ("staging.stg_grid__building", resolved in expectations/), a path to a
    suite file, or a SuiteSpec. `previous_row_count` overrides the baseline of the volume check
    (else: the latest passed gate of this suite, see lookup_previous_row_count()). `extra_expectations`
    adds checks computed at run time (e.g. bounds that depend on the previous run). Does not raise
    on failed expectations: pass the result to enforce().
    """
    started = time.perf_counter()
    spec = suite if isinstance(suite, SuiteSpec) else load_suite(suite)
    specs = list(spec.expectations) + [_as_spec(e, spec.name) for e in extra_expectations or []]
    previous = previous_row_count
    if previous is None and spec.volume is not None:
        previous = lookup_previous_row_count(engine, spec.name, load_id=load_id, volume_key=volume_key)
    volume = volume_expectation(spec, previous)
    # A volume "of" the table, while the other checks read one load's rows: counted in a batch of its own.
    table_volume = volume is not None and spec.volume.of == "table" and bool(spec.load_column) and load_id is not None
    batch_specs = specs + ([volume] if volume is not None and not table_volume else [])

    from community_dw.quality import gx_runner

    url = engine.url.render_as_string(hide_password=False)
    outcome = gx_runner.validate(url, spec, batch_specs, store_root=gx_store_dir(), docs_dir=data_docs_dir(),
                                 load_id=load_id, run_id=run_id)
    checks = list(outcome.checks)
    if table_volume:
        whole = dataclasses.replace(spec, name=f"{spec.name}.table_volume", load_column=None)
        checks += gx_runner.validate(url, whole, [volume], store_root=gx_store_dir(), docs_dir=data_docs_dir(),
                                     run_id=run_id).checks
    volume_index = len(checks) - 1 if volume is not None else None  # the volume check comes last

    _add_unexpected_row_samples(engine, spec, load_id, checks)
    findings: list[Finding | None] = []
    row_count = None
    for i, check in enumerate(checks):
        is_volume = i == volume_index
        if is_volume:
            observed = check.result.get("observed_value")
            row_count = int(observed) if observed is not None else None
        findings.append(None if check.success else _finding(spec.name, check, is_volume, previous))
    failures = [f for f in findings if f is not None and f.severity == "critical"]
    warnings = [f for f in findings if f is not None and f.severity != "critical"]
    result = GateResult(
        suite=spec.name, table=spec.table, passed=not failures, failures=failures, warnings=warnings,
        evaluated=len(checks), gate_run_id=uuid.uuid4().hex, load_id=load_id, run_id=run_id,
        row_count=row_count, previous_row_count=previous, data_docs_index=outcome.data_docs_index,
        data_docs_page=outcome.data_docs_page,
    )
    _record(engine, result, checks, volume_index, volume_key)
    result.duration_s = round(time.perf_counter() - started, 3)
    log.info("%s (%.1f s)", result.summary(), result.duration_s)
    return result


def _add_unexpected_row_samples(engine: Engine, suite: SuiteSpec, load_id: int | None,
                                checks: list[Any]) -> None:
    """Failed unexpected_rows_expectation checks: fetch up to 5 offending rows to name in messages."""
    from community_dw.quality import gx_runner

    failed = [c for c in checks if not c.success and not c.exception
              and c.spec.type == "unexpected_rows_expectation"]
    if not failed:
        return
    with engine.connect() as conn:
        for check in failed:
            try:
                rows = gx_runner.sample_unexpected_rows(conn, suite, load_id,
                                                        check.spec.kwargs["unexpected_rows_query"])
            except Exception as exc:  # the count already decided the check; samples are a courtesy
                conn.rollback()
                log.warning("suite %s: could not sample unexpected rows: %s", suite.name, exc)
                continue
            check.result.setdefault("details", {})["unexpected_rows"] = [_plain(r) for r in rows]


def _as_spec(item: ExpectationSpec | dict[str, Any], suite_name: str) -> ExpectationSpec:
    if isinstance(item, ExpectationSpec):
        return item
    parsed = parse_suite({"table": "x.y", "grain": "-", "expectations": [item]}, name=suite_name)
    return parsed.expectations[0]


def _finding(suite: str, check: Any, is_volume: bool, previous: int | None) -> Finding:
    result = check.result
    spec: ExpectationSpec = check.spec
    details = result.get("details") or {}
    sample_rows = result.get("partial_unexpected_index_list") or details.get("unexpected_rows") or []
    return Finding(
        suite=suite, expectation_type=spec.type, column=spec.column, severity=spec.severity,
        kwargs=dict(spec.kwargs), unexpected_count=result.get("unexpected_count"),
        unexpected_percent=result.get("unexpected_percent"), element_count=result.get("element_count"),
        observed_value=result.get("observed_value"),
        sample_values=list(result.get("partial_unexpected_list") or [])[:5],
        sample_rows=[_plain(r) for r in list(sample_rows)[:5]],
        exception=check.exception, notes=spec.notes, is_volume_check=is_volume,
        previous_row_count=previous if is_volume else None,
    )


def _record(engine: Engine, result: GateResult, checks: list[Any], volume_index: int | None,
            volume_key: str | None) -> None:
    """One audit.quality_result row per expectation, all in one transaction."""
    docs_page = str(result.data_docs_page) if result.data_docs_page else None
    rows = []
    for i, check in enumerate(checks):
        spec: ExpectationSpec = check.spec
        res = check.result
        observed: dict[str, Any] = {
            "gate_run": result.gate_run_id,
            "gate_passed": result.passed,
            "kwargs": spec.kwargs,
        }
        for key in ("observed_value", "element_count", "unexpected_count", "unexpected_percent",
                    "missing_count"):
            if res.get(key) is not None:
                observed[key] = res[key]
        if res.get("partial_unexpected_list"):
            observed["sample_values"] = list(res["partial_unexpected_list"])[:5]
        samples = res.get("partial_unexpected_index_list") or (res.get("details") or {}).get("unexpected_rows")
        if samples:
            observed["sample_rows"] = [_plain(r) for r in list(samples)[:5]]
        if check.exception:
            observed["exception"] = check.exception[:2000]
        if i == volume_index:
            observed.update(check="volume", row_count=result.row_count,
                            previous_row_count=result.previous_row_count, volume_key=volume_key)
        if docs_page:
            observed["data_docs_page"] = docs_page
        rows.append({
            "load_id": result.load_id, "run_id": result.run_id, "suite": result.suite,
            "etype": spec.type, "column": spec.column, "severity": spec.severity,
            "success": check.success, "observed": _to_json(observed),
        })
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into audit.quality_result (load_id, run_id, suite_name, expectation_type, "
                "column_name, severity, success, observed) values (:load_id, :run_id, :suite, :etype, "
                ":column, :severity, :success, cast(:observed as jsonb))"
            ),
            rows,
        )


def _plain(value: Any) -> Any:
    """GX hands back pandas rows, numpy scalars, dates: make them JSON-friendly plain values."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _to_json(value: dict[str, Any]) -> str:
    """Compact JSON for jsonb; any single field too large to be useful is cut to a preview."""
    plain = _plain(value)
    for key, item in list(plain.items()):
        text = json.dumps(item, ensure_ascii=False)
        if len(text) > _MAX_JSON_CHARS:
            plain[key] = text[:_MAX_JSON_CHARS] + "…"
    return json.dumps(plain, ensure_ascii=False)


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(_plain(value), ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"

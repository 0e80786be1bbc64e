"""Ingest a returned outreach list: archive it, keep its rows in raw, quarantine bad rows, apply the outcomes."""

from __future__ import annotations

import json
import logging
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from community_dw.outreach.lists import OUTREACH_LOCK_KEY
from community_dw.outreach.rules import Outcome, RuleSet, load_rules
from community_dw.sources.attempts import claimed_load, close_abandoned
from community_dw.sources.delivery import DeliveryError, parse_delivery
from community_dw.sources.landing import land_file
from community_dw.sources.mapping import load_mapping
from community_dw.warehouse.audit import fail_load, finish_load, loaded_before, record_skip
from community_dw.warehouse.connection import raw_connection
from community_dw.warehouse.copy import copy_frame

log = logging.getLogger(__name__)

SOURCE = "outreach.feedback"
MAPPING = "outreach_feedback"
RAW_TABLE = "raw.outreach__feedback"
QUARANTINE_TABLE = "quarantine.outreach__feedback"


class FeedbackRejected(RuntimeError):
    """The whole return is unusable (not a workbook, no 编号 or 走访结果 column); nothing was applied."""


@dataclass
class Problem:
    """One returned row that could not be applied; `message` names the file, row and column."""

    source_row: int
    column: str
    reason_code: str
    message: str


@dataclass
class FeedbackResult:
    delivery: str
    status: str  # succeeded | skipped_duplicate
    load_id: int
    rows_read: int = 0
    rows_blank_outcome: int = 0  # rows staff left empty: nothing to apply, nothing wrong
    applied: int = 0
    closed: int = 0
    kept_open: int = 0
    item_already_closed: int = 0
    signals: int = 0
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in vars(self).items() if k != "problems"},
                "quarantined": len(self.problems), "problems": [p.message for p in self.problems]}


def _clean(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


def _check_rows(frame: pd.DataFrame, delivery: str, rules: RuleSet,
                existing_items: set[int]) -> tuple[list[dict[str, Any]], list[Problem], int]:
    """Split returned rows into applicable ones, problems, and the count of rows with no outcome."""
    labels = [o.label for o in rules.outcomes]
    good: list[dict[str, Any]] = []
    problems: list[Problem] = []
    blank = 0

    def problem(row: int, column: str, code: str, message: str) -> None:
        problems.append(Problem(row, column, code, str(DeliveryError(delivery, message, row=row, column=column))))

    for record in frame.to_dict("records"):
        row = int(record["source_row"])
        outcome_text = _clean(record.get("outcome"))
        item_text = _clean(record.get("item_id"))
        if outcome_text is None:
            blank += 1
            continue
        outcome = rules.outcome(outcome_text)
        if outcome is None:
            problem(row, "走访结果", "unknown_outcome",
                    f"unknown outcome {outcome_text!r}; expected one of {' / '.join(labels)}")
            continue
        if item_text is None:
            problem(row, "编号", "missing_item_id", "编号 is empty, so the outcome cannot be matched to an item")
            continue
        if not item_text.isdigit():
            problem(row, "编号", "bad_item_id", f"编号 {item_text!r} is not an item number")
            continue
        if int(item_text) not in existing_items:
            problem(row, "编号", "unknown_item", f"no outreach item with 编号 {item_text}")
            continue
        good.append({"source_row": row, "item_id": int(item_text), "outcome": outcome,
                     "contact_date": _clean(record.get("contact_date")), "note": _clean(record.get("note"))})
    return good, problems, blank


def _contact_dates(rows: list[dict[str, Any]]) -> list[Any]:
    """Staff write dates every way; a date that cannot be read is left empty (the raw row keeps it)."""
    from community_dw.standardize.dates import parse_dates

    if not rows:
        return []
    parsed = parse_dates(pd.Series([row["contact_date"] for row in rows], dtype="str"))["date"]
    return [None if pd.isna(value) else value.date() for value in parsed]


def _apply(cur, load_id: int, row: dict[str, Any], contact_date: Any, outcome: Outcome, result: FeedbackResult) -> None:
    """One outcome onto its item, in file order (a later row about the same item wins)."""
    cur.execute("select person_key, status from outreach.list_item where item_id = %(id)s for update",
                {"id": row["item_id"]})
    person_key, status = cur.fetchone()
    params = {"id": row["item_id"], "label": outcome.label, "code": outcome.code, "load_id": load_id,
              "days": outcome.suppress_days, "person": person_key}
    if status == "closed":
        effect = "item_already_closed"
    elif outcome.action == "close":
        effect = "closed"
        cur.execute(
            "update outreach.list_item set status = 'closed', closed_reason = %(code)s, last_outcome = %(label)s, "
            "last_outcome_at = now(), closed_load_id = %(load_id)s, closed_at = now(), updated_at = now(), "
            "suppress_until = case when %(days)s > 0 then coalesce((select as_of_date from outreach.run "
            "order by run_id desc limit 1), current_date) + %(days)s end where item_id = %(id)s", params)
    else:
        effect = "kept_open"
        cur.execute("update outreach.list_item set last_outcome = %(label)s, last_outcome_at = now(), "
                    "updated_at = now() where item_id = %(id)s", params)
    if outcome.signal:
        cur.execute("insert into outreach.person_signal (person_key, signal, item_id, load_id, source_row) "
                    "values (%(person)s, %(signal)s, %(id)s, %(load_id)s, %(row)s) "
                    "on conflict (person_key, signal) where active do nothing",
                    {**params, "signal": outcome.signal, "row": row["source_row"]})
        result.signals += cur.rowcount
        # gone or dead: every other open item of the person is moot
        cur.execute("update outreach.list_item set status = 'closed', closed_reason = %(code)s, "
                    "closed_load_id = %(load_id)s, closed_at = now(), updated_at = now() "
                    "where person_key = %(person)s and status = 'open'", params)
    cur.execute("insert into outreach.feedback (load_id, source_row, item_id, outcome, outcome_code, contact_date, "
                "note, effect) values (%(load_id)s, %(row)s, %(id)s, %(label)s, %(code)s, %(date)s, %(note)s, "
                "%(effect)s)", {**params, "row": row["source_row"], "date": contact_date, "note": row["note"],
                                "effect": effect})
    result.applied += 1
    setattr(result, effect, getattr(result, effect) + 1)


def ingest_feedback(engine: Engine, path: str | Path, rules_path: Path | None = None) -> dict[str, Any]:
    """Load one returned list (XLSX or CSV) and apply its outcomes; returns what happened.

    Like any delivery: archived by content hash (a return sent twice is applied once), one
    audit.load_run row, every returned row kept in raw.outreach__feedback. Rows that cannot be applied
    (unknown outcome, missing or unknown 编号) go to quarantine.outreach__feedback with the reason and
    are listed in `problems` (file, row, column); the rest apply. A file missing the 编号 or 走访结果
    column raises FeedbackRejected and applies nothing. Raw rows, quarantine and outcomes commit together.
    """
    path = Path(path)
    rules = load_rules(rules_path)
    mapping = load_mapping(MAPPING)
    landed = land_file(engine, SOURCE, path)
    if (earlier := loaded_before(engine, SOURCE, landed.content_hash)) is not None:
        load_id = record_skip(engine, SOURCE, path.name, landed.content_hash, None,
                              f"same content already loaded by load {earlier}")
        return FeedbackResult(path.name, "skipped_duplicate", load_id).as_dict()
    # A return whose import was killed left its row 'running': close such rows first (sources/attempts.py),
    # and claim this one while it runs, so that a kill of this import is found the same way.
    close_abandoned(engine, SOURCE)
    with claimed_load(engine, SOURCE, path.name, landed.content_hash, None) as load_id:
        rows_read = None
        try:
            parsed = parse_delivery(path, mapping)
            rows_read = parsed.rows_read
            result = FeedbackResult(path.name, "succeeded", load_id, rows_read=rows_read)
            with raw_connection(engine) as conn, conn.cursor() as cur:
                cur.execute("select pg_advisory_xact_lock(%s)", (OUTREACH_LOCK_KEY,))
                copy_frame(conn, RAW_TABLE, parsed.frame.assign(load_id=load_id),
                           ["load_id", "source_row", *parsed.columns, "extra"])
                ids = [int(v) for v in parsed.frame["item_id"].dropna().map(_clean).dropna() if v.isdigit()]
                cur.execute("select item_id from outreach.list_item where item_id = any(%s)", (ids,))
                existing = {item_id for (item_id,) in cur.fetchall()}
                good, result.problems, result.rows_blank_outcome = _check_rows(parsed.frame, path.name, rules, existing)
                if result.problems:
                    records = parsed.frame.set_index("source_row")
                    copy_frame(conn, QUARANTINE_TABLE, pd.DataFrame([{
                        "load_id": load_id, "source_row": p.source_row, "reason_code": p.reason_code,
                        "reason_detail": p.message,
                        "record": json.dumps({k: (None if pd.isna(v) else v)
                                              for k, v in records.loc[p.source_row].items()}, ensure_ascii=False),
                    } for p in result.problems]))
                for row, contact_date in zip(good, _contact_dates(good), strict=True):
                    _apply(cur, load_id, row, contact_date, row["outcome"], result)
                finish_load(conn, load_id, rows_read=rows_read, rows_loaded=rows_read,
                            rows_skipped=result.rows_blank_outcome,
                            drift=parsed.drift if any(parsed.drift.values()) else None)
                cur.execute("update audit.load_run set rows_quarantined = %s where load_id = %s",
                            (len(result.problems), load_id))
                # per load, rows in = rows used (applied or left blank) + rows quarantined
                cur.execute("insert into audit.load_step (load_id, step, rows_in, rows_out, rows_quarantined) "
                            "values (%s, 'apply_feedback', %s, %s, %s)",
                            (load_id, rows_read, rows_read - len(result.problems), len(result.problems)))
        except DeliveryError as error:
            fail_load(engine, load_id, str(error), rows_read)
            raise FeedbackRejected(str(error)) from error
        except Exception as error:
            fail_load(engine, load_id, f"{path.name}: {type(error).__name__}: {error}", rows_read)
            raise
    for problem in result.problems:
        log.warning("%s", problem.message)
    log.info("%s: %s", path.name, result.as_dict())
    return result.as_dict()

"""Reviewers' decisions, applied at the start of a run: decided pairs, broken links, reverted breaks.

Pairs (review.person_match, decision same_person / different_person) are applied set-based by
sql/resolve/apply_review_decisions.sql. Link corrections (review.person_link_correction):
- break: the record leaves its person and becomes a person of its own (a new key);
- revert_break: the record goes back to the key it had before its latest applied break.
Corrections are applied one by one in decision order, because a break and its revert may both be
pending and order matters; they are written by people, a handful per day, never a big table.
Every move is written to core.person_link_history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from community_dw.warehouse.sql_runner import run_sql


@dataclass
class ReviewCounts:
    decisions_relinked: int = 0
    links_broken: int = 0
    breaks_reverted: int = 0


def request_break(conn: Connection, source: str, record_ref: str, decided_by: str, reason: str = "") -> int:
    """Record a reviewer's break of a record's link (applied on the next run); returns its id."""
    return int(conn.exec_driver_sql(
        "insert into review.person_link_correction (source, record_ref, action, reason, decided_by) "
        "values (%s, %s, 'break', %s, %s) returning correction_id", (source, record_ref, reason, decided_by)).scalar())


def request_revert(conn: Connection, source: str, record_ref: str, decided_by: str, reason: str = "") -> int:
    """Record a reviewer's revert of the latest break of a record (applied on the next run)."""
    return int(conn.exec_driver_sql(
        "insert into review.person_link_correction (source, record_ref, action, reason, decided_by) "
        "values (%s, %s, 'revert_break', %s, %s) returning correction_id",
        (source, record_ref, reason, decided_by)).scalar())


def decide_pair(conn: Connection, match_id: int, decision: str, decided_by: str) -> None:
    """Record a reviewer's decision on a review pair (applied on the next run)."""
    if decision not in ("same_person", "different_person"):
        raise ValueError("decision is same_person or different_person")
    conn.exec_driver_sql(
        "update review.person_match set decision = %s, decided_by = %s, decided_at = now() where match_id = %s",
        (decision, decided_by, match_id))


def _relink(conn: Connection, correction_id: int, source: str, record_ref: str, new_key: int, action: str) -> int:
    old_key = conn.exec_driver_sql(
        "select person_key from core.person_link where source = %s and record_ref = %s for update",
        (source, record_ref)).scalar()
    if old_key is None or old_key == new_key:
        conn.exec_driver_sql("update review.person_link_correction set applied_at = now(), old_person_key = %s, "
                             "new_person_key = %s where correction_id = %s", (old_key, old_key, correction_id))
        return 0
    conn.exec_driver_sql(
        "insert into core.person_link_history (source, record_ref, old_person_key, new_person_key, method, reason) "
        "values (%s, %s, %s, %s, %s, %s)",
        (source, record_ref, old_key, new_key, f"review_{action}", f"review.person_link_correction {correction_id}"))
    conn.exec_driver_sql(
        "update core.person_link set person_key = %s, method = 'review_decision', score = null, "
        "rule_version = %s, linked_at = now() where source = %s and record_ref = %s",
        (new_key, f"review.person_link_correction:{correction_id}", source, record_ref))
    conn.exec_driver_sql("update review.person_link_correction set applied_at = now(), old_person_key = %s, "
                         "new_person_key = %s where correction_id = %s", (old_key, new_key, correction_id))
    return 1


def apply_corrections(conn: Connection) -> tuple[int, int]:
    """Pending breaks and reverts, in decision order; returns (broken, reverted)."""
    pending = conn.exec_driver_sql(
        "select correction_id, source, record_ref, action from review.person_link_correction "
        "where applied_at is null order by decided_at, correction_id").all()
    broken = reverted = 0
    for correction_id, source, record_ref, action in pending:
        if action == "break":
            new_key = conn.exec_driver_sql("select nextval('core.person_key_seq')").scalar()
            broken += _relink(conn, correction_id, source, record_ref, int(new_key), "break")
        else:
            before = conn.exec_driver_sql(
                "select old_person_key from review.person_link_correction where source = %s and record_ref = %s "
                "and action = 'break' and applied_at is not null order by applied_at desc, correction_id desc limit 1",
                (source, record_ref)).scalar()
            if before is None:
                conn.exec_driver_sql("update review.person_link_correction set applied_at = now() "
                                     "where correction_id = %s", (correction_id,))
                continue
            reverted += _relink(conn, correction_id, source, record_ref, int(before), "revert")
    return broken, reverted


def apply_review(conn: Connection) -> ReviewCounts:
    """Decided pairs first (set-based), then link corrections, in the caller's transaction."""
    relinked = int(run_sql(conn, "resolve/apply_review_decisions") or 0)
    broken, reverted = apply_corrections(conn)
    return ReviewCounts(relinked, broken, reverted)

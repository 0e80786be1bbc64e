"""Build the outreach lists for a logical date: rules -> candidates -> outreach.list_item, in one transaction."""

from __future__ import annotations

import json
import logging
import time
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from community_dw.outreach.rules import RuleError, RuleSet, compile_rule, load_rules
from community_dw.warehouse.sql_runner import run_sql

log = logging.getLogger(__name__)

#: pg_advisory_xact_lock key: two list builds (or a build and a feedback load) never interleave.
OUTREACH_LOCK_KEY = 7_310_020


def lock_outreach(conn: Connection) -> None:
    conn.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": OUTREACH_LOCK_KEY})


def _check_against_catalogue(conn: Connection, rules: RuleSet) -> None:
    """Vaccine codes and seasonality live in core.vaccine_catalogue, so they are checked against it."""
    catalogue = dict(conn.execute(sa.text("select vaccine_code, seasonal from core.vaccine_catalogue")).all())
    for rule in rules.active:
        if rule.vaccine not in catalogue:
            raise RuleError(f"rule {rule.rule_id}: vaccine {rule.vaccine!r} is not in core.vaccine_catalogue "
                            f"(known: {', '.join(sorted(catalogue))})")
        if rule.status == "no_dose_this_season" and not catalogue[rule.vaccine]:
            raise RuleError(f"rule {rule.rule_id}: no_dose_this_season needs a seasonal vaccine; "
                            f"{rule.vaccine} is not seasonal (use not_complete or missing_dose)")


def _sync_rules(conn: Connection, rules: RuleSet) -> None:
    """outreach.rule mirrors the file: upsert every rule, disable the ones no longer in it."""
    for rule in rules.rules:
        compiled = compile_rule(rule)
        conn.execute(sa.text(
            "insert into outreach.rule (rule_id, reason, priority, vaccine_code, definition, predicate_sql, enabled) "
            "values (:rule_id, :reason, :priority, :vaccine, cast(:definition as jsonb), :predicate, :enabled) "
            "on conflict (rule_id) do update set reason = excluded.reason, priority = excluded.priority, "
            "vaccine_code = excluded.vaccine_code, definition = excluded.definition, "
            "predicate_sql = excluded.predicate_sql, enabled = excluded.enabled, loaded_at = now()"),
            {"rule_id": rule.rule_id, "reason": rule.reason, "priority": rule.priority, "vaccine": rule.vaccine,
             "definition": json.dumps(rule.definition, ensure_ascii=False, default=str),
             "predicate": (compiled.ctes.strip() + "\n" if compiled.ctes else "") + compiled.predicate,
             "enabled": rule.enabled})
    conn.execute(sa.text("update outreach.rule set enabled = false, loaded_at = now() "
                         "where enabled and not (rule_id = any(:ids))"),
                 {"ids": [rule.rule_id for rule in rules.rules]})


def build_outreach_lists(engine: Engine, as_of: date | None = None, rules_path: Path | None = None) -> dict[str, Any]:
    """Apply the rules to the core for `as_of` (default: core.as_of, the date the core was built for).

    Idempotent: a second build for the same date and data opens nothing and closes nothing. All in
    one transaction, so staff exporting meanwhile see the previous lists whole, never half a merge.
    Returns the run's figures: run_id, as_of_date, candidates per rule, items opened/refreshed/closed.
    """
    rules = load_rules(rules_path)
    started = time.perf_counter()
    with engine.begin() as conn:
        lock_outreach(conn)
        as_of_date = as_of or conn.execute(sa.text("select as_of_date from core.as_of")).scalar()
        if as_of_date is None:
            raise RuntimeError("core.as_of is empty: build the core first (pipeline.build_core), or pass as_of")
        _check_against_catalogue(conn, rules)
        _sync_rules(conn, rules)
        run_id = conn.execute(sa.text("insert into outreach.run (as_of_date, rules_hash) values (:d, :h) "
                                      "returning run_id"), {"d": as_of_date, "h": rules.digest}).scalar_one()
        conn.execute(sa.text("truncate outreach.candidate"))
        per_rule: dict[str, int] = {}
        for rule in rules.active:
            compiled = compile_rule(rule)
            result = conn.execute(sa.text(compiled.statement()),
                                  {**compiled.params, "run_id": run_id, "as_of": as_of_date})
            per_rule[rule.rule_id] = result.rowcount
        run_sql(conn, "outreach/list_item")
        figures = conn.execute(sa.text(
            "select candidates, items_opened, items_refreshed, items_closed, items_open_after "
            "from outreach.run where run_id = :run_id"), {"run_id": run_id}).mappings().one()
    summary = {"run_id": run_id, "as_of_date": as_of_date, "rules_hash": rules.digest,
               "selected_per_rule": per_rule, **dict(figures),
               "seconds": round(time.perf_counter() - started, 2)}
    log.info("outreach run %s for %s: %s", run_id, as_of_date, summary)
    return summary

"""Probabilistic person resolution: unlinked records scored against known persons and each other.

Runs inside the caller's transaction, after the deterministic passes (without their new-person
pass) and before it:

1. the unlinked records and the profiles (distinct attribute sets) of the persons that share a
   blocking key with one of them are copied out of PostgreSQL;
2. unlinked profiles are scored against person profiles (Splink, DuckDB): the best person at or
   above the upper threshold, at least `margin_bits` ahead of the next person, is linked
   ('probabilistic'); otherwise the candidates at or above the lower one become review pairs in
   review.person_match;
3. the remaining unlinked profiles are scored against each other: groups joined at or above the
   upper threshold become one new person; doubtful pairs wait (resolve_pair_pending) until the
   new-person pass has given both sides a key, then go to review.

Only records without a link are ever read as "unlinked", so keys already given never move here.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from community_dw.resolve.linker import LinkSettings, dedupe_list, link_lists
from community_dw.warehouse.copy import copy_frame
from community_dw.warehouse.sql_runner import run_sql

log = logging.getLogger(__name__)

#: At most this many candidate persons per record go to review: more means the record says too little.
MAX_REVIEW_CANDIDATES = 3

_PROFILE_SQL = "select distinct {cols} from ({query}) q"


@dataclass
class ProbabilisticCounts:
    unlinked_records: int = 0
    candidate_profiles: int = 0
    linked: int = 0
    review_pairs: int = 0
    grouped_new: int = 0
    pending_pairs: int = 0


def read_frame(conn: Connection, query: str) -> pd.DataFrame:
    """COPY a query's result out as text (all columns str): far faster than a cursor for big sets."""
    buffer = io.StringIO()
    with conn.connection.cursor() as cur:
        cur.copy_expert(f"copy ({query}) to stdout with (format csv, header true, null '\\N')", buffer)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=str, keep_default_na=False, na_values=["\\N"])


def _execute(conn: Connection, statement: str) -> None:
    with conn.connection.cursor() as cur:
        cur.execute(statement)


def _ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def candidate_query(settings: LinkSettings) -> str:
    """Linked records sharing all columns of at least one blocking rule with an unlinked record.

    One scan of the records with a hashed semi-join per rule (ORed): only the persons that can
    possibly be compared leave the warehouse, so a daily delta does not copy out the whole city.
    """
    cols = ", ".join(f"r.{_ident(c)}" for c in settings.columns)
    tests = []
    for rule in settings.blocking:
        keys = ", ".join(_ident(c) for c in rule)
        not_null = " and ".join(f"u.{_ident(c)} is not null" for c in rule)
        tests.append(f"({', '.join('r.' + _ident(c) for c in rule)}) in "
                     f"(select {keys} from resolve_pending u where {not_null})")
    return (f"select distinct l.person_key, {cols} from core.person_resolve_record r "
            f"join core.person_link l using (source, record_ref) where " + "\n or ".join(tests))


def _profiles(records: pd.DataFrame, settings: LinkSettings, prefix: str) -> tuple[pd.DataFrame, pd.Series]:
    """Distinct attribute sets of `records` with a uid each, and each record's profile uid.

    The five dose records of one child carry the same attributes: scoring them once is enough.
    """
    key_cols = settings.columns + (["person_key"] if "person_key" in records.columns else [])
    keys = records[key_cols].fillna("\x00")
    codes = keys.groupby(key_cols, sort=False, dropna=False).ngroup().to_numpy()
    uids = pd.Series([f"{prefix}{c}" for c in codes], index=records.index)
    first = ~pd.Series(codes).duplicated().to_numpy()
    profiles = records.loc[first, key_cols].copy()
    profiles[settings.unique_id] = uids[first].to_numpy()
    return profiles.reset_index(drop=True), uids


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components (union-find with path halving) over n nodes; returns a root per node."""
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


def _evidence(pairs: pd.DataFrame, settings: LinkSettings) -> pd.Series:
    """JSON per pair: each compared column on both sides, for the reviewer."""
    cols = [c for c in settings.compared_columns if f"{c}_l" in pairs.columns]
    frame = pd.DataFrame({f"{c}_{s}": pairs[f"{c}_{s}"].astype("string") for c in cols for s in ("l", "r")})
    return frame.apply(lambda row: row.dropna().to_json(force_ascii=False), axis=1) if len(frame) else pd.Series(dtype=str)


def resolve_probabilistic(conn: Connection, settings: LinkSettings, model: dict[str, Any]) -> ProbabilisticCounts:
    """Steps 1-3 of the module docstring, in the caller's transaction; see insert_pending_reviews."""
    counts = ProbabilisticCounts()
    cols = ", ".join(_ident(c) for c in settings.columns)
    _execute(conn, "drop table if exists resolve_pair_pending; drop table if exists resolve_decision")
    _execute(conn, """
        create temp table resolve_pair_pending (source text, record_ref text, other_source text,
            other_record_ref text, match_probability double precision, evidence jsonb) on commit drop;
        create temp table resolve_decision (source text, record_ref text, kind text, person_key bigint,
            component text, score double precision) on commit drop""")
    unlinked = read_frame(conn, f"select source, record_ref, {cols} from resolve_pending")
    counts.unlinked_records = len(unlinked)
    if unlinked.empty:
        return counts
    candidates = read_frame(conn, candidate_query(settings))
    counts.candidate_profiles = len(candidates)

    profiles, record_profile = _profiles(unlinked, settings, "u")
    unlinked["profile"] = record_profile
    person_profiles, _ = _profiles(candidates, settings, "p")
    person_of = dict(zip(person_profiles[settings.unique_id], person_profiles["person_key"].astype("int64"), strict=True))

    # 2. against known persons: best person per unlinked profile
    pairs = link_lists(profiles, person_profiles, settings, model)
    linked_profiles: dict[str, tuple[int, float]] = {}
    review_rows: list[pd.DataFrame] = []
    if not pairs.empty:
        pairs["person_key"] = pairs["uid_r"].map(person_of)
        # by weight: probabilities saturate at 1.0 and would not order two strong candidates
        pairs = pairs.sort_values(["uid_l", "match_weight"], ascending=[True, False])
        best = pairs.drop_duplicates(["uid_l", "person_key"])
        top = best.drop_duplicates("uid_l").set_index("uid_l")
        runner_up = best[best.duplicated("uid_l")].drop_duplicates("uid_l").set_index("uid_l").match_weight
        # Linked when above the upper threshold and clearly ahead of the next person: two namesakes
        # born the same day can both be above it, and the phone one of them shares decides.
        margin = top.match_weight - runner_up.reindex(top.index).fillna(-np.inf)
        link_ok = top[(top.match_probability >= settings.upper) & (margin >= settings.margin_bits)]
        linked_profiles = {u: (int(r.person_key), float(r.match_probability)) for u, r in link_ok.iterrows()}
        doubtful = best[~best.uid_l.isin(linked_profiles)]
        doubtful = doubtful.groupby("uid_l", sort=False).head(MAX_REVIEW_CANDIDATES)
        if not doubtful.empty:
            doubtful = doubtful.assign(evidence=_evidence(doubtful, settings).to_numpy())
            review_rows.append(doubtful[["uid_l", "person_key", "match_probability", "evidence"]])

    # 3. the rest against each other
    rest = profiles[~profiles[settings.unique_id].isin(linked_profiles)].reset_index(drop=True)
    within = dedupe_list(rest, settings, _within_prior(conn, model, len(unlinked)))
    index_of = {u: i for i, u in enumerate(rest[settings.unique_id])}
    strong = within[within.match_probability >= settings.upper]
    roots = _components(len(rest), strong.uid_l.map(index_of).to_numpy(dtype=int),
                        strong.uid_r.map(index_of).to_numpy(dtype=int))
    component_of = dict(zip(rest[settings.unique_id], [f"c{root}" for root in roots], strict=True))
    component_score = {}
    for uid_l, prob in zip(strong.uid_l, strong.match_probability, strict=True):
        key = component_of[uid_l]
        component_score[key] = min(prob, component_score.get(key, 1.0))

    # decisions, one row per record
    rep = unlinked.sort_values(["source", "record_ref"]).drop_duplicates("profile").set_index("profile")
    is_linked = unlinked.profile.isin(linked_profiles).to_numpy()
    comp = unlinked.profile.map(component_of)
    comp_size = comp.map(comp.value_counts())
    # A group of more than one record becomes one person here; a lone record is left to the
    # new-person pass, which gives it a key like any other record nothing matched.
    grouped = ~is_linked & comp_size.fillna(0).gt(1).to_numpy()
    link_info = unlinked.profile.map(lambda u: linked_profiles.get(u, (None, None)))
    decisions = pd.DataFrame({
        "source": unlinked.source.to_numpy(),
        "record_ref": unlinked.record_ref.to_numpy(),
        "kind": np.where(is_linked, "link", np.where(grouped, "group", None)),
        "person_key": pd.array([k if ok else None for (k, _), ok in zip(link_info, is_linked, strict=True)],
                               dtype="Int64"),
        "component": np.where(grouped, comp.to_numpy(dtype=object), None),
        "score": [p if ok else (component_score.get(c) if g else None)
                  for (_, p), ok, g, c in zip(link_info, is_linked, grouped, comp, strict=True)],
    })
    decisions = decisions[decisions.kind.notna()]
    counts.linked = int(is_linked.sum())
    counts.grouped_new = int(grouped.sum())

    if not decisions.empty:
        copy_frame(conn.connection, "pg_temp.resolve_decision", decisions,
                   ["source", "record_ref", "kind", "person_key", "component", "score"])
    if review_rows:
        review = pd.concat(review_rows)
        review = review.join(rep[["source", "record_ref"]], on="uid_l")
        _execute(conn, "create temp table resolve_review (source text, record_ref text, person_key bigint, "
                       "match_probability double precision, evidence jsonb) on commit drop")
        copy_frame(conn.connection, "pg_temp.resolve_review", review,
                   ["source", "record_ref", "person_key", "match_probability", "evidence"])
        with conn.connection.cursor() as cur:
            cur.execute("""
                insert into review.person_match (source, record_ref, candidate_person_key, match_probability, evidence)
                select source, record_ref, person_key, match_probability, evidence from resolve_review
                on conflict (source, record_ref, candidate_person_key) do nothing""")
            counts.review_pairs = cur.rowcount
    _apply_decisions(conn, settings)

    # doubtful pairs between two unlinked profiles of different groups
    doubtful_within = within[(within.match_probability < settings.upper)
                             & (within.uid_l.map(component_of) != within.uid_r.map(component_of))]
    if not doubtful_within.empty:
        pending = pd.DataFrame({
            "source": doubtful_within.uid_l.map(rep["source"]).to_numpy(),
            "record_ref": doubtful_within.uid_l.map(rep["record_ref"]).to_numpy(),
            "other_source": doubtful_within.uid_r.map(rep["source"]).to_numpy(),
            "other_record_ref": doubtful_within.uid_r.map(rep["record_ref"]).to_numpy(),
            "match_probability": doubtful_within.match_probability.to_numpy(),
            "evidence": _evidence(doubtful_within, settings).to_numpy(),
        })
        counts.pending_pairs = copy_frame(conn.connection, "pg_temp.resolve_pair_pending", pending)
    return counts


def _within_prior(conn: Connection, model: dict[str, Any], unlinked: int) -> dict[str, Any]:
    """The model with the match prior of two records drawn from the unlinked ones.

    The settings' prior is for two records of the whole city. A record has about as many true
    matches wherever it is (a foreign resident's register row, vaccinations, allowance), but among
    the few records no ID number linked they are concentrated: all of a foreigner's records are
    there. So the prior grows by the ratio of all records to unlinked ones (capped at 1e-3).
    """
    total = int(conn.exec_driver_sql("select count(*) from core.person_link").scalar() or 0) + unlinked
    prior = float(model["probability_two_random_records_match"])
    return {**model, "probability_two_random_records_match": min(1e-3, prior * total / max(unlinked, 1))}


def _apply_decisions(conn: Connection, settings: LinkSettings) -> None:
    """resolve_decision -> core.person_link, set-based: links, then one new key per group; the linked
    records leave resolve_pending."""
    version = settings.version.replace("'", "''")
    _execute(conn, f"""
        insert into core.person_link (source, record_ref, person_key, method, score, rule_version)
        select source, record_ref, person_key, 'probabilistic', score, '{version}'
        from resolve_decision where kind = 'link';

        with new_keys as (
            select component, nextval('core.person_key_seq') as person_key
            from (select distinct component from resolve_decision where kind = 'group') groups
        )
        insert into core.person_link (source, record_ref, person_key, method, score, rule_version)
        select d.source, d.record_ref, k.person_key, 'new_person', d.score, '{version}'
        from resolve_decision d join new_keys k using (component)
        where d.kind = 'group';

        delete from resolve_pending p using resolve_decision d
        where p.source = d.source and p.record_ref = d.record_ref""")


def insert_pending_reviews(conn: Connection) -> int:
    """After the new-person pass: doubtful pairs between formerly unlinked records go to review."""
    exists = conn.exec_driver_sql("select to_regclass('pg_temp.resolve_pair_pending')").scalar()
    return int(run_sql(conn, "resolve/insert_review_within_pairs") or 0) if exists else 0

"""Person resolution end to end, in one transaction: review decisions, deterministic, probabilistic, new persons."""

from __future__ import annotations

import dataclasses
import logging
import time

from sqlalchemy.engine import Engine

from community_dw.resolve.deterministic import link_deterministic
from community_dw.resolve.linker import LinkSettings, load_settings
from community_dw.resolve.model_store import get_or_train_model
from community_dw.resolve.probabilistic import insert_pending_reviews, resolve_probabilistic
from community_dw.resolve.review import apply_review
from community_dw.warehouse.sql_runner import run_sql

log = logging.getLogger(__name__)


def resolve_all(engine: Engine, settings: LinkSettings | str = "person") -> dict[str, int]:
    """Link every unlinked person-bearing record; returns counts per step.

    1. reviewers' decisions of earlier runs (relinks, breaks, reverts);
    2. deterministic: valid ID number, then unambiguous name + birth date;
    3. probabilistic (Splink model trained once, see model_store) for what is still unlinked;
    4. new persons for the rest, then doubtful pairs among former unlinked records go to review.
    One transaction: a failure leaves every link as it was, and a rerun links nothing twice.
    """
    settings = load_settings(settings) if isinstance(settings, str) else settings
    counts: dict[str, int] = {}
    started = time.perf_counter()
    with engine.begin() as conn:
        for key, value in dataclasses.asdict(apply_review(conn)).items():
            counts[f"review_{key}"] = value
        det = link_deterministic(conn, create_new=False)
        counts["by_id_number"], counts["by_name_birth_date"] = det.by_id_number, det.by_name_birth_date
        run_sql(conn, "resolve/person_resolve_record")
        model = get_or_train_model(conn, settings)
        for key, value in dataclasses.asdict(resolve_probabilistic(conn, settings, model)).items():
            counts[f"probabilistic_{key}"] = value
        counts["new_persons"] = int(run_sql(conn, "resolve/link_new_persons") or 0)
        counts["review_pairs_within"] = insert_pending_reviews(conn)
    log.info("resolve_all: %s in %.1fs", counts, time.perf_counter() - started)
    return counts

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
       then a record with nothing but a name and community links to that community's one namesake;
    4. new persons for the rest, then doubtful pairs among former unlinked records go to review.
    One transaction: a failure leaves every link as it was, and a rerun links nothing twice.
    """
    settings = load_settings(settings) if isinstance(settings, str) else settings
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    started = lap = time.perf_counter()

    def done(step: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        seconds[step] = round(now - lap, 1)
        lap = now

    with engine.begin() as conn:
        for key, value in dataclasses.asdict(apply_review(conn)).items():
            counts[f"review_{key}"] = value
        done("review")
        det = link_deterministic(conn, create_new=False)
        counts["by_id_number"], counts["by_name_birth_date"] = det.by_id_number, det.by_name_birth_date
        done("deterministic")
        model = get_or_train_model(conn, settings)
        done("model")
        for key, value in dataclasses.asdict(resolve_probabilistic(conn, settings, model)).items():
            counts[f"probabilistic_{key}"] = value
        done("probabilistic")
        counts["by_name_community"] = int(run_sql(conn, "resolve/link_by_name_community") or 0)
        counts["new_persons"] = int(run_sql(conn, "resolve/link_new_persons") or 0)
        counts["review_pairs_within"] = insert_pending_reviews(conn)
        done("new_persons")
    done("commit")
    log.info("resolve_all: %s in %.1fs (seconds per step: %s)", counts, time.perf_counter() - started, seconds)
    return counts

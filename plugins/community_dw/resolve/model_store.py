"""The trained match model, one per settings file version, kept in core.person_match_model.

EM training costs a minute at city scale and gives (nearly) the same parameters every day, so it
runs once: the first run with a new settings file trains on the warehouse's records and stores the
model; later runs load it. Editing the settings file changes its version, and so retrains.
In the warehouse rather than a file so every Airflow worker reads the same model.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy.engine import Connection

from community_dw.resolve.linker import LinkSettings, model_json, splink_settings, train

log = logging.getLogger(__name__)

#: Persons sampled for training: every k-th person key, so both sides of a true pair are kept.
TRAIN_PERSON_MODULUS_MIN = 1


def load_model(conn: Connection, settings: LinkSettings) -> dict[str, Any] | None:
    row = conn.exec_driver_sql(
        "select model from core.person_match_model where settings_version = %s", (settings.version,)).first()
    if row is None:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def store_model(conn: Connection, settings: LinkSettings, model: dict[str, Any], trained_records: int) -> None:
    conn.exec_driver_sql(
        "insert into core.person_match_model (settings_version, settings_name, model, trained_records) "
        "values (%s, %s, %s::jsonb, %s) on conflict (settings_version) do update "
        "set model = excluded.model, trained_records = excluded.trained_records, trained_at = now()",
        (settings.version, settings.name, model_json(model), trained_records))


def training_records(conn: Connection, settings: LinkSettings):
    """A sample of whole persons (all their records) plus unlinked records at the same rate.

    Sampling persons rather than records keeps the pairs EM learns m from: a 20% record sample
    would keep only 4% of the true pairs.
    """
    from community_dw.resolve.probabilistic import _ident, read_frame

    total = conn.exec_driver_sql("select count(*) from core.person_resolve_record").scalar() or 0
    limit = int(settings.training.get("max_sample_records", 300_000))
    modulus = max(TRAIN_PERSON_MODULUS_MIN, -(-int(total) // max(limit, 1)))
    cols = ", ".join(f"r.{_ident(c)}" for c in settings.columns)
    # Linked records of every modulus-th person, plus the still unlinked records (resolve_pending,
    # when resolve_all runs) at the same rate.
    pending = conn.exec_driver_sql("select to_regclass('pg_temp.resolve_pending')").scalar() is not None
    unlinked = (f"union all select r.uid, {cols} from resolve_pending r where hashtext(r.uid) % {modulus} = 0"
                if pending else "")
    return read_frame(conn, f"""
        select distinct * from (
            select r.uid, {cols}
            from core.person_resolve_record r
            join core.person_link l using (source, record_ref)
            where l.person_key % {modulus} = 0
            {unlinked}) sample""")


def get_or_train_model(conn: Connection, settings: LinkSettings) -> dict[str, Any]:
    """The stored model of this settings version, training and storing it first if there is none."""
    model = load_model(conn, settings)
    if model is not None:
        return model
    total = conn.exec_driver_sql("select count(*) from core.person_resolve_record").scalar() or 0
    if total < int(settings.training.get("min_records", 20_000)):
        # Too few records for EM to learn from: score with the settings file's priors, store nothing,
        # and train on a later run once the warehouse has grown.
        return splink_settings(settings)
    records = training_records(conn, settings)
    log.info("training %s on %d records", settings.version, len(records))
    model = train(records, settings)
    store_model(conn, settings, model, len(records))
    return model

"""The life of a load attempt in audit.load_run: started, succeeded (with counts), failed, skipped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


@dataclass
class LoadOutcome:
    """What one attempt did, for summaries, DAG logs and tests."""

    source: str
    delivery_name: str
    status: str
    load_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_skipped: int = 0
    drift: dict | None = None
    error: str | None = None


def start_load(engine: Engine, source: str, delivery_name: str, content_hash: str | None,
               logical_date: date | None) -> int:
    """Record the attempt in its own committed transaction, so a crash still leaves a trace."""
    with engine.begin() as conn:
        return conn.execute(
            sa.text(
                "insert into audit.load_run (source, delivery_name, content_hash, logical_date) "
                "values (:source, :delivery, :hash, :logical_date) returning load_id"
            ),
            {"source": source, "delivery": delivery_name, "hash": content_hash, "logical_date": logical_date},
        ).scalar_one()


def finish_load(conn, load_id: int, *, rows_read: int, rows_loaded: int, rows_skipped: int = 0,
                drift: dict | None = None) -> None:
    """Mark succeeded inside the loading transaction: the rows and the status commit together.

    `conn` is a DBAPI connection (the one COPY used) or a SQLAlchemy Connection.
    """
    params = {"load_id": load_id, "read": rows_read, "loaded": rows_loaded, "skipped": rows_skipped,
              "drift": json.dumps(drift, ensure_ascii=False) if drift else None}
    statement = (
        "update audit.load_run set status = 'succeeded', rows_read = %(read)s, rows_loaded = %(loaded)s, "
        "rows_skipped = %(skipped)s, schema_drift = %(drift)s::jsonb, finished_at = clock_timestamp() "
        "where load_id = %(load_id)s"
    )
    if isinstance(conn, Connection):
        conn.exec_driver_sql(statement, params)
    else:
        with conn.cursor() as cur:
            cur.execute(statement, params)


def fail_load(engine: Engine, load_id: int, error: str, rows_read: int | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "update audit.load_run set status = 'failed', error = :error, rows_read = :read, "
                "finished_at = clock_timestamp() where load_id = :load_id"
            ),
            {"load_id": load_id, "error": error[:10_000], "read": rows_read},
        )


def record_skip(engine: Engine, source: str, delivery_name: str, content_hash: str,
                logical_date: date | None, reason: str) -> int:
    with engine.begin() as conn:
        return conn.execute(
            sa.text(
                "insert into audit.load_run (source, delivery_name, content_hash, logical_date, status, "
                "rows_read, rows_loaded, rows_skipped, finished_at, error) "
                "values (:source, :delivery, :hash, :logical_date, 'skipped_duplicate', 0, 0, 0, "
                "clock_timestamp(), :reason) returning load_id"
            ),
            {"source": source, "delivery": delivery_name, "hash": content_hash,
             "logical_date": logical_date, "reason": reason},
        ).scalar_one()


def loaded_before(engine: Engine, source: str, content_hash: str) -> int | None:
    """The load that already published this content, if any."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text("select load_id from audit.load_run where source = :source and content_hash = :hash "
                    "and status = 'succeeded'"),
            {"source": source, "hash": content_hash},
        ).scalar()


def advance_watermark(dbapi_conn, source: str, previous, candidate, load_id: int) -> None:
    """Move the source's watermark to `candidate` if it is later, inside the loading transaction,
    so the watermark and the rows it covers commit together (or not at all)."""
    if candidate is None or (previous is not None and candidate <= previous):
        return
    with dbapi_conn.cursor() as cur:
        cur.execute(
            "insert into audit.watermark (source, high_water_mark, load_id) values (%s, %s, %s) "
            "on conflict (source) do update set high_water_mark = excluded.high_water_mark, "
            "load_id = excluded.load_id, updated_at = now()",
            (source, candidate.to_pydatetime() if hasattr(candidate, "to_pydatetime") else candidate, load_id),
        )

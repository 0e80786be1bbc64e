"""Incremental pulls from a department's SQL database (the health immunization replica).

Rows are pulled by `updated_at` with an overlap window, because the source commits transactions
late: a row can become visible with an `updated_at` older than the last watermark. Every pulled
version lands in raw; staging keeps the latest version per record_id and drops revoked ones.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
import psycopg2
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from community_dw.config import airflow_connection_uri
from community_dw.sources.attempts import claimed_load, close_abandoned
from community_dw.sources.landing import land_payload
from community_dw.warehouse.audit import (
    LoadOutcome,
    advance_watermark,
    fail_load,
    finish_load,
    loaded_before,
    record_skip,
)
from community_dw.warehouse.connection import raw_connection
from community_dw.warehouse.copy import copy_frame, frame_from_csv

log = logging.getLogger(__name__)

DEFAULT_OVERLAP = timedelta(hours=48)


class SourcePullError(RuntimeError):
    """A pull that failed; the message names the pull (table and window) and the cause."""


@dataclass(frozen=True)
class SqlPullSpec:
    source: str
    table: str
    key_column: str
    watermark_column: str
    columns: tuple[str, ...]
    raw_table: str


HEALTH_VACCINATIONS = SqlPullSpec(
    source="health.vaccination_record",
    table="vaccination_record",
    key_column="record_id",
    watermark_column="updated_at",
    columns=("record_id", "recipient_name", "id_type", "id_number", "birth_date", "sex", "phone",
             "vaccine_code", "vaccine_name", "dose_number", "vaccinated_at", "site_name", "manufacturer",
             "batch_no", "updated_at", "is_deleted"),
    raw_table="raw.health__vaccination_record",
)


def health_source_url() -> str:
    """The health replica: CDW_HEALTH_DB_URL, else the Airflow connection health_immunization_db."""
    url = os.environ.get("CDW_HEALTH_DB_URL") or airflow_connection_uri("health_immunization_db")
    if not url:
        raise RuntimeError("no health source: set CDW_HEALTH_DB_URL or the health_immunization_db connection")
    return url


def overlap_window() -> timedelta:
    return timedelta(hours=float(os.environ.get("CDW_HEALTH_OVERLAP_HOURS", DEFAULT_OVERLAP.total_seconds() / 3600)))


def read_watermark(engine: Engine, source: str) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(sa.text("select high_water_mark from audit.watermark where source = :s"),
                            {"s": source}).scalar()


def _dsn(url: str) -> str:
    """A libpq DSN from a SQLAlchemy or Airflow style URL."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def export_changes(source_url: str, spec: SqlPullSpec, since: datetime | None) -> bytes:
    """The changed rows as CSV text (UTC timestamps), read with the source's own COPY.

    COPY in the source does the formatting in C, and reading as text keeps every value exactly as
    the source holds it: typing is staging's job.
    """
    columns = ", ".join(spec.columns)
    where = f"where {spec.watermark_column} > %s" if since is not None else ""
    query = f"select {columns} from {spec.table} {where} order by {spec.watermark_column}, {spec.key_column}"
    buffer = io.BytesIO()
    with psycopg2.connect(_dsn(source_url)) as conn, conn.cursor() as cur:
        cur.execute("set transaction isolation level repeatable read, read only")
        cur.execute("set local timezone = 'UTC'")
        inner = cur.mogrify(query, (since,) if since is not None else None).decode()
        cur.copy_expert(f"copy ({inner}) to stdout with (format csv, header true)", buffer)
    return buffer.getvalue()


def _watermark_of(frame: pd.DataFrame, spec: SqlPullSpec) -> pd.Timestamp:
    """The newest watermark value pulled; a value that is not a timestamp is an error naming its row."""
    text = frame[spec.watermark_column]
    marks = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    unreadable = marks.isna() & text.notna()
    if unreadable.any():
        first = frame.loc[unreadable].iloc[0]
        raise ValueError(f"row {first['source_row']} ({spec.key_column} {first[spec.key_column]}): "
                         f"{spec.watermark_column} {first[spec.watermark_column]!r} is not a timestamp")
    return marks.max()


def pull_incremental(engine: Engine, spec: SqlPullSpec, source_url: str, logical_date: date | None = None,
                     overlap: timedelta | None = None) -> LoadOutcome:
    """Pull rows changed since (watermark - overlap) into raw; the watermark moves only on commit."""
    overlap = overlap if overlap is not None else overlap_window()
    close_abandoned(engine, spec.source)
    watermark = read_watermark(engine, spec.source)
    since = watermark - overlap if watermark is not None else None
    delivery = f"{spec.table} since {since.isoformat() if since else 'the beginning'}"
    try:
        payload = export_changes(source_url, spec, since)
    except psycopg2.Error as error:  # e.g. a column gone at the source: say which pull it broke
        raise SourcePullError(f"{delivery}: {type(error).__name__}: {str(error).strip()}") from error
    landed = land_payload(engine, spec.source, delivery, payload, ".csv")
    if (earlier := loaded_before(engine, spec.source, landed.content_hash)) is not None:
        load_id = record_skip(engine, spec.source, delivery, landed.content_hash, logical_date,
                              f"no change since load {earlier}")
        return LoadOutcome(spec.source, delivery, "skipped_duplicate", load_id)
    # Claimed while it runs, so a later pull can tell it from one a killed process left (sources/attempts.py).
    with claimed_load(engine, spec.source, delivery, landed.content_hash, logical_date) as load_id:
        rows_read = None
        try:
            frame = frame_from_csv(io.BytesIO(payload))
            rows_read = len(frame)
            frame.insert(0, "source_row", range(1, rows_read + 1))
            frame.insert(0, "load_id", load_id)
            new_mark = _watermark_of(frame, spec) if rows_read else None
            with raw_connection(engine) as conn:
                loaded = copy_frame(conn, spec.raw_table, frame, ["load_id", "source_row", *spec.columns])
                advance_watermark(conn, spec.source, watermark, new_mark, load_id)
                finish_load(conn, load_id, rows_read=rows_read, rows_loaded=loaded)
        except Exception as error:
            message = f"{delivery}: {type(error).__name__}: {error}"
            fail_load(engine, load_id, message, rows_read)
            raise SourcePullError(message) from error
    log.info("%s: %s rows since %s (load %s)", spec.source, loaded, since, load_id)
    return LoadOutcome(spec.source, delivery, "succeeded", load_id, rows_read, loaded)

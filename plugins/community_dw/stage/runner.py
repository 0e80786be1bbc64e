"""Run one standardization step per new raw load: read, transform, merge into staging, quarantine.

Each load is processed once (audit.load_step records it) in one transaction, so a crash leaves
staging as it was and the next run picks the load up again.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from community_dw.warehouse.connection import raw_connection
from community_dw.warehouse.copy import copy_frame, frame_from_csv

log = logging.getLogger(__name__)

STEP = "standardize"
QUARANTINE_COLUMNS = ["load_id", "source_row", "reason_code", "reason_detail", "record"]
#: Of two versions of a record, the later in this order is the newer.
VERSION_ORDER = ["updated_at", "load_id", "source_row"]


@dataclass
class StageResult:
    """A transform's answer for one load: rows for staging, rows for quarantine, revoked keys."""

    staged: pd.DataFrame
    quarantined: pd.DataFrame
    revoked: pd.DataFrame | None = None  # key column + updated_at of records revoked at the source


@dataclass(frozen=True)
class StageSpec:
    source: str
    raw_table: str
    staging_table: str
    quarantine_table: str
    transform: Callable[[pd.DataFrame, str], StageResult]  # (raw rows, delivery name)
    merge: str = "append"  # append | latest_by_key | replace
    key: str | None = None
    #: Transform this many rows at a time (None: the whole load at once). Only for transforms that look at
    #: one row at a time: a check across rows (a duplicate key in the delivery) must see them all.
    chunk_rows: int | None = None


def quarantine_rows(raw: pd.DataFrame, mask: pd.Series, reason_code: str, detail: pd.Series | str | None = None
                    ) -> pd.DataFrame:
    """The masked raw rows as quarantine records: reason, detail and the whole raw record as JSON."""
    if not mask.any():  # the usual case; selecting zero rows of every column still costs seconds at scale
        return empty_quarantine()
    picked = raw.loc[mask]
    records = picked.drop(columns=["load_id", "source_row"], errors="ignore")
    as_json = [json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False)
               for row in records.astype(object).where(records.notna(), None).to_dict("records")]
    if isinstance(detail, pd.Series):
        detail_values = detail.loc[mask].astype("string")
    else:
        detail_values = pd.Series(detail, index=picked.index, dtype="string")
    return pd.DataFrame({"load_id": picked["load_id"], "source_row": picked["source_row"],
                         "reason_code": reason_code, "reason_detail": detail_values, "record": as_json})


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame(columns=QUARANTINE_COLUMNS)


def pending_loads(engine: Engine, spec: StageSpec) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "select r.load_id from audit.load_run r where r.source = :source and r.status = 'succeeded' "
            "and not exists (select 1 from audit.load_step s where s.load_id = r.load_id and s.step = :step) "
            "order by r.load_id"), {"source": spec.source, "step": STEP}).scalars())


def read_raw(dbapi_conn, raw_table: str, load_id: int) -> pd.DataFrame:
    """All raw rows of one load as text, NULL and '' both NA (COPY out, parsed by pyarrow)."""
    buffer = io.BytesIO()
    with dbapi_conn.cursor() as cur:
        cur.copy_expert(f"copy (select * from {raw_table} where load_id = {int(load_id)} order by source_row) "
                        "to stdout with (format csv, header true)", buffer)
    buffer.seek(0)
    frame = frame_from_csv(buffer)
    frame["load_id"] = frame["load_id"].astype("int64")
    frame["source_row"] = frame["source_row"].astype("int64")
    return frame


def _merge(cur, spec: StageSpec, result: StageResult, dbapi_conn) -> None:
    table = spec.staging_table
    columns = list(result.staged.columns)
    if spec.merge == "append":
        copy_frame(dbapi_conn, table, result.staged, columns)
        return
    if spec.merge == "replace":
        cur.execute(f"delete from {table}")
        copy_frame(dbapi_conn, table, result.staged, columns)
        return
    # latest_by_key: a newer version replaces an older one; an older one arriving late changes nothing.
    # A record seen twice in one pull counts as applied twice; only its newest version stays.
    key = spec.key
    newest = result.staged.sort_values([key, *VERSION_ORDER], kind="stable").drop_duplicates(key, keep="last")
    cur.execute(f"select not exists (select 1 from {table})")
    if cur.fetchone()[0]:
        # The first pull: straight in, without a temporary copy and a sort of millions of records.
        copy_frame(dbapi_conn, table, newest, columns)
    else:
        _merge_newer(cur, table, key, newest, columns, dbapi_conn)
    if result.revoked is not None and len(result.revoked):
        # Typed like the staging key, so the delete finds each record by its primary key (a key cast to
        # text in the join cost a scan of every staged record: 12 s a day at a million residents).
        cur.execute(f"create temp table revoked on commit drop as select {key}, updated_at from {table} limit 0")
        copy_frame(dbapi_conn, "pg_temp.revoked", result.revoked.set_axis([key, "updated_at"], axis=1))
        cur.execute(f"delete from {table} s using revoked r where s.{key} = r.{key} and s.updated_at <= r.updated_at")


def _merge_newer(cur, table: str, key: str, newest: pd.DataFrame, columns: list[str], dbapi_conn) -> None:
    """Each incoming record (one version per key) replaces an older staged version or is added."""
    cur.execute(f"create temp table incoming (like {table} including defaults) on commit drop")
    copy_frame(dbapi_conn, "pg_temp.incoming", newest, columns)
    cur.execute(f"delete from {table} s using incoming i where s.{key} = i.{key} and s.updated_at <= i.updated_at")
    cur.execute(f"insert into {table} select i.* from incoming i "
                f"where not exists (select 1 from {table} s where s.{key} = i.{key})")


def transform_load(spec: StageSpec, raw: pd.DataFrame, delivery_name: str) -> StageResult:
    """The spec's transform over the load, in slices of spec.chunk_rows when it has them: the standardizers'
    intermediate columns for 3.4 million vaccination records at once took 2 GB on top of the load itself."""
    size = spec.chunk_rows
    if not size or len(raw) <= size:
        return spec.transform(raw, delivery_name)
    parts = [spec.transform(raw.iloc[start:start + size], delivery_name) for start in range(0, len(raw), size)]
    quarantined = [part.quarantined for part in parts if len(part.quarantined)]
    revoked = [part.revoked for part in parts if part.revoked is not None]
    return StageResult(pd.concat([part.staged for part in parts]),
                       pd.concat(quarantined, ignore_index=True) if quarantined else empty_quarantine(),
                       pd.concat(revoked) if revoked else None)


def stage_load(engine: Engine, spec: StageSpec, load_id: int) -> tuple[int, int, int]:
    """Standardize one load; returns (rows in, rows out, rows quarantined)."""
    with raw_connection(engine) as conn:
        raw = read_raw(conn, spec.raw_table, load_id)
        with conn.cursor() as cur:
            cur.execute("select delivery_name from audit.load_run where load_id = %s", (load_id,))
            (delivery_name,) = cur.fetchone()
        rows_in = len(raw)
        result = transform_load(spec, raw, delivery_name)
        del raw  # the load's text is not needed once transformed: its memory goes before the merge's
        rows_out = len(result.staged) + (len(result.revoked) if result.revoked is not None else 0)
        rows_quarantined = len(result.quarantined)
        with conn.cursor() as cur:
            _merge(cur, spec, result, conn)
            if rows_quarantined:
                copy_frame(conn, spec.quarantine_table, result.quarantined, QUARANTINE_COLUMNS)
            # The check constraint on audit.load_step refuses counts that do not add up.
            cur.execute("insert into audit.load_step (load_id, step, rows_in, rows_out, rows_quarantined) "
                        "values (%s, %s, %s, %s, %s)", (load_id, STEP, rows_in, rows_out, rows_quarantined))
            cur.execute("update audit.load_run set rows_quarantined = %s where load_id = %s",
                        (rows_quarantined, load_id))
    log.info("%s load %s: %s in, %s staged, %s quarantined", spec.source, load_id, rows_in, rows_out,
             rows_quarantined)
    return rows_in, rows_out, rows_quarantined


def stage_pending(engine: Engine, spec: StageSpec) -> list[tuple[int, int, int, int]]:
    """Every succeeded load of the source not yet standardized, oldest first."""
    return [(load_id, *stage_load(engine, spec, load_id)) for load_id in pending_loads(engine, spec)]

"""Bulk loading with PostgreSQL COPY from pandas frames, inside the caller's transaction."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg2 import sql


def _csv_bytes(frame: pd.DataFrame) -> tuple[io.BytesIO, str]:
    """The frame as CSV for COPY, and the NULL marker it uses.

    Arrow's CSV writer is some forty times faster than pandas' to_csv: it writes a null as an empty
    unquoted field (COPY's default NULL in CSV mode) and an empty string as "" (which COPY keeps as
    an empty string). Frames Arrow cannot type (mixed Python objects) fall back to pandas.
    """
    try:
        if any(pd.api.types.is_object_dtype(dtype) for dtype in frame.dtypes):
            # Seen here: Arrow's CSV writer emitted NUL bytes for a frame with Python-object columns.
            raise pa.ArrowTypeError("object columns: written by pandas")
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = frame.to_csv(index=False, header=False, na_rep="\\N", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        return io.BytesIO(text.encode("utf-8")), "\\N"
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    sink.seek(0)
    return sink, ""


def copy_frame(dbapi_conn, table: str, frame: pd.DataFrame, columns: list[str] | None = None) -> int:
    """COPY the frame's columns into `schema.table`; NA becomes NULL. Returns rows copied."""
    columns = columns or list(frame.columns)
    if frame.empty:
        return 0
    buffer, null_marker = _csv_bytes(frame[columns])
    schema, _, name = table.partition(".")
    statement = sql.SQL("copy {}.{} ({}) from stdin with (format csv, null {})").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.Literal(null_marker),
    )
    with dbapi_conn.cursor() as cur:
        cur.copy_expert(statement.as_string(cur), buffer)
        return cur.rowcount

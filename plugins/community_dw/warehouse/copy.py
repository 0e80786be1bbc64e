"""Bulk loading with PostgreSQL COPY from pandas frames (text), inside the caller's transaction."""

from __future__ import annotations

import csv
import io

import pandas as pd
from psycopg2 import sql


def copy_frame(dbapi_conn, table: str, frame: pd.DataFrame, columns: list[str] | None = None) -> int:
    """COPY the frame's columns into `schema.table`; NA becomes NULL. Returns rows copied.

    CSV text through an in-memory buffer is the fastest path psycopg2 offers; values keep their
    exact text because raw columns are text and no type inference runs on either side.
    """
    columns = columns or list(frame.columns)
    if frame.empty:
        return 0
    buffer = io.StringIO()
    frame[columns].to_csv(buffer, index=False, header=False, na_rep="\\N", quoting=csv.QUOTE_MINIMAL,
                          lineterminator="\n")
    buffer.seek(0)
    schema, _, name = table.partition(".")
    statement = sql.SQL("copy {}.{} ({}) from stdin with (format csv, null '\\N')").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with dbapi_conn.cursor() as cur:
        cur.copy_expert(statement.as_string(cur), buffer)
        return cur.rowcount

"""Run the project's SQL files (sql/<layer>/<table>.sql) by name, timing each one."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from sqlalchemy.engine import Connection

from community_dw.config import sql_dir

log = logging.getLogger(__name__)


def sql_path(name: str) -> Path:
    """`core/person` -> sql/core/person.sql; refuses names outside the sql folder."""
    path = (sql_dir() / f"{name}.sql").resolve()
    if sql_dir().resolve() not in path.parents or not path.exists():
        raise FileNotFoundError(f"no SQL file sql/{name}.sql")
    return path


def run_sql(conn: Connection, name: str, schema_map: dict[str, str] | None = None,
            table_map: dict[str, str] | None = None) -> object:
    """Execute one file in the caller's transaction; returns the first column of the last row, if any.

    schema_map writes a layer's tables elsewhere (e.g. {"mart": "mart_build"} for build-then-swap):
    every `mart.` qualifier in the file becomes `mart_build.`, so a file reads its own layer's tables
    from where they are being built. table_map does the same for single tables (e.g. {"core.person":
    "pg_temp.person"} for a build scoped to some persons); `core.person` does not touch `core.person_link`.
    """
    started = time.perf_counter()
    text = sql_path(name).read_text(encoding="utf-8")
    for schema, target in (schema_map or {}).items():
        text = re.sub(rf"\b{schema}\.", f"{target}.", text)
    for table, target in (table_map or {}).items():
        text = re.sub(rf"\b{re.escape(table)}\b", target, text)
    # Straight to the DBAPI cursor without parameters, so a literal % in the SQL stays a modulo.
    with conn.connection.cursor() as cur:
        cur.execute(text)
        row = cur.fetchone() if cur.description else None
    value = row[0] if row else None
    log.info("sql/%s.sql: %.2fs", name, time.perf_counter() - started)
    return value

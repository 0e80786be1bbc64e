"""Apply the versioned SQL migrations in sql/migrations/ in order, each in its own transaction.

Plain SQL files rather than Alembic: the warehouse is SQL-first (DBAs and departments read these
files), and PostgreSQL's transactional DDL already gives all-or-nothing per migration.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from community_dw.config import sql_dir

MIGRATION_NAME = re.compile(r"^V(?P<version>\d{4})__(?P<name>[a-z0-9_]+)\.sql$")
#: pg_advisory_xact_lock key so two processes (two DAG tasks) never migrate at once.
ADVISORY_LOCK_KEY = 7_310_001


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(folder: Path | None = None) -> list[Migration]:
    folder = folder or sql_dir() / "migrations"
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named V0001__what_it_does.sql")
        found.append(Migration(int(match["version"]), match["name"], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{folder}: two migrations share a version number")
    return found


_BOOKKEEPING = """
create schema if not exists audit;
create table if not exists audit.schema_migration (
    version     integer primary key,
    name        text not null,
    checksum    text not null,
    applied_at  timestamptz not null default now()
);
comment on table audit.schema_migration is '已执行的数据库迁移 — one row per applied migration';
"""


def applied(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        exists = conn.execute(sa.text("select to_regclass('audit.schema_migration')")).scalar()
        if exists is None:
            return {}
        rows = conn.execute(sa.text("select version, checksum from audit.schema_migration"))
        return {version: checksum for version, checksum in rows}


def migrate(engine: Engine, folder: Path | None = None) -> list[Migration]:
    """Apply pending migrations; return those applied now. Safe to run twice or concurrently."""
    pending_done: list[Migration] = []
    for migration in discover(folder):
        with engine.begin() as conn:
            conn.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            conn.exec_driver_sql(_BOOKKEEPING)
            row = conn.execute(
                sa.text("select checksum from audit.schema_migration where version = :v"),
                {"v": migration.version},
            ).first()
            if row is not None:
                if row.checksum != migration.checksum:
                    raise MigrationError(
                        f"{migration.path.name} changed after it was applied; add a new migration instead"
                    )
                continue
            try:
                # The DBAPI cursor without parameters: a literal % in a migration (format(), modulo) stays as written.
                with conn.connection.cursor() as cur:
                    cur.execute(migration.path.read_text(encoding="utf-8"))
            except psycopg2.Error as error:
                raise MigrationError(f"{migration.path.name} failed and was rolled back: {error}") from error
            conn.execute(
                sa.text("insert into audit.schema_migration (version, name, checksum) values (:v, :n, :c)"),
                {"v": migration.version, "n": migration.name, "c": migration.checksum},
            )
            pending_done.append(migration)
    return pending_done

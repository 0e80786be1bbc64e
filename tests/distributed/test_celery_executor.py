"""CeleryExecutor for real: the docker-compose.yml configuration, run as processes on this machine.

The environment comes from `community_dw.airflow_env.airflow_environment(executor="CeleryExecutor")`,
the same function whose keys tests/unit/test_docker_compose.py holds docker-compose.yml to; only the
hosts differ (the machine's Redis and PostgreSQL instead of the compose services).

The test starts api-server (tasks talk to its execution API), scheduler, dag-processor and one Celery
worker, triggers `warehouse_build` on an empty warehouse (every step runs, on no rows) and proves each
task instance ran in a process of that worker:
- its `hostname` is the name only the worker's environment gives (tests/distributed/worker_identity.py);
- its `external_executor_id` is a Celery task id that the result backend records as SUCCESS and the
  worker's log records as received and succeeded;
- it was queued by the scheduler job, whose executor is CeleryExecutor.

Throwaway metadata database on 127.0.0.1:5432, a warehouse cloned from the migrated template, an
empty Redis database number; all removed afterwards, with every process this test started.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from community_dw import airflow_env
from community_dw.config import PROJECT_ROOT
from community_dw.orchestration import WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS
from tests.airflow_deployment import AirflowDeployment, free_port, metadata_rows

pytestmark = [pytest.mark.services, pytest.mark.slow]

REDIS = ("127.0.0.1", 6379)
POSTGRES = ("127.0.0.1", 5432)
POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
DAG_ID = "warehouse_build"
#: Bounds of each wait; the whole test takes about two minutes on a 2-core machine.
READY_TIMEOUT_S = 120
RUN_TIMEOUT_S = 240


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def services() -> None:
    missing = [f"{name} on {host}:{port}" for name, (host, port) in (("Redis", REDIS), ("PostgreSQL", POSTGRES))
               if not _reachable((host, port))]
    if missing:
        pytest.skip(f"CeleryExecutor test needs the machine's services: {', '.join(missing)} not reachable")


@pytest.fixture
def metadata_url(services: None) -> Iterator[str]:
    """A throwaway Airflow metadata database (and Celery result backend) on the machine's PostgreSQL."""
    name = f"cdw_celery_meta_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}"')
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        admin.dispose()


@pytest.fixture
def broker_url(services: None) -> Iterator[str]:
    """An empty Redis database number of this test's own, claimed with a marker and flushed afterwards."""
    import redis

    marker = f"cdw-celery-test:{uuid.uuid4().hex}"
    for number in range(15, 0, -1):
        client = redis.Redis(host=REDIS[0], port=REDIS[1], db=number)
        if client.dbsize() == 0 and client.set(marker, "1", nx=True) and client.dbsize() == 1:
            break
        client.close()
    else:
        pytest.skip("no empty Redis database number (1-15) for the CeleryExecutor test")
    try:
        yield f"redis://{REDIS[0]}:{REDIS[1]}/{number}"
    finally:
        client.flushdb()
        client.close()


@dataclass
class CeleryDeployment(AirflowDeployment):
    """The Airflow core components plus one Celery worker whose task processes carry `worker_name`."""

    worker_name: str = ""

    def start_all(self) -> None:
        self.start_core()
        self.start(
            "worker",
            # As docker-compose.yml's `celery worker`; two slots (the pool's size) on a small machine, and no
            # log server on the fixed port 8793, which another Airflow on this machine may hold.
            ["celery", "worker", "--concurrency", str(WAREHOUSE_POOL_SLOTS), "--skip-serve-logs",
             "--celery-hostname", f"{self.worker_name}@%h"],
            extra_env={
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.distributed.worker_identity.hostname",
                "CDW_TEST_WORKER_NAME": self.worker_name,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            },
        )


@pytest.fixture
def deployment(
    metadata_url: str, broker_url: str, fresh_warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CeleryDeployment]:
    monkeypatch.setenv("CDW_STATE_DIR", str(tmp_path / "state"))  # AIRFLOW_HOME, secrets, outputs of this test
    env = airflow_env.airflow_environment(
        warehouse_url=fresh_warehouse.url.render_as_string(hide_password=False),
        executor="CeleryExecutor",
        metadata_url=metadata_url,
        broker_url=broker_url,
        api_port=free_port(),
    )
    cluster = CeleryDeployment(env=env, log_dir=tmp_path / "logs", worker_name=f"cdw-celery-{uuid.uuid4().hex[:8]}")
    try:
        yield cluster
    finally:
        cluster.stop()


def test_warehouse_build_runs_on_a_celery_worker(deployment: CeleryDeployment, metadata_url: str) -> None:
    env = deployment.env
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://127.0.0.1:6379/")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + airflow_env.airflow_connection_url(metadata_url)

    assert airflow_env.ensure_airflow_db(env) is True  # `airflow db migrate` on the throwaway database
    deployment.start_all()
    deployment.wait_for("a healthy api-server, scheduler and dag-processor", deployment.healthy, READY_TIMEOUT_S)
    deployment.wait_for(
        "the Celery worker to be ready", lambda: f"{deployment.worker_name}@" in deployment.log("worker")
        and " ready." in deployment.log("worker"), READY_TIMEOUT_S,
    )
    deployment.wait_for(
        f"{DAG_ID} to be parsed and serialized",
        lambda: metadata_rows(metadata_url, "select 1 from serialized_dag where dag_id = :d", d=DAG_ID),
        READY_TIMEOUT_S,
    )

    # What an operator does through the API (the UI's own calls): pool, unpause, trigger.
    token = deployment.login()
    deployment.api("POST", "/api/v2/pools", token,
                   {"name": WAREHOUSE_POOL, "slots": WAREHOUSE_POOL_SLOTS, "description": "warehouse work"})
    deployment.api("PATCH", f"/api/v2/dags/{DAG_ID}", token, {"is_paused": False})
    run = deployment.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", token,
                         {"dag_run_id": f"celery_test_{uuid.uuid4().hex[:8]}", "logical_date": None})
    run_id = run["dag_run_id"]
    task_ids = {task["task_id"] for task in deployment.api("GET", f"/api/v2/dags/{DAG_ID}/tasks", token)["tasks"]}
    assert {"standardize", "build_core", "build_marts", "gate_marts"} <= task_ids

    def finished() -> str | None:
        rows = metadata_rows(metadata_url, "select state from dag_run where dag_id = :d and run_id = :r", d=DAG_ID, r=run_id)
        state = rows[0].state if rows else None
        return state if state in ("success", "failed") else None

    state = deployment.wait_for(f"run {run_id} of {DAG_ID} to finish", finished, RUN_TIMEOUT_S)
    tis = metadata_rows(
        metadata_url,
        """select ti.task_id, ti.state, ti.hostname, ti.external_executor_id, ti.executor,
                  job.job_type
             from task_instance ti left join job on job.id = ti.queued_by_job_id
            where ti.dag_id = :d and ti.run_id = :r""",
        d=DAG_ID,
        r=run_id,
    )
    assert state == "success", (
        f"run {run_id} ended {state}: {[tuple(ti) for ti in tis]}\n{deployment.task_errors(DAG_ID, run_id)}"
        f"\n{deployment.diagnostics()}"
    )
    assert {ti.task_id for ti in tis} == task_ids
    assert all(ti.state == "success" for ti in tis), [tuple(ti) for ti in tis]

    # Each task ran in a process started by the Celery worker ...
    assert {ti.hostname for ti in tis} == {deployment.worker_name}, [tuple(ti) for ti in tis]
    # ... queued by the scheduler through CeleryExecutor (job.executor_class stays empty in Airflow 3.3,
    # so the scheduler's own log says which executor each task instance was handed to) ...
    scheduler_log = deployment.log("scheduler")
    for ti in tis:
        assert ti.job_type == "SchedulerJob", tuple(ti)
        handed = rf"TaskInstance: {DAG_ID}\.{ti.task_id} {re.escape(run_id)} \[scheduled\].*for executor: CeleryExecutor\("
        assert re.search(handed, scheduler_log), f"{ti.task_id} not enqueued to CeleryExecutor"
    # ... as a Celery task that the result backend and the worker's log record as succeeded.
    celery_ids = {ti.external_executor_id for ti in tis}
    assert None not in celery_ids and len(celery_ids) == len(task_ids)
    # (The task reports its state through the execution API a moment before its Celery task returns.)
    deployment.wait_for(
        "the Celery results of every task",
        lambda: set(_celery_results(metadata_url, celery_ids).values()) == {"SUCCESS"}
        and all(f"[{celery_id}] succeeded" in deployment.log("worker") for celery_id in celery_ids),
        30,
    )
    assert _celery_results(metadata_url, celery_ids) == dict.fromkeys(celery_ids, "SUCCESS")
    worker_log = deployment.log("worker")
    for celery_id in celery_ids:
        assert f"Task execute_workload[{celery_id}] received" in worker_log, celery_id
        assert f"Task execute_workload[{celery_id}] succeeded" in worker_log, celery_id


def _celery_results(metadata_url: str, celery_ids: set[str]) -> dict[str, str]:
    rows = metadata_rows(
        metadata_url,
        "select task_id, status from celery_taskmeta where task_id = any(:ids)",
        ids=sorted(celery_ids),
    )
    return {row.task_id: row.status for row in rows}

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

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from community_dw import airflow_env
from community_dw.airflow_local import stop_groups
from community_dw.config import PROJECT_ROOT
from community_dw.orchestration import WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class CeleryDeployment:
    """api-server, scheduler, dag-processor and a Celery worker as child processes, logs in `log_dir`."""

    env: dict[str, str]
    log_dir: Path
    worker_name: str
    children: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.env["AIRFLOW__API__PORT"])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def process_env(self) -> dict[str, str]:
        # The warehouse reaches tasks only through the Airflow connection, as in docker-compose.yml.
        base = {key: value for key, value in os.environ.items() if key != "CDW_WAREHOUSE_URL"}
        return {**base, **self.env}

    def airflow(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).with_name("airflow")), *args]
        return subprocess.run(command, env=self.process_env(), capture_output=True, text=True, timeout=timeout)

    def start(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.children[name] = subprocess.Popen(
                [str(Path(sys.executable).with_name("airflow")), *args],
                env={**self.process_env(), **(extra_env or {})},
                cwd=self.env["AIRFLOW_HOME"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: teardown clears its workers too
            )

    def start_all(self) -> None:
        self.start("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.port)])
        self.start("scheduler", ["scheduler"])
        self.start("dag-processor", ["dag-processor"])
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

    def stop(self) -> None:
        stop_groups({name: child.pid for name, child in self.children.items()}, self.children)

    def log(self, name: str, chars: int | None = None) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-chars:] if chars else text

    def diagnostics(self) -> str:
        return "\n".join(f"--- {name}.log (end) ---\n{self.log(name, 2500)}" for name in self.children)

    def task_errors(self, dag_id: str, run_id: str) -> str:
        """The error events of each task log of a run (Airflow writes them as JSON lines)."""
        folder = Path(self.env["AIRFLOW_HOME"]) / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        errors = []
        for path in sorted(folder.glob("task_id=*/attempt=*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if '"level":"error"' in line:
                    errors.append(f"{path.parent.name}: {line[:1500]}")
        return "\n".join(errors) or f"(no task errors logged under {folder})"

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if (code := child.poll()) is not None:
                pytest.fail(f"{name} exited with code {code}\n{self.diagnostics()}")

    def wait_for(self, what: str, done: Callable[[], Any], timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            if result := done():
                return result
            time.sleep(2)
        pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}\n{self.diagnostics()}")

    def api(self, method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method=method,
        )
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def healthy(self) -> bool:
        try:
            health = self.api("GET", "/api/v2/monitor/health")
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return False
        return all((health.get(part) or {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "dag_processor"))


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
        api_port=_free_port(),
    )
    cluster = CeleryDeployment(env=env, log_dir=tmp_path / "logs", worker_name=f"cdw-celery-{uuid.uuid4().hex[:8]}")
    try:
        yield cluster
    finally:
        cluster.stop()
        leftovers = [name for name, child in cluster.children.items() if child.poll() is None]
        assert not leftovers, f"still running after teardown: {leftovers}"


def _metadata(url: str, sql: str, **params: Any) -> list[sa.Row]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


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
        lambda: _metadata(metadata_url, "select 1 from serialized_dag where dag_id = :d", d=DAG_ID),
        READY_TIMEOUT_S,
    )

    # What an operator does through the API (the UI's own calls): pool, unpause, trigger.
    token = airflow_env_login(deployment)
    deployment.api("POST", "/api/v2/pools", token,
                   {"name": WAREHOUSE_POOL, "slots": WAREHOUSE_POOL_SLOTS, "description": "warehouse work"})
    deployment.api("PATCH", f"/api/v2/dags/{DAG_ID}", token, {"is_paused": False})
    run = deployment.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", token,
                         {"dag_run_id": f"celery_test_{uuid.uuid4().hex[:8]}", "logical_date": None})
    run_id = run["dag_run_id"]
    task_ids = {task["task_id"] for task in deployment.api("GET", f"/api/v2/dags/{DAG_ID}/tasks", token)["tasks"]}
    assert {"standardize", "build_core", "build_marts", "gate_marts"} <= task_ids

    def finished() -> str | None:
        rows = _metadata(metadata_url, "select state from dag_run where dag_id = :d and run_id = :r", d=DAG_ID, r=run_id)
        state = rows[0].state if rows else None
        return state if state in ("success", "failed") else None

    state = deployment.wait_for(f"run {run_id} of {DAG_ID} to finish", finished, RUN_TIMEOUT_S)
    tis = _metadata(
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


def airflow_env_login(deployment: CeleryDeployment) -> str:
    """A JWT for the admin user, whose password airflow_environment() generated for this test's home."""
    body = {"username": airflow_env.ADMIN_USER, "password": airflow_env.admin_password()}
    return deployment.api("POST", "/auth/token", body=body)["access_token"]


def _celery_results(metadata_url: str, celery_ids: set[str]) -> dict[str, str]:
    rows = _metadata(
        metadata_url,
        "select task_id, status from celery_taskmeta where task_id = any(:ids)",
        ids=sorted(celery_ids),
    )
    return {row.task_id: row.status for row in rows}

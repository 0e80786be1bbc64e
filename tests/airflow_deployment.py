"""Airflow components as child processes for tests that need a real scheduler (Celery, backfill).

`AirflowDeployment` starts api-server, scheduler and dag-processor (and whatever else a test adds with
`start`) in their own process groups, logs each to a file, and stops them all; `wait_for` fails the
test with the end of every log when a component dies or a wait times out.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from community_dw import airflow_env
from community_dw.airflow_local import stop_groups


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def metadata_rows(url: str, sql: str, **params: Any) -> list[sa.Row]:
    """Rows of a query on the Airflow metadata database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


@dataclass
class AirflowDeployment:
    """Airflow components as child processes with the environment `env`, logs in `log_dir`."""

    env: dict[str, str]
    log_dir: Path
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

    def start_core(self) -> None:
        """api-server (tasks talk to its execution API), scheduler and dag-processor."""
        self.start("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.port)])
        self.start("scheduler", ["scheduler"])
        self.start("dag-processor", ["dag-processor"])

    def stop(self) -> None:
        stop_groups({name: child.pid for name, child in self.children.items()}, self.children)
        leftovers = [name for name, child in self.children.items() if child.poll() is None]
        assert not leftovers, f"still running after teardown: {leftovers}"

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

    def login(self) -> str:
        """A JWT for the admin user, whose password airflow_environment() generated for this home."""
        body = {"username": airflow_env.ADMIN_USER, "password": airflow_env.admin_password()}
        return self.api("POST", "/auth/token", body=body)["access_token"]

    def healthy(self) -> bool:
        try:
            health = self.api("GET", "/api/v2/monitor/health")
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return False
        return all((health.get(part) or {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "dag_processor"))

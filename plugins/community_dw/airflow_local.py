"""`make airflow`: run Airflow 3.3 (api-server, scheduler, dag-processor, triggerer) on localhost."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from community_dw.airflow_env import (
    ADMIN_USER,
    DEFAULT_API_PORT,
    admin_password,
    airflow_environment,
    airflow_home,
    ensure_airflow_db,
    passwords_file,
)

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
STOP_TIMEOUT_S = 30


def state_file() -> Path:
    """Pids and port of a running local Airflow, so `--stop` and later commands can find it."""
    return airflow_home() / "airflow-local.json"


def logs_dir() -> Path:
    return airflow_home() / "logs"


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def choose_port(wanted: int | None = None) -> int:
    """The asked-for port, else 8080 when free, else any free port."""
    if wanted:
        if not _port_is_free(wanted):
            raise SystemExit(f"port {wanted} is already in use")
        return wanted
    if _port_is_free(DEFAULT_API_PORT):
        return DEFAULT_API_PORT
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _command(component: str, port: int) -> list[str]:
    airflow = str(Path(sys.executable).with_name("airflow"))
    if component == "api-server":
        return [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)]
    return [airflow, component]


def _is_airflow_process(pid: int) -> bool:
    """Guards `--stop` against a pid file outliving its processes and the pid being reused."""
    try:
        return b"airflow" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Running and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_until(done: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.2)
    return done()


def stop_groups(pids: dict[str, int], children: dict[str, subprocess.Popen] | None = None) -> None:
    """SIGTERM each component, which shuts down its own workers; then clear what is left of its
    process group (each was started in its own session), SIGKILL as the last resort."""

    def leaders_gone() -> bool:
        for child in (children or {}).values():
            child.poll()
        return not any(_alive(pid) for pid in pids.values())

    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if not _wait_until(leaders_gone, STOP_TIMEOUT_S):
        late = [name for name, pid in pids.items() if _alive(pid)]
        print(f"  {', '.join(late)} did not stop in {STOP_TIMEOUT_S}s: killing", flush=True)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        groups = [pid for pid in pids.values() if _group_alive(pid)]
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signum)
        if _wait_until(lambda groups=groups: not any(_group_alive(pgid) for pgid in groups), 10):
            break
    for child in (children or {}).values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


def read_state() -> dict | None:
    path = state_file()
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def running_state() -> dict | None:
    """The state of a local Airflow whose components are all still running, else None."""
    state = read_state()
    if state and all(_is_airflow_process(pid) for pid in state["pids"].values()):
        return state
    return None


def stop() -> bool:
    """Stop a local Airflow started with `--detach`; False when none was running."""
    state = read_state()
    if state is None:
        return False
    ours = {name: pid for name, pid in state["pids"].items() if _is_airflow_process(pid)}
    if ours:
        print(f"Stopping {', '.join(ours)} ...", flush=True)
        stop_groups(ours)
    state_file().unlink(missing_ok=True)
    return bool(ours)


def _get_json(url: str, token: str | None = None, timeout: float = 5) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def health(base_url: str) -> dict | None:
    """The API server's health document, or None while it does not answer."""
    try:
        return _get_json(f"{base_url}/api/v2/monitor/health", timeout=3)
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return None


def login(base_url: str, username: str, password: str) -> str:
    """A JWT from SimpleAuthManager's login endpoint (the same one the UI's login form posts to)."""
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(
        f"{base_url}/auth/token", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["access_token"]


def _log_tail(name: str, chars: int = 2500) -> str:
    path = logs_dir() / f"{name}.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


@dataclass
class LocalAirflow:
    """The four components as child processes, each in its own session with its log file."""

    port: int
    env: dict[str, str]
    children: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        logs_dir().mkdir(parents=True, exist_ok=True)
        process_env = {**os.environ, **self.env}
        for component in COMPONENTS:
            log = open(logs_dir() / f"{component}.log", "ab")  # noqa: SIM115 - the child keeps it open
            self.children[component] = subprocess.Popen(
                _command(component, self.port),
                env=process_env,
                cwd=airflow_home(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
        state = {"port": self.port, "url": self.base_url, "pids": self.pids()}
        state_file().write_text(json.dumps(state, indent=2) + "\n")

    def pids(self) -> dict[str, int]:
        return {name: child.pid for name, child in self.children.items()}

    def exited(self) -> dict[str, int]:
        return {name: code for name, child in self.children.items() if (code := child.poll()) is not None}

    def wait_ready(self, timeout_s: float) -> dict:
        """Until the API answers and reports metadata DB, scheduler, dag-processor and triggerer healthy."""
        deadline = time.monotonic() + timeout_s
        last: dict | None = None
        while time.monotonic() < deadline:
            if exited := self.exited():
                name, code = next(iter(exited.items()))
                raise RuntimeError(f"{name} exited with code {code}; its log ends:\n{_log_tail(name)}")
            last = health(self.base_url)
            if last and all(
                (last.get(part) or {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "dag_processor", "triggerer")
            ):
                return last
            time.sleep(1)
        raise RuntimeError(f"Airflow was not healthy after {timeout_s:.0f}s; last health: {last}")

    def stop(self) -> None:
        stop_groups(self.pids(), self.children)
        state_file().unlink(missing_ok=True)


def dag_files(dags_folder: Path) -> set[str]:
    """DAG files relative to the folder, by Airflow's own safe-mode test (mentions "airflow" and "dag")."""
    files = set()
    for path in dags_folder.rglob("*.py"):
        content = path.read_bytes().lower()
        if b"airflow" in content and b"dag" in content:
            files.add(str(path.relative_to(dags_folder)))
    return files


def _relative(filename: str, dags_folder: Path) -> str:
    path = Path(filename)
    return str(path.relative_to(dags_folder)) if path.is_absolute() and dags_folder in path.parents else filename


def check_login(base_url: str, dags_folder: Path, timeout_s: float = 90) -> str:
    """Log in as the admin, wait until every DAG file shows up as DAGs or an import error (the first
    parse of the dag-processor), and summarize what the UI will show."""
    token = login(base_url, ADMIN_USER, admin_password())
    expected = dag_files(dags_folder)
    deadline = time.monotonic() + timeout_s
    while True:
        dags = _get_json(f"{base_url}/api/v2/dags?limit=1000", token)
        errors = _get_json(f"{base_url}/api/v2/importErrors?limit=1000", token)
        seen = {_relative(dag["fileloc"], dags_folder) for dag in dags["dags"]}
        seen |= {_relative(error["filename"], dags_folder) for error in errors["import_errors"]}
        if expected <= seen or time.monotonic() > deadline:
            break
        time.sleep(2)
    names = ", ".join(sorted(dag["dag_id"] for dag in dags["dags"])) or "none yet"
    summary = f"login as {ADMIN_USER} OK; {dags['total_entries']} DAGs ({names})"
    if errors["total_entries"]:
        files = ", ".join(sorted(error["filename"] for error in errors["import_errors"]))
        summary += f"; {errors['total_entries']} import errors in {files}"
    if missing := expected - seen:
        summary += f"; not parsed yet: {', '.join(sorted(missing))}"
    return summary


def ensure_pool(base_url: str) -> bool:
    """Create the warehouse pool the DAGs' tasks run in unless it exists (a task in a missing pool is
    never scheduled, so a fresh `make airflow` could not run warehouse_build); True when created."""
    from community_dw.orchestration import WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS

    token = login(base_url, ADMIN_USER, admin_password())
    pools = _get_json(f"{base_url}/api/v2/pools?limit=1000", token)["pools"]
    if any(pool["name"] == WAREHOUSE_POOL for pool in pools):
        return False
    body = json.dumps({"name": WAREHOUSE_POOL, "slots": WAREHOUSE_POOL_SLOTS, "description": "warehouse work"})
    request = urllib.request.Request(
        f"{base_url}/api/v2/pools",
        data=body.encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        return True


def print_banner(port: int, summary: str | None = None) -> None:
    print(
        "\n".join(
            [
                "",
                f"Airflow is running: http://localhost:{port}",
                f"  login     {ADMIN_USER} / {admin_password()}",
                f"            (password kept in {passwords_file()})",
                f"  logs      {logs_dir()}/<component>.log",
                *([f"  check     {summary}"] if summary else []),
                "",
            ]
        ),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m community_dw.airflow_local", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--detach",
        "--exit-after-ready",
        action="store_true",
        help="start, wait until healthy, check the login, then leave Airflow running in the background",
    )
    mode.add_argument("--stop", action="store_true", help="stop an Airflow started with --detach")
    mode.add_argument("--status", action="store_true", help="exit 0 when a local Airflow is running and healthy")
    parser.add_argument("--port", type=int, help="API server port (default 8080, else a free one)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for a healthy Airflow")
    args = parser.parse_args(argv)

    if args.stop:
        print("Stopped." if stop() else "No local Airflow was running.", flush=True)
        return 0
    if state := running_state():
        report = health(state["url"])
        print(f"Airflow already runs (pids {state['pids']}); health: {report}", flush=True)
        print_banner(state["port"])
        return 0 if report else 1
    if args.status:
        print("No local Airflow is running.", flush=True)
        return 1
    stop()  # leftovers of a run whose components died

    port = choose_port(args.port)
    print("Preparing the metadata database on the embedded PostgreSQL ...", flush=True)
    env = airflow_environment(api_port=port)
    if ensure_airflow_db(env):
        print("  migrated with `airflow db migrate`", flush=True)
    airflow = LocalAirflow(port=port, env=env)
    print(f"Starting {', '.join(COMPONENTS)} (logs in {logs_dir()}) ...", flush=True)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)  # also when started as a background job, which ignores it
    try:
        airflow.start()
        airflow.wait_ready(args.timeout)
        if ensure_pool(airflow.base_url):
            print("  created the pool for warehouse work", flush=True)
        print_banner(port, check_login(airflow.base_url, Path(env["AIRFLOW__CORE__DAGS_FOLDER"])))
        if args.detach:
            print(f"Left running in the background; stop it with `{parser.prog} --stop`.", flush=True)
            return 0
        print("Press Ctrl-C to stop.", flush=True)
        while not (exited := airflow.exited()):
            time.sleep(1)
        name, code = next(iter(exited.items()))
        print(f"{name} exited with code {code}; its log ends:\n{_log_tail(name)}", flush=True)
        return 1
    except KeyboardInterrupt:
        stopping = True
        return 0
    except Exception as error:
        print(f"Airflow did not start: {error}", file=sys.stderr, flush=True)
        stopping = True
        return 1
    finally:
        if stopping or not args.detach:
            print("Stopping Airflow ...", flush=True)
            airflow.stop()
            print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())

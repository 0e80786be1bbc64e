"""The Airflow UI as data engineers see it, in a real browser: Debian's Chromium driven by Playwright.

`make airflow` (python -m community_dw.airflow_local) is started unless one already runs; the test
triggers one `warehouse_build` run (on a throwaway warehouse when it started Airflow itself), then logs
in through the login form and checks, on the pages a person would open:
- the DAG list shows every DAG the API knows (and the API knows every DAG file: no import errors);
- each DAG's "Latest Run" badge shows the state of its latest run, warehouse_build's included;
- warehouse_build's graph with "All Dag Dependencies" links each department's ingest DAG, through the raw
  asset it publishes, to warehouse_build.
Screenshots of both pages go to <output dir>/screenshots/ (.cdw/out/screenshots by default), and the
paths are printed. Skipped only when Chromium is missing: `make browser-deps` installs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from community_dw import airflow_local, browser_deps
from community_dw.airflow_env import ADMIN_USER, admin_password
from community_dw.config import PROJECT_ROOT, output_dir
from community_dw.orchestration import WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS

pytestmark = pytest.mark.slow

#: As the brief for headless Chromium on a server: no sandbox (root, containers), no GPU, nothing that
#: phones home or updates itself during a test. Playwright adds --headless and a fresh --user-data-dir.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TRIGGERED_DAG = "warehouse_build"
START_TIMEOUT_S = 300
RUN_TIMEOUT_S = 240
PAGE_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def chromium() -> Path:
    path = browser_deps.chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed: run `make browser-deps` (apt-get install chromium)")
    return path


@dataclass
class Airflow:
    url: str
    token: str

    def api(self, method: str, path: str, body: dict | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")


def _local_airflow(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "community_dw.airflow_local", *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def airflow(chromium: Path, fresh_warehouse: Engine) -> Iterator[Airflow]:
    """The developer's running local Airflow, else one started (on this test's throwaway warehouse,
    through CDW_WAREHOUSE_URL that fresh_warehouse sets) and stopped again at the end."""
    state = airflow_local.running_state()
    started = not (state and airflow_local.health(state["url"]))
    if started:
        begin = time.monotonic()
        result = _local_airflow("--detach", "--timeout", str(START_TIMEOUT_S), timeout=START_TIMEOUT_S + 120)
        print(f"\n`make airflow` started in {time.monotonic() - begin:.0f}s")
        assert result.returncode == 0, f"`make airflow` did not start:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        state = airflow_local.running_state()
        assert state, f"airflow_local --detach left no running state:\n{result.stdout[-3000:]}"
    try:
        yield Airflow(url=state["url"], token=airflow_local.login(state["url"], ADMIN_USER, admin_password()))
    finally:
        if started:
            stopped = _local_airflow("--stop", timeout=120)
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def _latest_run(airflow: Airflow, dag_id: str) -> dict | None:
    runs = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after&limit=1")["dag_runs"]
    return runs[0] if runs else None


def _run_once(airflow: Airflow, dag_id: str) -> dict:
    """Trigger one run and wait for it to finish, leaving the DAG paused or not as it was."""
    if not any(pool["name"] == WAREHOUSE_POOL for pool in airflow.api("GET", "/api/v2/pools?limit=100")["pools"]):
        airflow.api("POST", "/api/v2/pools", {"name": WAREHOUSE_POOL, "slots": WAREHOUSE_POOL_SLOTS,
                                              "description": "warehouse work"})
    was_paused = airflow.api("GET", f"/api/v2/dags/{dag_id}")["is_paused"]
    airflow.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    try:
        run_id = airflow.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            run = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed") or time.monotonic() > deadline:
                return run
            time.sleep(2)
    finally:
        airflow.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": was_paused})


def _screenshot_dir() -> Path:
    folder = output_dir() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_ui_shows_every_dag_its_last_run_and_the_asset_graph(
    airflow: Airflow, chromium: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    errors = airflow.api("GET", "/api/v2/importErrors?limit=100")
    assert errors["total_entries"] == 0, [(e["filename"], e["stack_trace"][-500:]) for e in errors["import_errors"]]
    dag_ids = sorted(dag["dag_id"] for dag in airflow.api("GET", "/api/v2/dags?limit=1000")["dags"])
    dag_files = airflow_local.dag_files(PROJECT_ROOT / "dags")
    assert len(dag_ids) >= len(dag_files), f"DAGs {dag_ids} for files {sorted(dag_files)}"

    started = time.monotonic()
    run = _run_once(airflow, TRIGGERED_DAG)
    print(f"\n{TRIGGERED_DAG} run {run['dag_run_id']}: {run['state']} after {time.monotonic() - started:.0f}s")
    assert run["state"] in ("success", "failed"), f"{TRIGGERED_DAG} run did not finish in {RUN_TIMEOUT_S}s: {run}"

    shots = _screenshot_dir()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1400},
            env={**os.environ, "TZ": "Asia/Shanghai"},
        )
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        step = "login"
        try:
            # Log in through the form, as a person does.
            page.goto(f"{airflow.url}/")
            page.wait_for_url(re.compile(r".*/auth/login.*"))  # the UI sends a stranger to the login form
            page.get_by_label("Username").fill(ADMIN_USER)
            page.get_by_label("Password").fill(admin_password())
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/auth/login" not in url)

            step = "DAG list"
            # Asset events may have scheduled a newer run meanwhile: compare with what is latest now.
            latest = {dag_id: _latest_run(airflow, dag_id) for dag_id in dag_ids}
            assert latest[TRIGGERED_DAG] and latest[TRIGGERED_DAG]["run_after"] >= run["run_after"]
            page.goto(f"{airflow.url}/dags", wait_until="networkidle")
            expect(page.get_by_text(f"{len(dag_ids)} Dags", exact=True)).to_be_visible()
            shown: dict[str, str | None] = {}
            for dag_id in dag_ids:
                link = page.get_by_role("link", name=dag_id, exact=True)
                expect(link).to_be_visible()
                card = link.locator("xpath=ancestor::*[.//*[@data-testid='latest-run']][1]")
                badge = card.locator("[data-testid='latest-run'] [data-testid='state-badge']")
                if latest[dag_id] is None:
                    shown[dag_id] = None
                    continue
                expect(badge).to_have_attribute("aria-label", latest[dag_id]["state"])
                shown[dag_id] = badge.get_attribute("aria-label")
            page.screenshot(path=shots / "airflow-dags.png")

            step = "asset graph"
            page.goto(f"{airflow.url}/dags/{TRIGGERED_DAG}", wait_until="networkidle")
            page.get_by_label("Show Graph (Press g)").click()
            page.get_by_label("Options").click()
            page.get_by_role("combobox", name="Dependencies").click()
            page.get_by_role("option", name="All Dag Dependencies").click()
            page.keyboard.press("Escape")
            page.get_by_label("Collapse Details Panel").click()
            page.set_viewport_size({"width": 1800, "height": 800})  # the graph is wide and flat
            page.locator(".react-flow__controls-fitview").click()
            graph = page.locator(".react-flow")
            expect(graph.locator(f".react-flow__node[data-id='dag:{TRIGGERED_DAG}']")).to_be_visible()
            ingest_dags = [dag_id for dag_id in dag_ids if dag_id.startswith("ingest_")]
            assert ingest_dags, dag_ids
            for dag_id in ingest_dags:
                expect(graph.locator(f".react-flow__node[data-id='dag:{dag_id}']")).to_be_visible()
            page.wait_for_timeout(1000)  # let the layout settle before the picture
            graph.screenshot(path=shots / "airflow-asset-graph.png")
            links = _graph_links(page)
        except Exception:
            page.screenshot(path=shots / "airflow-failure.png")
            print(f"screenshot of the failing page ({step}): {shots / 'airflow-failure.png'}")
            raise
        finally:
            context.close()

    # Every department DAG reaches warehouse_build through the asset it publishes.
    for dag_id in ingest_dags:
        assets = {target for source, target in links if source == f"dag:{dag_id}" and target.startswith("asset:")}
        assert assets, f"{dag_id} publishes no asset in the graph: {sorted(links)}"
        assert any((asset, f"dag:{TRIGGERED_DAG}") in links for asset in assets), (dag_id, sorted(links))
    print(f"\nAirflow UI at {airflow.url}: {len(dag_ids)} DAGs, latest runs {shown}")
    print(f"screenshots: {shots / 'airflow-dags.png'}, {shots / 'airflow-asset-graph.png'}")


def _graph_links(page: Any) -> set[tuple[str, str]]:
    """(source, target) node ids of the graph's edges, read from their accessible names
    ("Edge from dag:ingest_grid to asset:3"), as a screen reader would announce them."""
    labels = page.locator(".react-flow__edge").evaluate_all("edges => edges.map(e => e.getAttribute('aria-label'))")
    return {(m.group(1), m.group(2)) for label in labels if (m := re.fullmatch(r"Edge from (\S+) to (\S+)", label or ""))}

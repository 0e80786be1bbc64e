"""Every DAG imports cleanly and follows the house rules; parsing is fast and touches nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from community_dw.orchestration import OWNER, RAW_ASSETS

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(path for path in DAGS_FOLDER.glob("*.py") if not path.name.startswith("_"))
INGEST_DAGS = {"ingest_public_security", "ingest_health", "ingest_civil_affairs", "ingest_grid"}
EXPECTED_DAGS = INGEST_DAGS | {"warehouse_build", "outreach_lists"}


def test_no_import_errors(dag_bag) -> None:
    assert dag_bag.import_errors == {}


def test_expected_dags_are_present(dag_bag) -> None:
    assert set(dag_bag.dag_ids) >= EXPECTED_DAGS


def test_one_dag_per_file_named_after_it(dag_bag) -> None:
    for dag in dag_bag.dags.values():
        assert Path(dag.fileloc).stem == dag.dag_id


@pytest.mark.parametrize("rule", ["owner", "tags", "retries", "doc_md", "schedule", "max_active_runs", "catchup"])
def test_every_dag_follows_the_rules(dag_bag, rule: str) -> None:
    for dag_id, dag in dag_bag.dags.items():
        if rule == "owner":
            assert {task.owner for task in dag.tasks} == {OWNER}, dag_id
        elif rule == "tags":
            assert dag.tags, dag_id
        elif rule == "retries":
            assert all(task.retries >= 1 for task in dag.tasks), dag_id
            assert all(task.retry_exponential_backoff for task in dag.tasks), dag_id
        elif rule == "doc_md":
            assert dag.doc_md and dag_id in dag.doc_md, dag_id
        elif rule == "schedule":
            assert dag.schedule is not None, dag_id
            assert str(dag.timezone) == "Asia/Shanghai", dag_id
        elif rule == "max_active_runs":
            assert dag.max_active_runs == 1, dag_id
        elif rule == "catchup":
            assert dag.catchup is False, dag_id


def test_ingest_dags_publish_their_asset_and_the_warehouse_listens(dag_bag) -> None:
    produced = set()
    for dag_id in INGEST_DAGS:
        for task in dag_bag.dags[dag_id].tasks:
            produced |= {outlet.name for outlet in task.outlets}
    assert produced == {asset.name for asset in RAW_ASSETS.values()}
    warehouse = dag_bag.dags["warehouse_build"]
    condition = warehouse.timetable.asset_condition
    # all three person-bearing departments, or the grid office alone
    assert type(condition).__name__ == "AssetAny", condition
    together, grid = condition.objects
    assert type(together).__name__ == "AssetAll" and {a.name for a in together.objects} == {
        RAW_ASSETS[name].name for name in ("public_security", "health", "civil_affairs")}
    assert grid.name == RAW_ASSETS["grid"].name
    assert "mart.published" in str(dag_bag.dags["outreach_lists"].timetable.asset_condition)


def test_no_cycles_and_linear_warehouse_chain(dag_bag) -> None:
    warehouse = dag_bag.dags["warehouse_build"]
    order = [task.task_id for task in warehouse.topological_sort()]
    assert order == ["standardize", "gate_staging", "resolve_persons", "build_core", "build_marts", "gate_marts",
                     "publish_marts"]


def test_file_sensors_defer_instead_of_holding_a_worker(dag_bag) -> None:
    sensors = [task for dag in dag_bag.dags.values() for task in dag.tasks if task.task_type == "FileSensor"]
    assert sensors and all(sensor.deferrable for sensor in sensors)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_parsing_is_fast_and_touches_no_service(dag_file: Path, tmp_path: Path) -> None:
    # A fresh interpreter with no warehouse, no connections and an unroutable database URL: parsing
    # must still succeed, so nothing at import time can have touched a database or the network.
    env = {"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "CDW_WAREHOUSE_URL": "postgresql+psycopg2://nobody@192.0.2.1:1/none",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://nobody@192.0.2.1:1/none"}
    code = (
        "import time, runpy, sys\n"
        "import airflow.sdk, community_dw.orchestration\n"  # shared imports, paid once by the DAG processor
        f"start = time.perf_counter(); runpy.run_path({str(dag_file)!r}); print(time.perf_counter() - start)"
    )
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    parse_seconds = float(result.stdout.strip().splitlines()[-1])
    assert parse_seconds < 1.0, f"{dag_file.name} took {parse_seconds:.2f}s to parse"
    assert time.perf_counter() - started < 60


@pytest.mark.parametrize("dag_id", ["ingest_public_security", "ingest_grid"])
def test_file_sensors_wait_for_the_shanghai_days_file(dag_bag, dag_id: str) -> None:
    # 07:00 in Shanghai on 29 November is 23:00 UTC on the 28th: the run is for the 29th's delivery.
    import pendulum

    sensor = dag_bag.dags[dag_id].get_task("wait_for_delivery")
    rendered = sensor.render_template(sensor.filepath, {"logical_date": pendulum.datetime(2026, 11, 28, 23, 0, tz="UTC")})
    assert rendered.endswith("_20261129.*"), rendered
    assert dag_bag.dags[dag_id].get_task("delivery_expected").downstream_task_ids == {"wait_for_delivery"}

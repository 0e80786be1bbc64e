"""`airflow backfill` over missed days, with the scheduler's catch-up run, publishes what daily runs do.

A real scheduler (LocalExecutor), api-server and dag-processor run the project's DAGs on a small
simulated city whose two delivery days end on the day the scheduler's next catch-up run is for
(ingest DAGs have catchup=False: after an outage the scheduler starts one run, for the latest day).
The ingest DAGs are unpaused, so that run starts; the missed days before it are backfilled with
`airflow backfill create`; warehouse_build and outreach_lists run when their assets update. The
published tables must equal those of a second warehouse built day by day by the same package
(`run_pipeline` per day, which `tests/dags/test_dag_runs.py` shows equals `airflow dags test`).

Surrogate keys and lineage are left out of the comparison (two warehouses number persons and loads
in their own order), and so is outreach.list_item.opened_as_of: daily runs found a need on the first
day, a catch-up finds it on the day it runs; that date is history, not state. Match probabilities are
compared to 6 decimals. Tables that persons feed may differ by a borderline match (see
RESOLUTION_TOLERANCE); tables no person link touches must be identical.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from community_dw import airflow_env
from community_dw.orchestration import TIMEZONE, WAREHOUSE_POOL
from community_dw.pipeline import run_pipeline
from community_dw.simulate.api_server import running_api
from community_dw.simulate.city import generate_city
from community_dw.simulate.config import SimConfig
from tests.airflow_deployment import AirflowDeployment, free_port, metadata_rows
from tests.conftest import PROJECT_ROOT, create_database, drop_database
from tests.faults.support import (
    TOKEN,
    city_environment,
    clone_warehouse,
    comparable_checksums,
    copy_landing,
    diff_checksums,
    dispose_cached_engines,
    sample_differences,
)

pytestmark = pytest.mark.slow

RESIDENTS, DAYS, SEED = 600, 2, 31
INGEST_DAGS = ("ingest_public_security", "ingest_health", "ingest_civil_affairs", "ingest_grid")
ALL_DAGS = (*INGEST_DAGS, "warehouse_build", "outreach_lists")
READY_TIMEOUT_S, RUN_TIMEOUT_S = 180, 900
#: Tables no person link feeds: a backfill must leave them exactly as daily runs do.
WITHOUT_PERSONS = {"core.as_of", "core.building", "core.facility", "core.grid", "core.vaccine_catalogue",
                   "mart.facility_access"}
#: Everything persons feed agrees within this share. Exact agreement is not promised here: a backfill
#: batches records into builds by the scheduler's timing, and a borderline probabilistic match can fall
#: the other way in another batch (the dedup prior depends on the batch). tests/faults/test_catch_up.py
#: holds a catch-up run to exact agreement where the batches are fixed.
RESOLUTION_TOLERANCE = 0.005
def _open_items(engine: sa.Engine) -> set[tuple[str, str, str]]:
    with engine.connect() as conn:
        return {tuple(row) for row in conn.execute(sa.text(
            "select rule_id, coalesce(id_number, ''), name from outreach.list_item where status = 'open'"))}


def _catch_up_days() -> dict[str, date]:
    """Per ingest DAG, the day of the run the scheduler starts when it is unpaused now (catchup=False):
    each DAG's own cron, asked of Airflow's timetable the way the scheduler asks it."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    from community_dw.orchestration import START_DATE

    dags = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags
    days = {}
    for dag_id in INGEST_DAGS:
        timetable = CronTriggerTimetable(dags[dag_id].timetable.expression, timezone=TIMEZONE)
        info = timetable.next_dagrun_info(last_automated_data_interval=None,
                                          restriction=TimeRestriction(earliest=START_DATE, latest=None, catchup=False))
        days[dag_id] = _shanghai_date(info.logical_date)
    return days


def _shanghai_date(moment: datetime) -> date:
    return moment.astimezone(TIMEZONE).date()


def _busy(metadata_url: str) -> int:
    """Backfills unfinished, runs queued, and running runs with work left, except runs whose sensor is
    deferred on a delivery that does not come (they would wait six hours, then skip)."""
    (row,) = metadata_rows(metadata_url, """
        select (select count(*) from backfill where completed_at is null)
             + (select count(*) from dag_run where state = 'queued')
             + (select count(*) from dag_run r
                 where r.state = 'running'
                   and not exists (select 1 from task_instance ti where ti.dag_id = r.dag_id
                                      and ti.run_id = r.run_id and ti.state = 'deferred')) as busy""")
    return row.busy


def _settle(deployment: AirflowDeployment, metadata_url: str, what: str) -> None:
    # Idle twice 15 s apart: an asset event is turned into a run a moment after its task ends.
    deployment.wait_for(what, lambda: not _busy(metadata_url) and not time.sleep(15) and not _busy(metadata_url),
                        RUN_TIMEOUT_S)


def test_backfill_and_catch_up_publish_what_daily_runs_do(
        pg_server_url: str, migrated_template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDW_STATE_DIR", str(tmp_path / "state"))  # AIRFLOW_HOME and secrets of this test
    monkeypatch.setenv("CDW_OUTPUT_DIR", str(tmp_path / "out"))
    metadata_url = create_database(pg_server_url, "airflow_backfill")
    health_url = create_database(pg_server_url, "cdw_backfill_health")
    daily_url = clone_warehouse(pg_server_url, migrated_template, "cdw_daily")
    airflow_url = clone_warehouse(pg_server_url, migrated_template, "cdw_backfill")
    deployment: AirflowDeployment | None = None
    try:
        # The crons differ (06:00 to 07:00): between them the DAGs' catch-up days differ by one. The city's
        # last day is the earliest of them (a later one is not yet in the past for every DAG, and backfill
        # makes no future runs); a DAG whose catch-up run is a day later has every city day backfilled.
        # A cron passing during the test adds a run for a day with no files (its sensor waits) or a pull
        # that finds nothing new; builds are as of the newest dated file, so neither changes the result.
        catch_up = _catch_up_days()
        last_day = min(catch_up.values())
        config = SimConfig(residents=RESIDENTS, days=DAYS, seed=SEED, start_date=last_day - timedelta(days=DAYS - 1))
        city = tmp_path / "city"
        generate_city(city, config, health_url)
        days = [config.day_date(day) for day in range(1, DAYS + 1)]

        # The reference: the same deliveries built day by day in a warehouse of their own.
        with city_environment(copy_landing(city, tmp_path / "daily_landing"), health_url, daily_url):
            for day in days:
                assert run_pipeline(day).ingest_failures == {}, day
        daily_engine = sa.create_engine(daily_url)
        daily = comparable_checksums(daily_engine)

        landing = copy_landing(city, tmp_path / "landing")
        with running_api(landing, TOKEN) as api:
            env = airflow_env.airflow_environment(warehouse_url=airflow_url, metadata_url=metadata_url,
                                                  api_port=free_port())
            env.update({
                "AIRFLOW_CONN_CDW_LANDING": f'{{"conn_type": "fs", "extra": {{"path": "{landing}"}}}}',
                "CDW_LANDING_DIR": str(landing), "CDW_HEALTH_DB_URL": health_url,
                "CDW_CIVIL_AFFAIRS_URL": api.url, "CDW_CIVIL_AFFAIRS_TOKEN": TOKEN,
                "CDW_OUTPUT_DIR": str(tmp_path / "out"),
            })
            deployment = AirflowDeployment(env=env, log_dir=tmp_path / "logs")
            airflow_env.ensure_airflow_db(env)
            # One warehouse task at a time, so a catch-up run and a backfill run never load the same drop at once.
            assert deployment.airflow("pools", "set", WAREHOUSE_POOL, "1", "warehouse work").returncode == 0
            deployment.start_core()
            deployment.wait_for("a healthy api-server, scheduler and dag-processor", deployment.healthy,
                                READY_TIMEOUT_S)
            deployment.wait_for("every DAG parsed", lambda: len(metadata_rows(
                metadata_url, "select dag_id from serialized_dag where dag_id = any(:d)", d=list(ALL_DAGS)))
                == len(ALL_DAGS), READY_TIMEOUT_S)
            for dag_id in ALL_DAGS:
                result = deployment.airflow("dags", "unpause", dag_id)
                assert result.returncode == 0, result.stderr[-2000:]
            def scheduled_days() -> dict[str, set[date]]:
                days_by_dag: dict[str, set[date]] = {}
                for run in metadata_rows(metadata_url, "select dag_id, logical_date from dag_run "
                                                       "where run_type = 'scheduled' and dag_id = any(:d)",
                                         d=list(INGEST_DAGS)):
                    days_by_dag.setdefault(run.dag_id, set()).add(_shanghai_date(run.logical_date))
                return days_by_dag if len(days_by_dag) == len(INGEST_DAGS) else {}

            scheduled = deployment.wait_for("the scheduler's catch-up runs", scheduled_days, READY_TIMEOUT_S)
            # A cron may have passed since the city was made: then a DAG's catch-up run is a day later (and
            # one passing now adds a run for the next day, whose sensor waits for a file that never comes).
            assert all(min(scheduled[dag_id]) >= day for dag_id, day in catch_up.items()), (scheduled, catch_up)
            # The engineer backfills every other day (for the grid office: its delivery days).
            missed_days = {dag_id: [day for day in days if day not in scheduled[dag_id] and (
                dag_id != "ingest_grid" or any((landing / "grid").glob(f"*_{day:%Y%m%d}.*")))]
                for dag_id in INGEST_DAGS}
            for dag_id, missed in missed_days.items():
                result = deployment.airflow("backfill", "create", "--dag-id", dag_id,
                                            "--from-date", f"{missed[0]}T00:00:00+08:00",
                                            "--to-date", f"{missed[-1]}T23:59:59+08:00")
                assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
            _settle(deployment, metadata_url, "every backfill, catch-up and asset-triggered run to finish")
            # warehouse_build waits for all three person-bearing departments; when the backfill's last loads
            # were not of all three, their events wait for tomorrow's deliveries. The operator's step
            # (docs/operations.md): trigger the build once the backfill is done.
            if metadata_rows(metadata_url, "select 1 from asset_dag_run_queue where target_dag_id = 'warehouse_build'"):
                result = deployment.airflow("dags", "trigger", "warehouse_build")
                assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
                _settle(deployment, metadata_url, "the build after the backfill and its outreach run")

        runs = metadata_rows(metadata_url, "select dag_id, run_id, run_type, state, logical_date from dag_run "
                                           "order by dag_id, logical_date nulls last")
        failed = [tuple(run) for run in runs if run.state == "failed"]
        assert not failed, f"{failed}\n" + "\n".join(deployment.task_errors(run[0], run[1]) for run in failed)
        backfilled = sorted((run.dag_id, _shanghai_date(run.logical_date)) for run in runs
                            if run.run_type == "backfill" and run.state == "success")
        assert backfilled == sorted((dag_id, day) for dag_id, missed in missed_days.items() for day in missed), runs
        built = [run for run in runs if run.dag_id == "warehouse_build"]
        assert any(run.run_type == "asset_triggered" for run in built), runs
        assert built and all(run.state == "success" for run in built), runs
        assert any(run.dag_id == "outreach_lists" and run.state == "success" for run in runs), runs

        airflow_engine = sa.create_engine(airflow_url)
        with airflow_engine.connect() as conn:
            assert conn.execute(sa.text("select as_of_date from core.as_of")).scalar() == days[-1]
        caught_up = comparable_checksums(airflow_engine)
        changed = diff_checksums(daily, caught_up)
        samples = "\n".join(sample_differences(daily_engine, airflow_engine, line.split(":")[0])
                            for line in changed[:3])
        # What no person link touches is identical; what persons feed agrees but for borderline matches.
        assert not [line for line in changed if line.split(":")[0] in WITHOUT_PERSONS], f"{changed}\n{samples}"
        for table, (rows, _) in daily.items():
            assert abs(caught_up[table][0] - rows) <= max(1, rows * RESOLUTION_TOLERANCE), f"{changed}\n{samples}"
        daily_items, caught_up_items = _open_items(daily_engine), _open_items(airflow_engine)
        overlap = len(daily_items & caught_up_items) / max(1, len(daily_items | caught_up_items))
        assert overlap >= 1 - RESOLUTION_TOLERANCE, (overlap, sorted(daily_items ^ caught_up_items)[:10])
        print(f"backfill vs daily: {len(daily)} tables, differing {changed or 'none'}; open outreach items "
              f"{len(caught_up_items)} vs {len(daily_items)}, overlap {overlap:.4f}")
        assert daily["core.person"][0] >= RESIDENTS and daily["outreach.list_item"][0] > 0
        daily_engine.dispose()
        airflow_engine.dispose()
    finally:
        if deployment is not None:
            deployment.stop()
        for url in (daily_url, airflow_url):
            dispose_cached_engines(url)
        for url in (metadata_url, health_url, daily_url, airflow_url):
            drop_database(pg_server_url, url)

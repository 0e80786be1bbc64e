"""
### warehouse_build

Turns landed raw data into what departments read: standardize (rejects to `quarantine.*`) → quality
gate on staging → resolve persons → rebuild `core.*` → build marts in `mart_build` → quality gate
on them → publish (swap into `mart.*` in one transaction).

- **Schedule**: asset-triggered, one run at a time: once public security, health and civil affairs have
  all landed data since the last run (so persons are resolved with the day's register in hand, whatever
  order the deliveries came in), or when the grid office delivers. Built as of the newest delivery day.
- **Publishes**: asset `mart.published`, which schedules `outreach_lists`.
- **Owner**: data-engineering. A critical quality failure stops the run before anything downstream
  is rebuilt, naming the suite, expectation and sample rows; core and marts stay as they were.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from community_dw.orchestration import (
    DEFAULT_ARGS,
    MART_ASSET,
    START_DATE,
    TAG_WAREHOUSE,
    WAREHOUSE_POOL,
    WAREHOUSE_SCHEDULE,
    build_date,
)


@dag(
    dag_id="warehouse_build",
    schedule=WAREHOUSE_SCHEDULE,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAG_WAREHOUSE],
    doc_md=__doc__,
)
def warehouse_build():
    @task(pool=WAREHOUSE_POOL)
    def standardize() -> dict:
        from community_dw.pipeline import standardize as run

        return run()

    @task(pool=WAREHOUSE_POOL)
    def gate_staging() -> dict:
        from community_dw.pipeline import gate_layer

        return gate_layer("staging")

    @task(pool=WAREHOUSE_POOL)
    def resolve_persons() -> dict:
        from community_dw.pipeline import resolve_persons as run

        return run()

    @task(pool=WAREHOUSE_POOL)
    def build_core(**context) -> None:
        from community_dw.pipeline import build_core as run

        run(build_date(context))

    @task(pool=WAREHOUSE_POOL)
    def build_marts() -> None:
        from community_dw.pipeline import build_marts as run

        run()

    @task(pool=WAREHOUSE_POOL)
    def gate_marts() -> dict:
        from community_dw.pipeline import gate_layer

        return gate_layer("mart")

    @task(pool=WAREHOUSE_POOL, outlets=[MART_ASSET])
    def publish_marts() -> list[str]:
        from community_dw.pipeline import publish_marts as run

        return run()

    (standardize() >> gate_staging() >> resolve_persons() >> build_core() >> build_marts() >> gate_marts()
     >> publish_marts())


warehouse_build()

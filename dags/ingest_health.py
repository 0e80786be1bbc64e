"""
### ingest_health

Pulls changed immunization records (卫健 预防接种) into `raw.health__vaccination_record`.

- **From**: the immunization system's reporting replica, Airflow connection `health_immunization_db`,
  table `vaccination_record`, incrementally by `updated_at` with an overlap window (late commits),
  merged by `record_id` downstream; revoked records (`is_deleted`) are carried through.
- **Schedule**: daily 06:00 Asia/Shanghai. The watermark (`audit.watermark`) moves only when a pull
  commits, so a failed or missed run loses nothing.
- **Publishes**: asset `raw.health__vaccination_record`, which schedules `warehouse_build`.
- **Owner**: data-engineering. Lost connections are retried with exponential backoff.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from community_dw.orchestration import (
    DEFAULT_ARGS,
    RAW_ASSETS,
    START_DATE,
    TAG_INGEST,
    WAREHOUSE_POOL,
    run_date,
)


@dag(
    dag_id="ingest_health",
    schedule="0 6 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAG_INGEST, "health"],
    doc_md=__doc__,
)
def ingest_health():
    @task(outlets=[RAW_ASSETS["health"]], pool=WAREHOUSE_POOL)
    def pull_vaccination_records(**context) -> list[dict]:
        from community_dw.ingest import ingest_health as ingest

        return [vars(outcome) for outcome in ingest(run_date(context))]

    pull_vaccination_records()


ingest_health()

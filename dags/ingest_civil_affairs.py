"""
### ingest_civil_affairs

Pulls facilities and service recipients (民政) into `raw.civil_affairs__facility` and
`raw.civil_affairs__service_recipient`.

- **From**: the civil-affairs REST API, Airflow connection `civil_affairs_api` (host; token as
  password), `updated_since` the last watermark minus an overlap, every page; throttling (429 with
  Retry-After), 503s and stalls are retried with exponential backoff inside the pull.
- **Schedule**: daily 06:15 Asia/Shanghai.
- **Publishes**: asset `raw.civil_affairs`, which schedules `warehouse_build`.
- **Owner**: data-engineering. A 401 or a non-JSON answer fails at once with the server's answer.
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
    dag_id="ingest_civil_affairs",
    schedule="15 6 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAG_INGEST, "civil_affairs"],
    doc_md=__doc__,
)
def ingest_civil_affairs():
    @task(outlets=[RAW_ASSETS["civil_affairs"]], pool=WAREHOUSE_POOL)
    def pull_facilities_and_recipients(**context) -> list[dict]:
        from community_dw.ingest import ingest_civil_affairs as ingest

        return [vars(outcome) for outcome in ingest(run_date(context))]

    pull_facilities_and_recipients()


ingest_civil_affairs()

"""
### ingest_public_security

Loads the public-security resident register (公安 人口信息) into `raw.public_security__resident`.

- **From**: the file drop `<landing>/public_security/` — `residents_full_YYYYMMDD` (monthly snapshot) and
  `residents_delta_YYYYMMDD` (daily changes), as CSV (GB18030 or UTF-8) or XLSX.
- **Schedule**: daily 07:00 Asia/Shanghai; waits (deferred, no worker slot held) up to 6 hours for the
  day's file (dated in Shanghai time), then skips. A day whose file was already loaded by a run catching
  up on missed days (catchup=False starts only the latest) skips at once, so `airflow backfill` is safe.
- **Publishes**: asset `raw.public_security__resident`, which schedules `warehouse_build`.
- **Owner**: data-engineering. A bad file fails at once with its file, row and column; the file stays
  in the drop folder and later deliveries wait behind it.
"""

from __future__ import annotations

from airflow.providers.standard.sensors.filesystem import FileSensor
from airflow.sdk import dag, task

from community_dw.orchestration import (
    DEFAULT_ARGS,
    DELIVERY_DAY_NODASH,
    LANDING_CONN_ID,
    RAW_ASSETS,
    START_DATE,
    TAG_INGEST,
    WAREHOUSE_POOL,
    delivery_expected,
    run_date,
)


@dag(
    dag_id="ingest_public_security",
    schedule="0 7 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAG_INGEST, "public_security"],
    doc_md=__doc__,
)
def ingest_public_security():
    wait_for_delivery = FileSensor(
        task_id="wait_for_delivery",
        fs_conn_id=LANDING_CONN_ID,
        filepath="public_security/residents_*_" + DELIVERY_DAY_NODASH + ".*",
        deferrable=True,
        poke_interval=300,
        timeout=6 * 3600,
        soft_fail=True,
    )

    @task(outlets=[RAW_ASSETS["public_security"]], pool=WAREHOUSE_POOL)
    def load_residents(**context) -> list[dict]:
        from community_dw.ingest import ingest_public_security as ingest

        return [vars(outcome) for outcome in ingest(run_date(context))]

    delivery_expected("public_security.residents") >> wait_for_delivery >> load_residents()


ingest_public_security()

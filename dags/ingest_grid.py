"""
### ingest_grid

Loads the grid office's (综治) grids and buildings into `raw.grid__grid` and `raw.grid__building`.

- **From**: the file drop `<landing>/grid/` — `grids_YYYYMMDD.geojson` (polygons with grid workers) and
  `buildings_YYYYMMDD.xlsx` (building register with title rows and merged cells).
- **Schedule**: daily 06:30 Asia/Shanghai; waits (deferred) up to 6 hours for a delivery, then skips —
  the grid office delivers when its register changes. A day whose files a catch-up run already loaded skips
  at once.
- **Publishes**: asset `raw.grid`, which schedules `warehouse_build`.
- **Owner**: data-engineering.
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
    dag_id="ingest_grid",
    schedule="30 6 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAG_INGEST, "grid"],
    doc_md=__doc__,
)
def ingest_grid():
    wait_for_delivery = FileSensor(
        task_id="wait_for_delivery",
        fs_conn_id=LANDING_CONN_ID,
        filepath="grid/*_" + DELIVERY_DAY_NODASH + ".*",
        deferrable=True,
        poke_interval=300,
        timeout=6 * 3600,
        soft_fail=True,
    )

    @task(outlets=[RAW_ASSETS["grid"]], pool=WAREHOUSE_POOL)
    def load_grids_and_buildings(**context) -> list[dict]:
        from community_dw.ingest import ingest_grid as ingest

        return [vars(outcome) for outcome in ingest(run_date(context))]

    delivery_expected("grid.grids", "grid.buildings") >> wait_for_delivery >> load_grids_and_buildings()


ingest_grid()

"""
### outreach_lists

Refreshes what community staff act on after every published warehouse build: opens outreach items
for people the rules in `plugins/community_dw/outreach/rules.yaml` pick (e.g. aged 60+ and not fully
vaccinated), closes items whose need the data shows met, checks `outreach.*` with its quality suites,
and rebuilds the offline HTML reports per community (`cdw report`).

- **Schedule**: when `mart.published` updates (after `warehouse_build`).
- **Publishes**: asset `outreach.list_item`; staff export their lists with `cdw outreach export`.
- **Owner**: data-engineering.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from community_dw.orchestration import (
    DEFAULT_ARGS,
    MART_ASSET,
    OUTREACH_ASSET,
    START_DATE,
    TAG_OUTREACH,
    WAREHOUSE_POOL,
)


@dag(
    dag_id="outreach_lists",
    schedule=MART_ASSET,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAG_OUTREACH],
    doc_md=__doc__,
)
def outreach_lists():
    @task(pool=WAREHOUSE_POOL)
    def build_lists() -> dict:
        from community_dw.pipeline import build_outreach

        # As of the date the published core was built for (core.as_of), whatever day this runs.
        return build_outreach()

    @task(pool=WAREHOUSE_POOL, outlets=[OUTREACH_ASSET])
    def gate_outreach() -> dict:
        from community_dw.pipeline import gate_layer

        return gate_layer("outreach")

    @task(pool=WAREHOUSE_POOL)
    def build_reports() -> list[str]:
        from community_dw.pipeline import build_reports as run

        return run()

    build_lists() >> gate_outreach() >> build_reports()


outreach_lists()

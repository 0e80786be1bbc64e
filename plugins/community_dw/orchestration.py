"""What every DAG shares: owner, tags, retry policy, assets, failure notification.

DAG files import from here so that schedules, owners and retry behaviour are declared once.
Nothing here touches a database, a file share or the network at import time.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from datetime import timedelta
from email.message import EmailMessage

import pendulum
from airflow.sdk import Asset, task
from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryAction, RetryRule

log = logging.getLogger(__name__)

OWNER = "data-engineering"
TIMEZONE = pendulum.timezone("Asia/Shanghai")
START_DATE = pendulum.datetime(2026, 11, 1, tz=TIMEZONE)
WAREHOUSE_POOL = "cdw_warehouse"
WAREHOUSE_POOL_SLOTS = 2

TAG_INGEST, TAG_WAREHOUSE, TAG_OUTREACH = "ingest", "warehouse", "outreach"

#: Raw data landed per department; the warehouse DAG is scheduled on these.
RAW_ASSETS = {
    "public_security": Asset(name="raw.public_security__resident", uri="postgres://warehouse:5432/cdw/raw/public_security__resident"),
    "health": Asset(name="raw.health__vaccination_record", uri="postgres://warehouse:5432/cdw/raw/health__vaccination_record"),
    "civil_affairs": Asset(name="raw.civil_affairs", uri="postgres://warehouse:5432/cdw/raw/civil_affairs"),
    "grid": Asset(name="raw.grid", uri="postgres://warehouse:5432/cdw/raw/grid"),
}
#: warehouse_build runs once the three person-bearing departments have all delivered since its last run
#: (or when the grid office delivers). Building on each one alone made resolution depend on arrival
#: order: a vaccination record with a mistyped ID that was resolved before its resident's register row
#: became a person of its own, so an outreach list could differ from the one daily runs produce.
WAREHOUSE_SCHEDULE = (RAW_ASSETS["public_security"] & RAW_ASSETS["health"] & RAW_ASSETS["civil_affairs"]) \
    | RAW_ASSETS["grid"]
MART_ASSET = Asset(name="mart.published", uri="postgres://warehouse:5432/cdw/mart/published")
OUTREACH_ASSET = Asset(name="outreach.list_item", uri="postgres://warehouse:5432/cdw/outreach/list_item")

#: Transient failures are retried with exponential backoff; anything else (a bad delivery, a failed
#: quality gate, a programming error) fails at once with its message, because retrying cannot fix it.
TRANSIENT_ERRORS = [
    "builtins.ConnectionError",
    "builtins.TimeoutError",
    "psycopg2.OperationalError",
    "psycopg2.errors.SerializationFailure",
    "sqlalchemy.exc.OperationalError",
    "requests.exceptions.ConnectionError",
    "requests.exceptions.Timeout",
    "community_dw.sources.http_api.TransientApiError",
]
RETRY_POLICY = ExceptionRetryPolicy(
    rules=[RetryRule(exception=TRANSIENT_ERRORS, action=RetryAction.RETRY, reason="transient: network or database")],
    default=RetryAction.FAIL,
)


def notify_failure(context: dict) -> None:
    """Failure callback: post to CDW_ALERT_WEBHOOK_URL and/or mail CDW_ALERT_EMAIL (via CDW_SMTP_HOST)."""
    ti = context.get("task_instance") or context.get("ti")
    message = {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "error": str(context.get("exception"))[:2000],
    }
    log.error("task failed: %s", message)
    if url := os.environ.get("CDW_ALERT_WEBHOOK_URL"):
        request = urllib.request.Request(url, data=json.dumps(message, ensure_ascii=False).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except OSError as error:  # an alert that cannot be sent must not hide the original failure
            log.warning("alert webhook failed: %s", error)
    if (to := os.environ.get("CDW_ALERT_EMAIL")) and (host := os.environ.get("CDW_SMTP_HOST")):
        mail = EmailMessage()
        mail["Subject"] = f"[community-dw] {message['dag_id']}.{message['task_id']} failed"
        mail["From"] = os.environ.get("CDW_ALERT_FROM", "community-dw@localhost")
        mail["To"] = to
        mail.set_content(json.dumps(message, ensure_ascii=False, indent=2))
        try:
            with smtplib.SMTP(host, int(os.environ.get("CDW_SMTP_PORT", "25")), timeout=10) as smtp:
                smtp.send_message(mail)
        except OSError as error:
            log.warning("alert mail failed: %s", error)


DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "retry_policy": RETRY_POLICY,
    "on_failure_callback": notify_failure,
}

#: Airflow fs connection whose `path` extra is the landing folder (CDW_LANDING_DIR).
LANDING_CONN_ID = "cdw_landing"
#: The run's date in Asia/Shanghai as YYYYMMDD, for file-name templates. Not `ds_nodash`: that is the
#: logical date in UTC, the day before for a 07:00 Shanghai run, so the sensor would wait for yesterday's file.
DELIVERY_DAY_NODASH = "{{ logical_date.in_timezone('Asia/Shanghai').strftime('%Y%m%d') }}"


def run_date(context: dict):
    """The run's date in Asia/Shanghai: the logical date, or run_after for asset-triggered runs."""
    moment = context.get("logical_date") or context["dag_run"].run_after
    return pendulum.instance(moment).in_timezone(TIMEZONE).date()


def build_date(context: dict):
    """The date a warehouse build is as of: the newest day a loaded delivery is dated, whatever day the
    build runs (asset-triggered, backfilled, caught up late or triggered by hand), so it publishes what
    daily runs would have; the run's own date only before anything was loaded."""
    from community_dw.pipeline import latest_delivery_date

    return latest_delivery_date() or run_date(context)


def delivery_expected(*sources: str):
    """The ingest DAGs' first task, a short circuit over the rest: it skips the day's wait and load when a
    file dated that day was loaded already for one of `sources` (audit.load_run names) by a run catching up
    on missed days. Call inside the DAG: `delivery_expected("grid.grids", "grid.buildings") >> sensor`."""

    @task.short_circuit
    def delivery_expected(**context) -> bool:
        """False (skip the rest) when this day's file was loaded already by a run catching up on missed days."""
        from community_dw.ingest import delivery_already_loaded

        return not delivery_already_loaded(sources, run_date(context))

    return delivery_expected()

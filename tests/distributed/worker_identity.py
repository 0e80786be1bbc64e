"""The hostname Airflow records for tasks run by the test's Celery worker.

The distributed test gives only the worker process `AIRFLOW__CORE__HOSTNAME_CALLABLE` pointing here
(and `CDW_TEST_WORKER_NAME`); task runners inherit the worker's environment, so a task instance
whose `hostname` is this name ran in a process that the Celery worker started, not in the scheduler.
"""

from __future__ import annotations

import os


def hostname() -> str:
    return os.environ["CDW_TEST_WORKER_NAME"]

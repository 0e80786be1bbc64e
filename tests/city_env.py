"""Pointing the pipeline's settings at a simulated city, for tests (and benches) that run the real pipeline.

The pipeline finds the warehouse, the landing folder, the health replica and the civil-affairs API in CDW_*
environment variables. These helpers set them for a block and put back what was there before, so a later
test never inherits a dropped database or a stopped API's address.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from community_dw.simulate.api_server import RunningApi

#: The bearer token the simulator's API is started with and the pipeline is given.
TOKEN = "city-test-token"
#: The settings that point the pipeline at a city: always put back when a city's block ends.
CITY_KEYS = ("CDW_WAREHOUSE_URL", "CDW_LANDING_DIR", "CDW_HEALTH_DB_URL", "CDW_CIVIL_AFFAIRS_URL",
             "CDW_CIVIL_AFFAIRS_TOKEN")


@contextmanager
def environment(values: Mapping[str, str], restore: Iterable[str] = ()) -> Iterator[None]:
    """`values` in os.environ while the block runs; on exit those keys and the `restore` ones are as they were
    (unset again if they were unset), however the block ends."""
    saved = {key: os.environ.get(key) for key in (*restore, *values)}
    try:
        os.environ.update(values)
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def civil_affairs_api(landing: Path, token: str = TOKEN, **api_options: object) -> Iterator[RunningApi]:
    """The simulator's civil-affairs API serving the landing's data (started with `api_options`), with
    CDW_CIVIL_AFFAIRS_URL and CDW_CIVIL_AFFAIRS_TOKEN pointing at it; both put back when it stops."""
    from community_dw.simulate.api_server import running_api

    with running_api(landing, token, **api_options) as api, \
            environment({"CDW_CIVIL_AFFAIRS_URL": api.url, "CDW_CIVIL_AFFAIRS_TOKEN": token}):
        yield api


@contextmanager
def city_settings(landing: Path, health_url: str, warehouse_url: str | None = None,
                  extra: Mapping[str, str] | None = None) -> Iterator[None]:
    """The landing folder, the health replica, the warehouse when given (else whatever CDW_WAREHOUSE_URL
    already says) and any `extra` settings while the block runs; on exit every one of CITY_KEYS and `extra`
    is as it was. Without the API: tests that keep the city's settings after the API stops start it inside."""
    values = {"CDW_LANDING_DIR": str(landing), "CDW_HEALTH_DB_URL": health_url, **(extra or {})}
    if warehouse_url:
        values["CDW_WAREHOUSE_URL"] = warehouse_url
    with environment(values, restore=CITY_KEYS):
        yield


@contextmanager
def city_environment(landing: Path, health_url: str, warehouse_url: str | None = None, *,
                     extra: Mapping[str, str] | None = None, **api_options: object) -> Iterator[RunningApi]:
    """city_settings and civil_affairs_api together for the block: the whole city, the running API yielded."""
    with city_settings(landing, health_url, warehouse_url, extra), civil_affairs_api(landing, **api_options) as api:
        yield api

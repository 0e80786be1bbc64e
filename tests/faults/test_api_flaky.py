"""The civil-affairs API failing half its requests for a while: each pull succeeds or fails cleanly."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from community_dw.simulate.api_server import running_api
from community_dw.sources.http_api import (
    SERVICE_RECIPIENTS,
    ApiError,
    ApiSettings,
    pull_endpoint,
    read_watermark,
)
from tests.faults.conftest import ReliabilityRow
from tests.faults.support import TOKEN, fetch, scalar

WINDOW_S = 20.0  # the "a minute", shortened to keep the suite bounded
RAW = "raw.civil_affairs__service_recipient"


def _expected_ids(landing: Path) -> set[str]:
    folder = landing / "_api" / "civil_affairs"
    versions = json.loads(next(folder.glob("service*.json")).read_text(encoding="utf-8"))
    return {str(version["recipient_id"]) for version in versions}


@pytest.mark.scenario("Civil-affairs API failing 50% of requests")
def test_pulls_during_an_outage_succeed_within_retries_or_fail_cleanly(
        landing: Path, fresh_warehouse: sa.Engine, reliability: ReliabilityRow) -> None:
    patient = lambda url: ApiSettings(url, TOKEN, page_size=5, timeout_s=2.0)  # noqa: E731 - production retries
    impatient = lambda url: ApiSettings(url, TOKEN, page_size=5, timeout_s=2.0, max_attempts=2)  # noqa: E731
    reliability.tried_(f"the simulator's API answering 503 to 50% of requests for {WINDOW_S:.0f} s, then healthy; "
                       "service-recipient pulls (5 records a page) back to back through the outage, alternating "
                       "production retries (8 attempts, backoff) and an impatient client (2 attempts); after each, "
                       "raw and the watermark checked; then one pull after recovery")
    outcomes: Counter[str] = Counter()
    errors: list[str] = []
    with running_api(landing, TOKEN, error_rate=0.5, seed=11) as api:
        healed = threading.Timer(WINDOW_S, lambda: setattr(api.state.settings, "error_rate", 0.0))
        healed.start()
        try:
            started = time.monotonic()
            attempt = 0
            while time.monotonic() - started < WINDOW_S:
                settings = (patient if attempt % 2 == 0 else impatient)(api.url)
                rows_before = scalar(fresh_warehouse, f"select count(*) from {RAW}")
                mark_before = read_watermark(fresh_warehouse, SERVICE_RECIPIENTS.source)
                try:
                    outcome = pull_endpoint(fresh_warehouse, SERVICE_RECIPIENTS, settings)
                except ApiError as error:
                    outcomes[f"failed ({'production' if attempt % 2 == 0 else 'impatient'} retries)"] += 1
                    errors.append(str(error).split(" (HTTP")[0])
                    # Fails cleanly: nothing half-loaded, the watermark where it was.
                    assert scalar(fresh_warehouse, f"select count(*) from {RAW}") == rows_before
                    assert read_watermark(fresh_warehouse, SERVICE_RECIPIENTS.source) == mark_before
                else:
                    outcomes[outcome.status] += 1
                    if outcome.status == "succeeded":
                        in_load = fetch(fresh_warehouse, f"select count(*), count(distinct recipient_id) from {RAW} "
                                                         "where load_id = :id", id=outcome.load_id)[0]
                        assert in_load == (outcome.rows_loaded, outcome.rows_loaded)
                attempt += 1
            served = api.state.requests
        finally:
            healed.cancel()
            healed.join()
        api.state.settings.error_rate = 0.0
        final = pull_endpoint(fresh_warehouse, SERVICE_RECIPIENTS, patient(api.url))

    assert final.status in ("succeeded", "skipped_duplicate")
    assert outcomes.get("succeeded", 0) + outcomes.get("skipped_duplicate", 0) >= 1, outcomes
    ids = {str(i) for (i,) in fetch(fresh_warehouse, f"select distinct recipient_id from {RAW}")}
    assert ids == _expected_ids(landing)
    assert scalar(fresh_warehouse, "select count(*) from audit.load_run where status = 'running'") == 0
    reliability.saw(f"{attempt} pulls in {WINDOW_S:.0f} s, {served} requests served: "
                    + ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())))
    if errors:
        reliability.saw(f"failures were clean (raw and watermark unchanged, nothing landed), e.g. '{errors[0]}'")
    reliability.saw(f"after recovery: {final.status}; raw holds every one of the {len(ids)} recipients, "
                    "each load without a duplicate record; no load left 'running'")

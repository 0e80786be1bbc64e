"""Paginated pulls from the civil-affairs REST API: bearer token, retries, de-duplication.

The service throttles (429 + Retry-After), fails now and then (503, stalled connections) and lets
records change between pages, so one pull can see a record twice or miss one that moved. Each
request is retried with exponential backoff honouring Retry-After; the pull keeps the newest
version of each record and starts over (a bounded number of times) when the pages it got cannot
account for the total the server reported. Nothing reaches raw unless the whole pull finished.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlparse

import pandas as pd
import requests
from sqlalchemy.engine import Engine
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from community_dw.config import airflow_connection_uri
from community_dw.sources.attempts import claimed_load, close_abandoned
from community_dw.sources.delivery import parse_records
from community_dw.sources.landing import land_payload
from community_dw.sources.mapping import load_mapping
from community_dw.sources.sql_source import read_watermark
from community_dw.warehouse.audit import (
    LoadOutcome,
    advance_watermark,
    fail_load,
    finish_load,
    loaded_before,
    record_skip,
)
from community_dw.warehouse.connection import raw_connection
from community_dw.warehouse.copy import copy_frame

log = logging.getLogger(__name__)

OVERLAP = timedelta(hours=1)


@dataclass(frozen=True)
class ApiEndpoint:
    source: str
    path: str
    key: str
    mapping: str
    raw_table: str


FACILITIES = ApiEndpoint("civil_affairs.facilities", "/api/v1/facilities", "facility_id",
                         "civil_affairs_facilities", "raw.civil_affairs__facility")
SERVICE_RECIPIENTS = ApiEndpoint("civil_affairs.service_recipients", "/api/v1/service-recipients", "recipient_id",
                                 "civil_affairs_service_recipients", "raw.civil_affairs__service_recipient")
ENDPOINTS = {endpoint.source: endpoint for endpoint in (FACILITIES, SERVICE_RECIPIENTS)}


class ApiError(RuntimeError):
    """The API answered something a pull cannot use; carries the last answer for the error message."""

    def __init__(self, message: str, status: int | None = None, body: str | None = None,
                 retry_after: float | None = None):
        detail = f" (HTTP {status}: {body[:300]!r})" if status is not None else ""
        super().__init__(message + detail)
        self.status = status
        self.retry_after = retry_after


class TransientApiError(ApiError):
    """Throttling, 5xx, timeouts and dropped connections: worth another try."""


@dataclass(frozen=True)
class ApiSettings:
    base_url: str
    token: str
    page_size: int = 500
    timeout_s: float = 10.0
    max_attempts: int = 8
    max_wait_s: float = 30.0
    max_pull_restarts: int = 3


def api_settings() -> ApiSettings:
    """From CDW_CIVIL_AFFAIRS_URL/CDW_CIVIL_AFFAIRS_TOKEN, else the Airflow connection civil_affairs_api
    (host as the base URL, password as the token)."""
    base, token = os.environ.get("CDW_CIVIL_AFFAIRS_URL"), os.environ.get("CDW_CIVIL_AFFAIRS_TOKEN")
    if not (base and token) and (uri := airflow_connection_uri("civil_affairs_api")):
        parsed = urlparse(uri)
        scheme = "https" if parsed.scheme in ("https", "http+s") else "http"
        base = base or f"{scheme}://{parsed.hostname}{':' + str(parsed.port) if parsed.port else ''}"
        from urllib.parse import unquote

        token = token or unquote(parsed.password or "")
    if not (base and token):
        raise RuntimeError("no civil-affairs API: set CDW_CIVIL_AFFAIRS_URL and CDW_CIVIL_AFFAIRS_TOKEN "
                           "or the civil_affairs_api connection")
    return ApiSettings(base.rstrip("/"), token)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    backoff = wait_exponential_jitter(initial=0.2, max=10)(state)
    if isinstance(error, ApiError) and error.retry_after is not None:
        return max(error.retry_after, backoff if error.retry_after == 0 else 0)
    return backoff


def fetch_page(session: requests.Session, settings: ApiSettings, endpoint: ApiEndpoint, since: datetime | None,
               page: int) -> dict:
    """One page, retried on transient failures; a permanent one (401, HTML, bad envelope) fails at once."""

    @retry(retry=retry_if_exception(lambda e: isinstance(e, TransientApiError)), wait=_wait,
           stop=stop_after_attempt(settings.max_attempts) | stop_after_delay(120), reraise=True)
    def attempt() -> dict:
        params = {"page": page, "page_size": settings.page_size}
        if since is not None:
            params["updated_since"] = since.isoformat()
        try:
            answer = session.get(settings.base_url + endpoint.path, params=params, timeout=settings.timeout_s,
                                 headers={"Authorization": f"Bearer {settings.token}", "Accept": "application/json"})
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientApiError(f"{endpoint.path} page {page}: {type(error).__name__}: {error}") from error
        if answer.status_code == 429 or answer.status_code >= 500:
            retry_after = answer.headers.get("Retry-After")
            raise TransientApiError(f"{endpoint.path} page {page}: server busy", answer.status_code,
                                    answer.text, float(retry_after) if retry_after else None)
        if answer.status_code != 200:
            raise ApiError(f"{endpoint.path} page {page}: refused", answer.status_code, answer.text)
        try:
            body = answer.json()
        except ValueError as error:
            raise ApiError(f"{endpoint.path} page {page}: the answer is not JSON "
                           f"(Content-Type {answer.headers.get('Content-Type')})", answer.status_code,
                           answer.text) from error
        if not isinstance(body, dict) or not isinstance(body.get("data"), list) or "total" not in body:
            raise ApiError(f"{endpoint.path} page {page}: the answer lacks the data/total envelope",
                           answer.status_code, answer.text)
        return body

    return attempt()


def pull_all_pages(settings: ApiSettings, endpoint: ApiEndpoint, since: datetime | None) -> list[dict]:
    """Every record changed since `since`, newest version of each, or ApiError."""
    with requests.Session() as session:
        for restart in range(settings.max_pull_restarts + 1):
            records: dict[str, dict] = {}
            page, totals = 1, []
            while page is not None:
                body = fetch_page(session, settings, endpoint, since, page)
                totals.append(int(body["total"]))
                for number, record in enumerate(body["data"], start=1):
                    if not isinstance(record, dict) or record.get(endpoint.key) in (None, ""):
                        # Without its key a record cannot be de-duplicated or merged: refuse the page.
                        raise ApiError(f"{endpoint.path} page {page}: record {number} has no {endpoint.key}")
                    key = str(record.get(endpoint.key))
                    held = records.get(key)
                    if held is None or str(record.get("updated_at", "")) >= str(held.get("updated_at", "")):
                        records[key] = record
                page = body.get("next_page")
            if len(records) >= totals[-1]:
                return list(records.values())
            log.warning("%s: %s distinct records for a total of %s (totals seen %s); pulling again (%s)",
                        endpoint.path, len(records), totals[-1], sorted(set(totals)), restart + 1)
            time.sleep(min(2**restart, 5))
    raise ApiError(f"{endpoint.path}: records moved between pages on every try; {len(records)} distinct "
                   f"records for a reported total of {totals[-1]} (totals seen {sorted(set(totals))})")


def pull_endpoint(engine: Engine, endpoint: ApiEndpoint, settings: ApiSettings | None = None,
                  logical_date: date | None = None) -> LoadOutcome:
    """Pull changes since (watermark - overlap) into raw; watermark and rows commit together."""
    settings = settings or api_settings()
    close_abandoned(engine, endpoint.source)
    watermark = read_watermark(engine, endpoint.source)
    since = watermark - OVERLAP if watermark is not None else None
    delivery = f"{endpoint.path} since {since.isoformat() if since else 'the beginning'}"
    records = pull_all_pages(settings, endpoint, since)
    records.sort(key=lambda record: str(record.get(endpoint.key)))
    payload = json.dumps(records, ensure_ascii=False, sort_keys=True).encode()
    landed = land_payload(engine, endpoint.source, delivery, payload, ".json")
    if (earlier := loaded_before(engine, endpoint.source, landed.content_hash)) is not None:
        load_id = record_skip(engine, endpoint.source, delivery, landed.content_hash, logical_date,
                              f"no change since load {earlier}")
        return LoadOutcome(endpoint.source, delivery, "skipped_duplicate", load_id)
    # Claimed while it runs, so a later pull can tell it from one a killed process left (sources/attempts.py).
    with claimed_load(engine, endpoint.source, delivery, landed.content_hash, logical_date) as load_id:
        try:
            # The same mapping machinery as files: unknown fields kept in `extra` and reported as drift.
            parsed = parse_records(records, load_mapping(endpoint.mapping), delivery)
            frame = parsed.frame.assign(load_id=load_id)
            with raw_connection(engine) as conn:
                loaded = copy_frame(conn, endpoint.raw_table, frame, ["load_id", "source_row", *parsed.columns, "extra"])
                marks = pd.to_datetime(frame["updated_at"], utc=True, errors="coerce").dropna()
                advance_watermark(conn, endpoint.source, watermark, marks.max() if len(marks) else None, load_id)
                finish_load(conn, load_id, rows_read=len(records), rows_loaded=loaded,
                            drift=parsed.drift if any(parsed.drift.values()) else None)
        except Exception as error:
            fail_load(engine, load_id, f"{delivery}: {type(error).__name__}: {error}", len(records))
            raise
    return LoadOutcome(endpoint.source, delivery, "succeeded", load_id, len(records), loaded)

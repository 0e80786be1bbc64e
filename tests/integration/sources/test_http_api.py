"""Civil-affairs API pulls against real HTTP servers on loopback: the simulator's, and hostile ones."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from community_dw.simulate.api_server import running_api
from community_dw.simulate.city import generate_city
from community_dw.simulate.config import SimConfig
from community_dw.sources.http_api import (
    FACILITIES,
    SERVICE_RECIPIENTS,
    ApiError,
    ApiSettings,
    pull_endpoint,
    read_watermark,
)

TOKEN = "loopback-token"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(out, SimConfig(residents=4000, days=2, seed=7))
    return out


def _settings(url: str, **overrides) -> ApiSettings:
    return ApiSettings(url, TOKEN, **{"page_size": 40, "timeout_s": 2.0, **overrides})


def _expected_ids(city: Path, name: str, key: str) -> set[str]:
    folder = city / "_api" / "civil_affairs"
    versions = json.loads(next(folder.glob(f"{name}*.json")).read_text(encoding="utf-8"))
    return {str(version[key]) for version in versions}


def _raw_ids(engine: sa.Engine, table: str, key: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f"select {key} from {table}")).scalars())


def test_pull_survives_throttling_errors_and_moving_records(city: Path, fresh_warehouse: sa.Engine) -> None:
    with running_api(city, TOKEN, throttle_rate=0.15, error_rate=0.1, change_rate=0.5, retry_after=0, seed=3) as api:
        outcome = pull_endpoint(fresh_warehouse, SERVICE_RECIPIENTS, _settings(api.url))
        assert api.state.requests > outcome.rows_read / 40  # more requests than pages: faults were retried
    ids = _raw_ids(fresh_warehouse, "raw.civil_affairs__service_recipient", "recipient_id")
    assert outcome.status == "succeeded" and len(ids) == len(set(ids))  # a record seen twice is kept once
    assert set(ids) == _expected_ids(city, "service", "recipient_id")
    assert read_watermark(fresh_warehouse, SERVICE_RECIPIENTS.source) is not None


def test_a_wrong_token_fails_at_once_with_the_server_answer(city: Path, fresh_warehouse: sa.Engine) -> None:
    with running_api(city, TOKEN) as api:
        started = time.perf_counter()
        with pytest.raises(ApiError, match="HTTP 401") as error:
            pull_endpoint(fresh_warehouse, FACILITIES, ApiSettings(api.url, "wrong-token"))
        assert time.perf_counter() - started < 1.5  # not retried: a refused token will not get better
    assert "invalid bearer token" in str(error.value)
    assert _raw_ids(fresh_warehouse, "raw.civil_affairs__facility", "facility_id") == []


@contextmanager
def _hostile_server(answer) -> Iterator[str]:
    """A loopback server whose GET answers come from `answer(handler, page)`."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802
            page = int(self.path.split("page=")[1].split("&")[0]) if "page=" in self.path else 1
            status, content_type, body = answer(page)
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_html_error_page_is_a_clear_error(fresh_warehouse: sa.Engine) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"
    with _hostile_server(lambda page: (200, "text/html", html)) as url, \
            pytest.raises(ApiError, match="not JSON.*text/html.*502 Bad Gateway"):
        pull_endpoint(fresh_warehouse, FACILITIES, _settings(url))
    with fresh_warehouse.connect() as conn:
        assert conn.execute(sa.text("select count(*) from audit.load_run")).scalar_one() == 0


def test_a_total_that_keeps_changing_fails_cleanly_after_restarts(fresh_warehouse: sa.Engine) -> None:
    calls = {"n": 0}

    def answer(page: int):
        calls["n"] += 1
        record = {"facility_id": f"MZ-{page}", "name": "站", "category": "便民服务", "updated_at": "2026-11-01T08:00:00+08:00"}
        # every page claims more records than ever arrive, as a server whose rows keep moving
        body = {"data": [record], "page": page, "page_size": 1, "total": 3 + calls["n"],
                "next_page": page + 1 if page < 2 else None}
        return 200, "application/json", json.dumps(body)

    with _hostile_server(answer) as url, pytest.raises(ApiError, match="records moved between pages"):
        pull_endpoint(fresh_warehouse, FACILITIES, _settings(url, max_pull_restarts=1))
    assert _raw_ids(fresh_warehouse, "raw.civil_affairs__facility", "facility_id") == []

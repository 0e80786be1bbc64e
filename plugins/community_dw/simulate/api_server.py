"""The civil affairs REST API (SOURCES.md section 3) as a real HTTP server, faults included.

- `GET /api/v1/facilities` and `GET /api/v1/service-recipients` with `updated_since` (ISO-8601,
  inclusive; naive times are Asia/Shanghai), `page` (1-based, default 1) and `page_size` (default
  100, at most 1000); answers `{"data", "page", "page_size", "total", "next_page"}`, records ordered
  by (`updated_at`, id) — offset paging over a changing set, as the real service does.
- `Authorization: Bearer <token>` or 401. Bad parameters get 400, unknown paths 404.
- Faults, drawn per request from a seeded RNG (reproducible for a given request order):
  `stall_rate` (the connection hangs `stall_seconds`, then closes without an answer),
  `throttle_rate` (429 with `Retry-After`), `error_rate` (503).
- `change_rate`: after a page is served, with this probability a few records are re-saved (their
  `updated_at` moves to the server's "now"), so they move to the end of the order: a pull that pages
  on sees them twice, and the records behind them shift back one place.

`running_api(data_dir, token, ...)` runs it in a background thread on a free port for tests.
"""

from __future__ import annotations

import bisect
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from community_dw.simulate.civil_affairs import API_DIR, FACILITIES_FILE, META_FILE, RECIPIENTS_FILE

CST = timezone(timedelta(hours=8))
RESOURCES = {"/api/v1/facilities": ("facilities", FACILITIES_FILE, "facility_id"),
             "/api/v1/service-recipients": ("service-recipients", RECIPIENTS_FILE, "recipient_id")}
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+", 1) if "T" in text else text)
    return value if value.tzinfo else value.replace(tzinfo=CST)


def _iso(dt: datetime) -> str:
    return dt.astimezone(CST).isoformat(timespec="seconds")


@dataclass
class ApiSettings:
    token: str
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    stall_rate: float = 0.0
    change_rate: float = 0.0
    stall_seconds: float = 30.0
    retry_after: int = 1
    seed: int = 0


class _Resource:
    """One endpoint's records as of a time, kept ordered by (updated_at, id) for offset paging."""

    def __init__(self, versions: list[dict], key: str, as_of: datetime) -> None:
        latest: dict[str, dict] = {}
        for v in versions:
            when = parse_time(v["updated_at"])
            if when <= as_of:
                prev = latest.get(v[key])
                if prev is None or parse_time(prev["updated_at"]) <= when:
                    latest[v[key]] = dict(v)
        self.key = key
        self.rows = sorted(latest.values(), key=lambda r: (parse_time(r["updated_at"]), r[key]))
        self.times = [parse_time(r["updated_at"]) for r in self.rows]

    def page(self, since: datetime | None, page: int, size: int) -> tuple[list[dict], int]:
        start = bisect.bisect_left(self.times, since) if since else 0
        total = len(self.rows) - start
        lo = start + (page - 1) * size
        return [dict(r) for r in self.rows[lo:lo + size]], total

    def touch(self, rng: random.Random, now: datetime, count: int) -> None:
        """Re-save `count` random records: same content, `updated_at` = now, so they move to the end."""
        for _ in range(min(count, len(self.rows))):
            i = rng.randrange(len(self.rows))
            row = self.rows.pop(i)
            self.times.pop(i)
            row["updated_at"] = _iso(now)
            self.rows.append(row)
            self.times.append(now)


@dataclass
class ApiState:
    """What the server serves and how it misbehaves; shared by handler threads under a lock."""

    data_dir: Path
    settings: ApiSettings
    as_of: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    requests: int = 0

    def __post_init__(self) -> None:
        folder = Path(self.data_dir) / API_DIR if (Path(self.data_dir) / API_DIR).exists() else Path(self.data_dir)
        self.folder = folder
        self._versions = {path: json.loads((folder / fname).read_text(encoding="utf-8"))
                          for path, (_, fname, _) in RESOURCES.items()}
        meta_path = folder / META_FILE
        self.default_as_of = parse_time(json.loads(meta_path.read_text(encoding="utf-8"))["as_of"]) \
            if meta_path.exists() else datetime.now(CST)
        self.rng = random.Random(self.settings.seed)
        self.set_as_of(self.as_of)

    def set_as_of(self, as_of: datetime | str | None) -> None:
        """Serve the data as the department held it at `as_of` (default: end of the last simulated day)."""
        if isinstance(as_of, str):
            as_of = parse_time(as_of)
        with self.lock:
            self.as_of = as_of or self.default_as_of
            self.clock = self.as_of
            self.resources = {path: _Resource(self._versions[path], RESOURCES[path][2], self.as_of)
                              for path in RESOURCES}

    def fault(self) -> str | None:
        s = self.settings
        with self.lock:
            self.requests += 1
            r = self.rng.random()
        if r < s.stall_rate:
            return "stall"
        if r < s.stall_rate + s.throttle_rate:
            return "throttle"
        if r < s.stall_rate + s.throttle_rate + s.error_rate:
            return "error"
        return None

    def serve(self, path: str, since: datetime | None, page: int, size: int) -> dict:
        with self.lock:
            resource = self.resources[path]
            data, total = resource.page(since, page, size)
            if self.settings.change_rate and self.rng.random() < self.settings.change_rate:
                self.clock += timedelta(seconds=1)
                resource.touch(self.rng, self.clock, self.rng.randint(1, 3))
        next_page = page + 1 if page * size < total else None
        return {"data": data, "page": page, "page_size": size, "total": total, "next_page": next_page}


def _handler(state: ApiState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "CivilAffairsAPI/1.0"

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet: tests make many requests
            return

        def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            if url.path not in RESOURCES:
                self._json(404, {"error": "not_found", "message": f"no such resource: {url.path}"})
                return
            if self.headers.get("Authorization", "") != f"Bearer {state.settings.token}":
                self._json(401, {"error": "unauthorized", "message": "missing or invalid bearer token"},
                           {"WWW-Authenticate": 'Bearer realm="civil_affairs"'})
                return
            fault = state.fault()
            if fault == "stall":
                deadline = time.monotonic() + state.settings.stall_seconds
                while time.monotonic() < deadline and not state.stop.is_set():
                    time.sleep(0.05)
                self.close_connection = True
                return
            if fault == "throttle":
                self._json(429, {"error": "too_many_requests", "message": "rate limit exceeded"},
                           {"Retry-After": str(state.settings.retry_after)})
                return
            if fault == "error":
                self._json(503, {"error": "service_unavailable", "message": "upstream temporarily unavailable"})
                return
            query = parse_qs(url.query)
            try:
                since = parse_time(query["updated_since"][0]) if query.get("updated_since") else None
                page = int(query.get("page", ["1"])[0])
                size = int(query.get("page_size", [str(DEFAULT_PAGE_SIZE)])[0])
                if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
                    raise ValueError("page must be >= 1 and page_size 1..1000")
            except (ValueError, KeyError) as exc:
                self._json(400, {"error": "bad_request", "message": str(exc)})
                return
            self._json(200, state.serve(url.path, since, page, size))

    return Handler


@dataclass
class RunningApi:
    """A started server: `url` to call, `state` to steer (set_as_of), `stop()` to end it."""

    url: str
    state: ApiState
    server: ThreadingHTTPServer
    thread: threading.Thread

    def stop(self) -> None:
        self.state.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_api(data_dir: Path | str, token: str, host: str = "127.0.0.1", port: int = 0, *,
              throttle_rate: float = 0.0, error_rate: float = 0.0, stall_rate: float = 0.0,
              change_rate: float = 0.0, stall_seconds: float = 30.0, retry_after: int = 1, seed: int = 0,
              as_of: datetime | str | None = None) -> RunningApi:
    """Start the API in a daemon thread (port 0: any free port) and return its handle."""
    settings = ApiSettings(token, throttle_rate, error_rate, stall_rate, change_rate, stall_seconds, retry_after, seed)
    state = ApiState(Path(data_dir), settings, as_of if not isinstance(as_of, str) else parse_time(as_of))
    server = ThreadingHTTPServer((host, port), _handler(state))
    server.daemon_threads = True
    server.block_on_close = False  # stalled handlers must not hold up stop()
    thread = threading.Thread(target=server.serve_forever, name="civil-affairs-api", daemon=True)
    thread.start()
    h, p = server.server_address[:2]
    return RunningApi(f"http://{h}:{p}", state, server, thread)


@contextmanager
def running_api(data_dir: Path | str, token: str = "test-token", **options) -> Iterator[RunningApi]:
    """`with running_api(city_dir, "tok", throttle_rate=0.1) as api: requests.get(api.url + ...)`."""
    api = start_api(data_dir, token, **options)
    try:
        yield api
    finally:
        api.stop()


def serve_forever(data_dir: Path | str, token: str, host: str, port: int, **options) -> None:
    """Blocking server for `cdw simulate serve-api`."""
    api = start_api(data_dir, token, host, port, **options)
    print(f"civil affairs API on {api.url} (as of {_iso(api.state.as_of)}); Ctrl-C to stop", flush=True)
    try:
        while api.thread.is_alive():
            api.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()

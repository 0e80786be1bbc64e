"""A corpus of malformed deliveries, generated from a simulated city's good ones, for all four departments.

Each `Malformed` plants one bad delivery into a copy of the city: a file in a drop folder (public
security, grid), a change to the health replica (SQL), or a hostile civil-affairs API. `expect`
lists fragments the error must contain (the delivery's name, and the row or column where there is
one); `accepted` marks deliveries the platform is meant to take (with a flag) rather than refuse.
"""

from __future__ import annotations

import io
import json
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa

PS_DELTA = "residents_delta_20261102.csv"
PS_DELTA_XLSX = "residents_delta_20261102.xlsx"
GRIDS = "grids_20261101.geojson"
BUILDINGS = "buildings_20261101.xlsx"
FACILITIES_PATH = "/api/v1/facilities"


@dataclass
class Plant:
    """Where a case plants its fault: the landing copy, the city it came from, a private health replica."""

    landing: Path
    city_root: Path
    health_url: str | None = None
    api_answer: Callable[[int], tuple[int, str, str]] | None = None  # page -> (status, content type, body)


@dataclass(frozen=True)
class Malformed:
    case_id: str
    department: str  # public_security | grid | health | civil_affairs
    what: str  # what was delivered, for the report
    delivery: str  # the name the error must carry
    plant: Callable[[Plant], None]
    expect: tuple[str, ...] = ()  # more fragments the error must contain
    transport: str = "file"  # file | sql | api
    accepted: bool = False  # the platform takes it (with a flag) instead of refusing it


# -- files ------------------------------------------------------------------------------------------


def _drop(folder: str, name: str, data: bytes, replaces: str | None = None) -> Callable[[Plant], None]:
    def plant(p: Plant) -> None:
        if replaces:
            (p.landing / folder / replaces).unlink(missing_ok=True)
        (p.landing / folder / name).write_bytes(data)

    return plant


def _ps_delta(p: Plant) -> bytes:
    return (p.city_root / "public_security" / PS_DELTA).read_bytes()


def _ps(name: str, make: Callable[[Plant], bytes], replaces: str | None = PS_DELTA) -> Callable[[Plant], None]:
    def plant(p: Plant) -> None:
        _drop("public_security", name, make(p), replaces)(p)

    return plant


def _decoded_delta(p: Plant) -> tuple[str, str]:
    """(text, newline) of the day-2 delta, whatever encoding the simulator gave it."""
    data = _ps_delta(p)
    text = data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else data.decode("gb18030")
    return text, "\r\n" if "\r\n" in text else "\n"


def _header_only(p: Plant) -> bytes:
    text, newline = _decoded_delta(p)
    return (text.split(newline)[0] + newline).encode("utf-8")


def _truncated(p: Plant) -> bytes:
    data = _ps_delta(p).rstrip(b"\r\n")
    return data[: data.rfind(b",", 0, len(data) - 20)]  # the last row cut after a comma, mid-record


def _extra_field(p: Plant) -> bytes:
    text, newline = _decoded_delta(p)
    lines = text.rstrip(newline).split(newline)
    lines[2] = lines[2] + ",多出来的字段"
    return newline.join(lines).encode("utf-8")


def _encoded(encoding: str) -> Callable[[Plant], bytes]:
    def make(p: Plant) -> bytes:
        return _decoded_delta(p)[0].encode(encoding, errors="replace")

    return make


def _garbage(p: Plant) -> bytes:
    return random.Random(7).randbytes(4096)


def _xlsx_truncated(p: Plant) -> bytes:
    data = (p.city_root / "public_security" / "residents_delta_20261103.xlsx").read_bytes()
    return data[: len(data) // 2]


def _ole2(p: Plant) -> bytes:
    # An encrypted workbook is an OLE2 compound file (Excel's "protect with password" writes one).
    return bytes.fromhex("d0cf11e0a1b11ae1") + random.Random(3).randbytes(4088)


def _geojson(p: Plant) -> dict:
    return json.loads((p.city_root / "grid" / GRIDS).read_text(encoding="utf-8"))


def _grid(make: Callable[[Plant], bytes], name: str = GRIDS) -> Callable[[Plant], None]:
    def plant(p: Plant) -> None:
        _drop("grid", name, make(p))(p)

    return plant


def _not_a_collection(p: Plant) -> bytes:
    return json.dumps(_geojson(p)["features"][0], ensure_ascii=False).encode()


def _non_numeric(p: Plant) -> bytes:
    document = _geojson(p)
    geometry = document["features"][0]["geometry"]
    ring = geometry["coordinates"][0] if geometry["type"] == "Polygon" else geometry["coordinates"][0][0]
    ring[1] = ["113.39E", "22.52N"]
    return json.dumps(document, ensure_ascii=False).encode()


def _unclosed(p: Plant) -> bytes:
    document = _geojson(p)
    geometry = document["features"][0]["geometry"]
    ring = geometry["coordinates"][0] if geometry["type"] == "Polygon" else geometry["coordinates"][0][0]
    ring.pop()  # drop the closing position
    return json.dumps(document, ensure_ascii=False).encode()


def _json_cut(p: Plant) -> bytes:
    data = (p.city_root / "grid" / GRIDS).read_bytes()
    return data[: len(data) * 2 // 3]


def _buildings_without_code(p: Plant) -> bytes:
    import openpyxl

    workbook = openpyxl.load_workbook(p.city_root / "grid" / BUILDINGS)
    sheet = workbook.active
    for merged in list(sheet.merged_cells.ranges):
        sheet.unmerge_cells(str(merged))
    sheet.delete_cols(1)  # 楼栋编码
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _zip_garbage(p: Plant) -> bytes:
    return b"PK\x03\x04" + random.Random(5).randbytes(2048)


# -- the health replica (SQL) -----------------------------------------------------------------------


def _sql(*statements: str) -> Callable[[Plant], None]:
    def plant(p: Plant) -> None:
        assert p.health_url, "a SQL case needs a private health replica"
        engine = sa.create_engine(p.health_url)
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
        engine.dispose()

    return plant


# -- the civil-affairs API --------------------------------------------------------------------------


def _api(answer: Callable[[int], tuple[int, str, str]]) -> Callable[[Plant], None]:
    def plant(p: Plant) -> None:
        p.api_answer = answer

    return plant


def _envelope(page: int, total: int, records: list[dict], last: int = 2) -> str:
    return json.dumps({"data": records, "page": page, "page_size": len(records), "total": total,
                       "next_page": page + 1 if page < last else None}, ensure_ascii=False)


def _facility(page: int) -> dict:
    return {"facility_id": f"MZ-442000-{page:06d}", "name": "便民服务站", "category": "便民服务",
            "updated_at": "2026-11-01T08:00:00+08:00"}


def _moving_total() -> Callable[[int], tuple[int, str, str]]:
    calls = {"n": 0}

    def answer(page: int) -> tuple[int, str, str]:
        calls["n"] += 1  # every page claims more records than ever arrive
        return 200, "application/json", _envelope(page, 3 + calls["n"], [_facility(page)])

    return answer


def _without_key(page: int) -> tuple[int, str, str]:
    record = _facility(page)
    del record["facility_id"]
    return 200, "application/json", _envelope(page, 2, [record])


def _undated_copy(p: Plant) -> bytes:
    data = (p.city_root / "public_security" / "residents_full_20261101.csv").read_bytes()
    return data[: data.rfind(b"\r\n", 0, len(data) - 2) + 2]  # a corrected re-export: one row fewer


UNDATED = "residents_full_20261101_v2.csv"
CORPUS: list[Malformed] = [
    # public security: CSV and XLSX in the drop folder
    Malformed("ps-empty-file", "public_security", "a 0-byte delta", PS_DELTA,
              _ps(PS_DELTA, lambda p: b""), ("empty",)),
    Malformed("ps-header-only", "public_security", "a delta with its header and no rows", PS_DELTA,
              _ps(PS_DELTA, _header_only), accepted=True),
    Malformed("ps-truncated", "public_security", "a delta cut off in the middle of its last row", PS_DELTA,
              _ps(PS_DELTA, _truncated), ("row",)),
    Malformed("ps-extra-field", "public_security", "a delta whose third line has one field more than the header",
              PS_DELTA, _ps(PS_DELTA, _extra_field), ("row 3", "fields")),
    Malformed("ps-utf16", "public_security", "a delta saved as UTF-16 (with BOM)", PS_DELTA,
              _ps(PS_DELTA, _encoded("utf-16")), ("decoded",)),
    Malformed("ps-big5", "public_security", "a delta saved as Big5 (traditional-Chinese Windows)", PS_DELTA,
              _ps(PS_DELTA, _encoded("big5")), ("required column",)),
    Malformed("ps-binary-garbage", "public_security", "4 KB of random bytes named as a delta", PS_DELTA,
              _ps(PS_DELTA, _garbage), ("decoded",)),
    Malformed("ps-xlsx-truncated", "public_security", "an XLSX delta cut to half its bytes", PS_DELTA_XLSX,
              _ps(PS_DELTA_XLSX, _xlsx_truncated), ("corrupt workbook",)),
    Malformed("ps-xlsx-password", "public_security", "a password-protected XLSX delta (OLE2 container)",
              PS_DELTA_XLSX, _ps(PS_DELTA_XLSX, _ole2), ("password-protected",)),
    Malformed("ps-xlsx-not-zip", "public_security", "an XLSX delta that is really a CSV", PS_DELTA_XLSX,
              _ps(PS_DELTA_XLSX, _ps_delta), ("not a zip archive",)),
    Malformed("ps-undated-name", "public_security", "a corrected snapshot named residents_full_20261101_v2.csv",
              UNDATED, _ps(UNDATED, _undated_copy, replaces=None), ("no delivery date",)),
    # grid: GeoJSON polygons and the buildings workbook
    Malformed("grid-geojson-not-collection", "grid", "a single Feature instead of a FeatureCollection", GRIDS,
              _grid(_not_a_collection), ("FeatureCollection",)),
    Malformed("grid-geojson-non-numeric", "grid", "'113.39E' text as a coordinate in the first feature", GRIDS,
              _grid(_non_numeric), ("row 1", "column geometry")),
    Malformed("grid-geojson-unclosed-ring", "grid", "a polygon ring left unclosed (SOURCES.md allows it)", GRIDS,
              _grid(_unclosed), accepted=True),
    Malformed("grid-geojson-truncated", "grid", "GeoJSON cut off at two thirds", GRIDS, _grid(_json_cut),
              ("invalid JSON", "line")),
    Malformed("grid-geojson-empty", "grid", "a 0-byte GeoJSON", GRIDS, _grid(lambda p: b""), ("empty",)),
    Malformed("grid-geojson-html", "grid", "an HTML error page saved as the GeoJSON", GRIDS,
              _grid(lambda p: b"<html><body><h1>502 Bad Gateway</h1></body></html>"), ("invalid JSON",)),
    Malformed("grid-buildings-no-code-column", "grid", "the buildings workbook without its 楼栋编码 column",
              BUILDINGS, _grid(_buildings_without_code, BUILDINGS), ("楼栋编码",)),
    Malformed("grid-buildings-corrupt", "grid", "a buildings workbook of random bytes behind a zip signature",
              BUILDINGS, _grid(_zip_garbage, BUILDINGS), ("corrupt workbook",)),
    # health: the immunization replica
    Malformed("health-missing-column", "health", "the replica's vaccination_record lost its batch_no column",
              "vaccination_record", _sql("alter table vaccination_record drop column batch_no"), ("batch_no",),
              transport="sql"),
    Malformed("health-missing-table", "health", "vaccination_record renamed at the source", "vaccination_record",
              _sql("alter table vaccination_record rename to vaccination_record_old"), ("does not exist",),
              transport="sql"),
    Malformed("health-watermark-not-a-time", "health", "updated_at turned to text, one value '未知'",
              "vaccination_record", _sql(
                  "alter table vaccination_record alter column updated_at type text",
                  "update vaccination_record set updated_at = '未知' where record_id = "
                  "(select max(record_id) from vaccination_record)"), ("row ", "updated_at", "未知"), transport="sql"),
    # civil affairs: the REST API
    Malformed("api-html-page", "civil_affairs", "200 with an HTML error page", FACILITIES_PATH,
              _api(lambda page: (200, "text/html", "<html><h1>502 Bad Gateway</h1>nginx</html>")),
              ("not JSON", "text/html"), transport="api"),
    Malformed("api-401", "civil_affairs", "401: the token was revoked", FACILITIES_PATH,
              _api(lambda page: (401, "application/json", '{"error": "unauthorized"}')), ("HTTP 401",),
              transport="api"),
    Malformed("api-invalid-json", "civil_affairs", "JSON cut off mid-answer", FACILITIES_PATH,
              _api(lambda page: (200, "application/json", '{"data": [{"facility_id": "MZ-1"')), ("not JSON",),
              transport="api"),
    Malformed("api-no-envelope", "civil_affairs", "a bare list instead of the data/total envelope", FACILITIES_PATH,
              _api(lambda page: (200, "application/json", "[]")), ("envelope",), transport="api"),
    Malformed("api-total-changing", "civil_affairs", "a total that grows on every page", FACILITIES_PATH,
              _api(_moving_total()), ("records moved between pages",), transport="api"),
    Malformed("api-500-forever", "civil_affairs", "500 on every request", FACILITIES_PATH,
              _api(lambda page: (500, "text/plain", "Internal Server Error")), ("HTTP 500",), transport="api"),
    Malformed("api-record-without-key", "civil_affairs", "records without facility_id", FACILITIES_PATH,
              _api(_without_key), ("facility_id",), transport="api"),
]


@contextmanager
def hostile_api(answer: Callable[[int], tuple[int, str, str]]) -> Iterator[str]:
    """A loopback server answering every GET with `answer(page)`; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
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
        thread.join(timeout=5)

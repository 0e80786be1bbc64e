"""Running load attempts: one whose process is gone is closed as failed, a live one is left alone."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from community_dw.sources.attempts import claimed_load, close_abandoned
from community_dw.sources.file_ingest import ingest_source_files
from community_dw.warehouse.audit import start_load

SOURCE = "public_security.residents"
HEADER = "姓名,证件类型,公民身份号码,性别,民族,出生日期,联系电话,户号,与户主关系,户籍地址,现住址,楼栋编码,人口类型,居住证号,街道,社区"
ROW = "张三,居民身份证,11010519491231002X,女,汉族,1949-12-31,13812345678,H1,户主,,悦来路1号,B1,户籍人口,,石岐街道,悦来社区"


def _attempt(engine: sa.Engine, load_id: int) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text("select status, backend_pid, error from audit.load_run "
                                          "where load_id = :id"), {"id": load_id}).one())


def test_an_attempt_whose_session_is_gone_is_closed_as_failed(fresh_warehouse: sa.Engine) -> None:
    with ExitStack() as claim:
        load_id = claim.enter_context(claimed_load(fresh_warehouse, SOURCE, "residents_full_20261101.csv",
                                                   "abc", None))
        status, pid, _ = _attempt(fresh_warehouse, load_id)
        assert status == "running" and pid
        # What SIGKILL does to a loader: its sessions end without a word.
        with fresh_warehouse.connect() as conn:
            assert conn.execute(sa.text("select pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar()
        [closed] = close_abandoned(fresh_warehouse, SOURCE)
    assert closed.load_id == load_id and closed.backend_pid == pid
    status, _, error = _attempt(fresh_warehouse, load_id)
    assert status == "failed"
    assert error.startswith("residents_full_20261101.csv: the loading process ended before finishing")
    assert "nothing of this attempt was kept" in error
    assert close_abandoned(fresh_warehouse, SOURCE) == []  # closed once


def test_unclaimed_and_other_sources_attempts_are_left_alone(fresh_warehouse: sa.Engine) -> None:
    # Loaders that do not claim their runs (no backend_pid) cannot be told dead: never guessed at.
    unclaimed = start_load(fresh_warehouse, SOURCE, "residents_full_20261101.csv", "abc", None)
    with ExitStack() as claim:
        other = claim.enter_context(claimed_load(fresh_warehouse, "grid.grids", "grids_20261101.geojson",
                                                 "def", None))
        pid = _attempt(fresh_warehouse, other)[1]
        with fresh_warehouse.connect() as conn:
            conn.execute(sa.text("select pg_terminate_backend(:pid, 10000)"), {"pid": pid})
        assert close_abandoned(fresh_warehouse, SOURCE) == []
    assert _attempt(fresh_warehouse, unclaimed)[0] == "running"
    assert _attempt(fresh_warehouse, other)[0] == "running"


def test_a_live_load_is_not_touched_by_a_concurrent_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           fresh_warehouse: sa.Engine) -> None:
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path))
    (tmp_path / "public_security").mkdir()
    (tmp_path / "public_security" / "residents_full_20261101.csv").write_bytes(
        f"{HEADER}\r\n{ROW}\r\n".encode("gb18030"))
    outcomes: list = []
    blocker = fresh_warehouse.connect()
    try:
        # Hold the raw table so the ingest stops inside its COPY, alive, with its attempt running.
        blocker.execute(sa.text("lock table raw.public_security__resident in access exclusive mode"))
        loader = threading.Thread(target=lambda: outcomes.extend(ingest_source_files(fresh_warehouse, SOURCE)))
        loader.start()
        deadline = time.monotonic() + 60
        while not _running(fresh_warehouse):
            assert time.monotonic() < deadline and loader.is_alive(), "the ingest never started its load"
            time.sleep(0.05)
        [load_id] = _running(fresh_warehouse)
        # What the next ingest of the source does first, while this one is still loading.
        assert close_abandoned(fresh_warehouse, SOURCE) == []
        assert _attempt(fresh_warehouse, load_id)[0] == "running"
    finally:
        blocker.rollback()
        blocker.close()
    loader.join(timeout=60)
    assert [(o.load_id, o.status, o.rows_loaded) for o in outcomes] == [(load_id, "succeeded", 1)]
    assert _attempt(fresh_warehouse, load_id)[0] == "succeeded"


def _running(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("select load_id from audit.load_run where status = 'running'")).scalars())

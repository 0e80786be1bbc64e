"""A load killed with SIGKILL in the middle of its COPY into raw: the retry closes the dead attempt and loads
the file exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from community_dw.sources.file_ingest import ingest_source_files
from tests.conftest import PROJECT_ROOT
from tests.faults.conftest import City, ReliabilityRow
from tests.faults.support import fetch, loads, raw_duplicates, scalar

TARGET_ROWS = 60_000
RAW = "raw.public_security__resident"
CHILD = "from community_dw.ingest import ingest_public_security; ingest_public_security()"


def _big_full_snapshot(city: City, drop: Path) -> tuple[Path, int]:
    """The city's full snapshot repeated to ~60,000 rows (GB18030, CRLF): a COPY that takes a while."""
    source = (city.root / "public_security" / "residents_full_20261101.csv").read_bytes()
    header, *body = [line for line in source.split(b"\r\n") if line]
    rows = body * (TARGET_ROWS // len(body))
    path = drop / "public_security" / "residents_full_20261101.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\r\n".join([header, *rows]) + b"\r\n")
    return path, len(rows)


def _copy_in_progress(engine: sa.Engine, database: str) -> tuple[int, int] | None:
    """(backend pid, tuples received so far) of a COPY FROM into the raw table, once rows are flowing."""
    row = fetch(engine, "select pid, tuples_processed from pg_stat_progress_copy where datname = :db "
                        "and command = 'COPY FROM' and relid = 'raw.public_security__resident'::regclass "
                        "and tuples_processed > 0", db=database)
    return (int(row[0][0]), int(row[0][1])) if row else None


@pytest.mark.scenario("SIGKILL mid-COPY")
def test_a_load_killed_mid_copy_is_retried_without_duplicates(
        city: City, tmp_path: Path, fresh_warehouse: sa.Engine, monkeypatch: pytest.MonkeyPatch,
        reliability: ReliabilityRow) -> None:
    drop = tmp_path / "landing"
    path, total = _big_full_snapshot(city, drop)
    monkeypatch.setenv("CDW_LANDING_DIR", str(drop))
    database = make_url(os.environ["CDW_WAREHOUSE_URL"]).database
    reliability.tried_(f"a {path.stat().st_size / 1e6:.0f} MB resident snapshot ({total:,} rows) ingested by a "
                       "separate process, killed with SIGKILL once pg_stat_progress_copy showed rows flowing "
                       "into raw; then the same ingest again")

    child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=PROJECT_ROOT, env=dict(os.environ),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed_at = None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and child.poll() is None:
            if (progress := _copy_in_progress(fresh_warehouse, database)) is not None:
                child.send_signal(signal.SIGKILL)
                killed_at = progress
                break
            time.sleep(0.005)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert killed_at is not None, ("the ingest ended before its COPY was seen: "
                                   + (child.stderr.read().decode(errors="replace")[-2000:] if child.stderr else ""))
    backend, received = killed_at
    reliability.saw(f"killed after the server had received {received:,} of {total:,} rows")

    # The server notices the client is gone: it rolls the COPY back and ends the session holding the
    # attempt's claim (its backend_pid).
    claimant = scalar(fresh_warehouse, "select backend_pid from audit.load_run")
    assert claimant is not None, "the load recorded no claiming session"
    deadline = time.monotonic() + 30
    while scalar(fresh_warehouse, "select count(*) from pg_stat_activity where pid in (:pid, :claimant)",
                 pid=backend, claimant=claimant):
        assert time.monotonic() < deadline, "the killed client's backends are still there after 30 s"
        time.sleep(0.1)
    attempts = loads(fresh_warehouse)
    assert [a["status"] for a in attempts] == ["running"]
    killed_load = attempts[0]["load_id"]
    assert scalar(fresh_warehouse, f"select count(*) from {RAW}") == 0
    assert path.exists(), "the killed load must leave its file in the drop folder"
    archived = list((drop / "_archive").rglob("*.csv"))
    assert len(archived) == 1 and archived[0].stat().st_size == path.stat().st_size
    claims = scalar(fresh_warehouse, "select count(*) from pg_locks where locktype = 'advisory' and objid = :id "
                                     "and objsubid = 2", id=killed_load)
    assert claims == 0
    reliability.saw("server rolled the COPY back (0 raw rows); the file stayed in the drop folder and its "
                    "archive copy was complete; until the next ingest audit.load_run shows the attempt as "
                    "'running', its claim (a session advisory lock on the load) already freed with the session")

    started = time.perf_counter()
    [outcome] = ingest_source_files(fresh_warehouse, "public_security.residents")
    retry_seconds = time.perf_counter() - started
    assert (outcome.status, outcome.rows_loaded) == ("succeeded", total)
    assert scalar(fresh_warehouse, f"select count(*) from {RAW}") == total
    assert scalar(fresh_warehouse, f"select count(distinct source_row) from {RAW}") == total
    assert raw_duplicates(fresh_warehouse, RAW) == 0
    assert not path.exists()
    [killed, retried] = loads(fresh_warehouse)
    assert (killed["load_id"], killed["status"], retried["status"]) == (killed_load, "failed", "succeeded")
    assert "the loading process ended before finishing" in killed["error"]
    assert "nothing of this attempt was kept" in killed["error"]
    reliability.saw(f"the retry first closed the dead attempt as failed (\"{killed['error'].split(': ', 1)[1][:80]}"
                    f"…\"), then loaded {total:,} rows once in {retry_seconds:.1f} s (no duplicate "
                    "(load_id, source_row), every source row present)")

    # Nothing is left behind: standardize reads the succeeded load only, a re-ingest finds nothing to do.
    from community_dw.pipeline import standardize

    staged = standardize(["public_security"])
    again = ingest_source_files(fresh_warehouse, "public_security.residents")
    statuses = fetch(fresh_warehouse, "select status, count(*) from audit.load_run group by status order by 1")
    assert staged["public_security.residents"] > 0 and again == []
    assert dict(statuses) == {"failed": 1, "succeeded": 1}
    reliability.saw(f"standardize staged {staged['public_security.residents']:,} rows from the succeeded load "
                    "only; no attempt is left 'running' (audit.load_run: 1 failed with the reason, 1 succeeded)")

"""Merging pulled versions into a keyed staging table: the newest version of each record stays."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from community_dw.stage.health import VACCINATIONS
from community_dw.stage.runner import StageResult, _merge
from community_dw.warehouse.connection import raw_connection


def _versions(rows: list[tuple[str, int, int, str, str]]) -> pd.DataFrame:
    """(record_id, load_id, source_row, updated_at, batch_no) as staged vaccination records."""
    frame = pd.DataFrame(rows, columns=["record_id", "load_id", "source_row", "updated_at", "batch_no"])
    frame["updated_at"] = pd.to_datetime(frame["updated_at"]).dt.tz_localize("Asia/Shanghai")
    return frame.assign(id_valid=False, vaccine_code="FLU", dose_number=1,
                        vaccinated_at=pd.Timestamp("2026-10-01", tz="Asia/Shanghai"))


def _merge_into(engine: sa.Engine, staged: pd.DataFrame, revoked: pd.DataFrame | None = None) -> None:
    with raw_connection(engine) as conn, conn.cursor() as cur:
        _merge(cur, VACCINATIONS, StageResult(staged, pd.DataFrame(), revoked), conn)


def _staged(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "select record_id, batch_no from staging.stg_health__vaccination_record")).all())


def test_first_pull_and_later_pulls_keep_the_newest_version(fresh_warehouse: sa.Engine) -> None:
    # The first pull (an empty table goes straight in): record 1 twice, the later version wins;
    # record 2 twice with the same updated_at, the later row of the pull wins.
    _merge_into(fresh_warehouse, _versions([
        ("1", 1, 1, "2026-11-01 09:00", "old"), ("1", 1, 2, "2026-11-01 10:00", "new"),
        ("2", 1, 3, "2026-11-01 09:00", "first"), ("2", 1, 4, "2026-11-01 09:00", "second"),
        ("3", 1, 5, "2026-11-01 09:00", "kept")]))
    assert _staged(fresh_warehouse) == {1: "new", 2: "second", 3: "kept"}
    # A later pull: a newer version replaces, an older one arriving late changes nothing, a new record
    # is added, and a revocation newer than the staged version removes it.
    _merge_into(fresh_warehouse, _versions([
        ("1", 2, 1, "2026-11-02 08:00", "newer"), ("2", 2, 2, "2026-10-30 08:00", "late"),
        ("4", 2, 3, "2026-11-02 08:00", "added")]),
        revoked=pd.DataFrame({"record_id": ["3"], "updated_at": [pd.Timestamp("2026-11-02", tz="Asia/Shanghai")]}))
    assert _staged(fresh_warehouse) == {1: "newer", 2: "second", 4: "added"}

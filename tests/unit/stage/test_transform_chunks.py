"""A load transformed in slices (StageSpec.chunk_rows) stages, quarantines and revokes what it would whole."""

from __future__ import annotations

import dataclasses

import pandas as pd

from community_dw.stage.health import VACCINATIONS
from community_dw.stage.runner import transform_load

GOOD = {"recipient_name": "陳大文", "id_type": "居民身份证", "id_number": "11010519491231002X", "birth_date": "1949-12-31",
        "sex": "女", "phone": "13800138000", "vaccine_code": "flu", "vaccine_name": "流感疫苗", "dose_number": "1",
        "vaccinated_at": "2026-10-01 09:30:00", "site_name": "社区卫生服务中心", "manufacturer": "华兰",
        "batch_no": "B1", "updated_at": "2026-10-01 10:00:00", "is_deleted": "false"}


def _raw() -> pd.DataFrame:
    rows = []
    for n in range(11):
        row = dict(GOOD, record_id=str(1000 + n))
        if n == 2:
            row["vaccinated_at"] = "去年冬天"        # quarantined: bad timestamp
        if n == 5:
            row["dose_number"] = "0"               # quarantined: bad dose number
        if n in (6, 9):
            row["is_deleted"] = "true"             # revoked at the source
        if n == 7:
            row["recipient_name"] = "李 四"
        rows.append(row)
    raw = pd.DataFrame(rows).astype("string")
    raw["load_id"] = 7
    raw["source_row"] = range(1, len(raw) + 1)
    return raw.set_index(pd.RangeIndex(100, 100 + len(raw)))


def test_slices_give_what_the_whole_load_gives() -> None:
    raw = _raw()
    whole = transform_load(VACCINATIONS, raw, "vaccination_record")
    sliced = transform_load(dataclasses.replace(VACCINATIONS, chunk_rows=3), raw, "vaccination_record")

    assert len(whole.staged) == 7 and len(whole.quarantined) == 2 and len(whole.revoked) == 2
    pd.testing.assert_frame_equal(sliced.staged, whole.staged)
    pd.testing.assert_frame_equal(sliced.quarantined.reset_index(drop=True), whole.quarantined.reset_index(drop=True))
    pd.testing.assert_frame_equal(sliced.revoked, whole.revoked)
    assert sorted(whole.quarantined["reason_code"]) == ["bad_dose_number", "bad_timestamp"]

"""Planting in chunks and ordering versions by their keys: the outputs a million-resident city relies on.

The chunk sizes are shrunk so that a small city goes through several chunks: the defects logged must
still match what was delivered, the same seed must still give the same bytes, and the health
versions file must be in (visible_day, record_id, version) order with the truth's final state.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from community_dw.simulate import health, public_security
from community_dw.simulate.city import generate_city
from community_dw.simulate.config import SimConfig
from community_dw.simulate.truth import read_truth


@pytest.fixture(scope="module")
def chunked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    patch = pytest.MonkeyPatch()
    patch.setattr(health, "IDENTITY_CHUNK_ROWS", 1_000)
    patch.setattr(health, "ROW_GROUP_ROWS", 1_500)
    patch.setattr(public_security, "PLANT_CHUNK_ROWS", 700)
    try:
        dirs = tmp_path_factory.mktemp("chunked_a"), tmp_path_factory.mktemp("chunked_b")
        for d in dirs:
            generate_city(d, SimConfig(residents=2500, seed=9, days=3))
    finally:
        patch.undo()
    return dirs


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_chunked_city_is_deterministic(chunked) -> None:
    a, b = chunked
    assert _digests(a) == _digests(b)


def test_versions_file_in_key_order_and_truth_holds_the_last_version(chunked) -> None:
    out = chunked[0]
    pf = pq.ParquetFile(out / health.VERSIONS_PATH)
    assert pf.metadata.num_row_groups > 1
    versions = pf.read().to_pandas()
    keys = versions[["visible_day", "record_id", "version"]]
    assert keys.equals(keys.sort_values(["visible_day", "record_id", "version"]).reset_index(drop=True))
    assert not keys.duplicated().any()
    records = read_truth(out, "health_records").set_index("record_id")
    assert set(versions.record_id) == set(records.index)
    last = versions.drop_duplicates("record_id", keep="last").set_index("record_id").reindex(records.index)
    assert (last.is_deleted.to_numpy() == records.is_deleted.to_numpy()).all()
    assert (last.updated_at == records.updated_at).all()
    # later versions copy the record and change only what the change is about
    first = versions.drop_duplicates("record_id", keep="first").set_index("record_id")
    later = versions[versions.version > 0].set_index("record_id")
    for column in ("recipient_name", "id_number", "phone", "vaccine_name", "site_name", "birth_date"):
        pd.testing.assert_series_equal(later[column], first[column].reindex(later.index), check_names=False)


def test_defects_logged_across_chunks_match_the_deliveries(chunked) -> None:
    out = chunked[0]
    defects = read_truth(out, "defects")
    # public security: the logged delivered value is what the full snapshot holds in that row
    full = pd.read_csv(out / "public_security" / "residents_full_20261101.csv", encoding="gb18030", dtype=str,
                       keep_default_na=False)
    assert len(full) > 2 * 700
    ps = defects[(defects.delivery == "residents_full_20261101.csv") & (defects.column == "姓名")]
    assert ps.record_key.astype(int).max() > 700  # defects were planted in more than one chunk
    delivered = full["姓名"].to_numpy()[ps.record_key.astype(int).to_numpy() - 1]
    assert (delivered == ps.delivered_value.to_numpy()).all()
    # health: the logged name defect is in the base version of that record
    hv = pq.read_table(out / health.VERSIONS_PATH).to_pandas()
    base = hv[hv.version == 0].set_index("record_id")
    hd = defects[(defects.source == "health") & (defects.column == "recipient_name")]
    assert hd.record_key.astype(int).max() - health.FIRST_RECORD_ID > 1_000
    assert (base.recipient_name.reindex(hd.record_key.astype(int)).to_numpy() == hd.delivered_value.to_numpy()).all()

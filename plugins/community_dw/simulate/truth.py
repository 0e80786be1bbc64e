"""Ground truth under `<dir>/_truth/`: who is behind every source record, and every planted defect.

The pipeline never reads this folder; tests and benchmarks score against it. Files (parquet):

| file | one row per | columns |
|---|---|---|
| persons.parquet | person ever present | person_id, name, sex, birth_date, ethnicity, id_type, id_number (canonical 18 chars or blank), passport_no, population_type, residence_permit_no, mobile, landline, household_no, relation_to_head, registered_address, current_address, building_code, grid_code, community_code, community, subdistrict, present_from_day, left_day (0 = still present), status (present/died/moved_out) |
| events.parquet | life event on days 2..D | day, change_date, person_id, change_type (新增/迁入/迁出/死亡/信息变更), changed_column, old_value, new_value |
| public_security_records.parquet | delivered public security row | file, row_number (1-based data row), sheet_row (CSV line / Excel row), person_id, change_type, is_duplicate |
| health_records.parquet | vaccination_record row | record_id, person_id, vaccine_code, dose_number, vaccinated_at, first_visible_day, entered_in_error, late_commit, corrected, is_deleted, updated_at (final) |
| vaccination_status.parquet | present person x eligible vaccine | person_id, vaccine_code, doses, last_dose_at, doses_required, complete (FLU: current season) |
| civil_affairs_recipients.parquet | service-recipient record | recipient_id, person_id, category, valid_from, valid_to |
| facilities.parquet | facility | facility_id, name, category, community_code, community, subdistrict, address, true_longitude, true_latitude, coordinate_defect, status, capacity |
| buildings.parquet | building | building_code, row_number, sheet_row, true_grid_code, registered_grid_code, merged_cell, longitude, latitude, address, community_code, community, subdistrict, households |
| grids.parquet | grid | grid_code, grid_name, community_code, community, subdistrict, grid_worker_name, grid_worker_phone, grid_leader_name, households, is_multipolygon, true_wkt, published_wkt, unclosed_ring, ... |
| communities.parquet | community | community_code, community, subdistrict_code, subdistrict |
| defects.parquet | planted defect | source, delivery (file or table), record_key (row_number / record_id / recipient_id / facility_id / building_code / grid_code), column, defect_type, true_value, delivered_value |
| summary.json | city | config, counts, deliveries, defect counts by source/type |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

TRUTH_DIR = "_truth"


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Deterministic parquet: no pandas index, fixed compression, no timestamps in metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="zstd")


def write_truth(out_dir: Path, tables: dict[str, pd.DataFrame], summary: dict[str, Any] | None = None) -> Path:
    """Write truth tables (and summary.json when given); called per department as its truth is final."""
    folder = Path(out_dir) / TRUTH_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_parquet(frame, folder / f"{name}.parquet")
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str),
                                             encoding="utf-8")
    return folder


def read_truth(out_dir: Path, name: str) -> pd.DataFrame:
    """One truth table, e.g. read_truth(city_dir, "persons")."""
    return pd.read_parquet(Path(out_dir) / TRUTH_DIR / f"{name}.parquet")


def read_summary(out_dir: Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / TRUTH_DIR / "summary.json").read_text(encoding="utf-8"))

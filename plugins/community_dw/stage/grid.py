"""Standardize the grid office's grids (GeoJSON) and buildings (XLSX) into staging (latest delivery)."""

from __future__ import annotations

import pandas as pd

from community_dw.stage.civil_affairs import _first_failure
from community_dw.stage.runner import StageResult, StageSpec
from community_dw.standardize.addresses import address_key, standardize_addresses
from community_dw.standardize.coordinates import standardize_coordinates


def transform_grids(raw: pd.DataFrame, delivery_name: str) -> StageResult:
    staged = pd.DataFrame({
        "grid_code": raw["grid_code"].str.strip(), "load_id": raw["load_id"], "source_row": raw["source_row"],
        **{column: raw[column].str.strip() for column in ("grid_name", "community", "subdistrict",
                                                           "grid_worker_name", "grid_worker_phone",
                                                           "grid_leader_name")},
        "geometry_wkt": raw["geometry_wkt"], "geometry_issue": raw["geometry_issue"],
    })
    unusable, quarantined = _first_failure(raw, [
        (staged["grid_code"].isna(), "missing_key", "grid_code 为空"),
        (staged["grid_code"].duplicated(keep="first"), "duplicate_key", "grid_code 重复: " + raw["grid_code"]),
        (staged["geometry_wkt"].isna(), "missing_geometry", "几何为空"),
    ])
    return StageResult(staged.loc[~unusable], quarantined)


def transform_buildings(raw: pd.DataFrame, delivery_name: str) -> StageResult:
    coords = standardize_coordinates(raw["longitude"], raw["latitude"])
    address = standardize_addresses(raw["address"])
    staged = pd.DataFrame({
        "building_code": raw["building_code"].str.strip(), "load_id": raw["load_id"],
        "source_row": raw["source_row"], "address": address, "address_key": address_key(address, building_level=True),
        "longitude": coords["longitude"], "latitude": coords["latitude"], "coord_issue": coords["coord_issue"],
        "registered_grid_code": raw["registered_grid_code"].str.strip(),
        "building_head_name": raw["building_head_name"].str.strip(),
        "building_head_phone": raw["building_head_phone"].str.strip(),
        "household_count": pd.to_numeric(raw["household_count"], errors="coerce").astype("Int64"),
    })
    unusable, quarantined = _first_failure(raw, [
        (staged["building_code"].isna(), "missing_key", "楼栋编码为空"),
        (staged["building_code"].duplicated(keep="first"), "duplicate_key", "楼栋编码重复: " + raw["building_code"]),
    ])
    return StageResult(staged.loc[~unusable], quarantined)


GRIDS = StageSpec(source="grid.grids", raw_table="raw.grid__grid", staging_table="staging.stg_grid__grid",
                  quarantine_table="quarantine.grid__grid", transform=transform_grids, merge="replace")
BUILDINGS = StageSpec(source="grid.buildings", raw_table="raw.grid__building",
                      staging_table="staging.stg_grid__building", quarantine_table="quarantine.grid__building",
                      transform=transform_buildings, merge="replace")

"""Standardize civil-affairs facilities and service recipients into staging."""

from __future__ import annotations

import pandas as pd

from community_dw.stage.runner import StageResult, StageSpec, quarantine_rows
from community_dw.standardize.addresses import standardize_addresses
from community_dw.standardize.coordinates import standardize_coordinates
from community_dw.standardize.dates import parse_dates, parse_timestamps
from community_dw.standardize.id_number import standardize_id_numbers
from community_dw.standardize.names import standardize_names


def _first_failure(raw: pd.DataFrame, checks: list[tuple[pd.Series, str, object]]) -> tuple[pd.Series, pd.DataFrame]:
    """Apply (mask, reason, detail) checks in order; each row is quarantined for its first failure only."""
    unusable = pd.Series(False, index=raw.index)
    parts = []
    for mask, reason, detail in checks:
        mask = mask.fillna(False).astype(bool) & ~unusable
        parts.append(quarantine_rows(raw, mask, reason, detail))
        unusable |= mask
    return unusable, pd.concat(parts, ignore_index=True)


def transform_facilities(raw: pd.DataFrame, delivery_name: str) -> StageResult:
    coords = standardize_coordinates(raw["longitude"], raw["latitude"])
    staged = pd.DataFrame({
        "facility_id": raw["facility_id"].str.strip(), "load_id": raw["load_id"], "source_row": raw["source_row"],
        "name": raw["name"].str.strip(), "category": raw["category"].str.strip(),
        "address": standardize_addresses(raw["address"]),
        "longitude": coords["longitude"], "latitude": coords["latitude"], "coord_issue": coords["coord_issue"],
        "capacity": pd.to_numeric(raw["capacity"], errors="coerce").astype("Int64"),
        "status": raw["status"].str.strip(), "community": raw["community"].str.strip(),
        "subdistrict": raw["subdistrict"].str.strip(),
        "updated_at": parse_timestamps(raw["updated_at"])["timestamp"],
    })
    unusable, quarantined = _first_failure(raw, [
        (staged["facility_id"].isna(), "missing_key", "facility_id 为空"),
        (staged["name"].isna() | staged["category"].isna(), "missing_required", "name/category 为空"),
        (staged["updated_at"].isna(), "bad_timestamp", "updated_at: " + raw["updated_at"].fillna("(blank)")),
    ])
    return StageResult(staged.loc[~unusable], quarantined)


def transform_service_recipients(raw: pd.DataFrame, delivery_name: str) -> StageResult:
    names = standardize_names(raw["name"])
    ids = standardize_id_numbers(raw["id_number"])
    staged = pd.DataFrame({
        "recipient_id": raw["recipient_id"].str.strip(), "load_id": raw["load_id"],
        "source_row": raw["source_row"], "name": names["name"], "name_pinyin": names["name_pinyin"],
        "id_number": ids["id_number"], "id_valid": ids["id_valid"], "id_issue": ids["id_issue"],
        "category": raw["category"].str.strip(), "community": raw["community"].str.strip(),
        "valid_from": parse_dates(raw["valid_from"])["date"], "valid_to": parse_dates(raw["valid_to"])["date"],
        "updated_at": parse_timestamps(raw["updated_at"])["timestamp"],
    })
    unusable, quarantined = _first_failure(raw, [
        (staged["recipient_id"].isna(), "missing_key", "recipient_id 为空"),
        (staged["name"].isna(), "missing_name", "姓名为空"),
        (staged["category"].isna(), "missing_required", "category 为空"),
        (staged["updated_at"].isna(), "bad_timestamp", "updated_at: " + raw["updated_at"].fillna("(blank)")),
    ])
    return StageResult(staged.loc[~unusable], quarantined)


FACILITIES = StageSpec(
    source="civil_affairs.facilities", raw_table="raw.civil_affairs__facility",
    staging_table="staging.stg_civil_affairs__facility", quarantine_table="quarantine.civil_affairs__facility",
    transform=transform_facilities, merge="latest_by_key", key="facility_id",
)
SERVICE_RECIPIENTS = StageSpec(
    source="civil_affairs.service_recipients", raw_table="raw.civil_affairs__service_recipient",
    staging_table="staging.stg_civil_affairs__service_recipient",
    quarantine_table="quarantine.civil_affairs__service_recipient",
    transform=transform_service_recipients, merge="latest_by_key", key="recipient_id",
)

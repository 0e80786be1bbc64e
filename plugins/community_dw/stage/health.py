"""Standardize pulled vaccination records (health) into staging.stg_health__vaccination_record."""

from __future__ import annotations

import pandas as pd

from community_dw.stage.runner import StageResult, StageSpec, quarantine_rows
from community_dw.standardize.dates import parse_dates, parse_timestamps
from community_dw.standardize.id_number import standardize_id_numbers
from community_dw.standardize.names import standardize_names
from community_dw.standardize.phones import standardize_phones
from community_dw.standardize.sex import standardize_sex

TRUE_TEXT = {"t", "true", "1", "y", "yes"}


def transform_vaccinations(raw: pd.DataFrame, delivery_name: str) -> StageResult:
    names = standardize_names(raw["recipient_name"])
    ids = standardize_id_numbers(raw["id_number"])
    vaccinated_at = parse_timestamps(raw["vaccinated_at"])["timestamp"]
    updated_at = parse_timestamps(raw["updated_at"])["timestamp"]
    dose_number = pd.to_numeric(raw["dose_number"], errors="coerce").astype("Int64")
    vaccine_code = raw["vaccine_code"].str.strip().str.upper()
    revoked = raw["is_deleted"].str.strip().str.lower().isin(TRUE_TEXT).fillna(False).astype(bool)

    staged = pd.DataFrame({
        "record_id": raw["record_id"].str.strip(), "load_id": raw["load_id"], "source_row": raw["source_row"],
        "recipient_name": names["name"], "name_pinyin": names["name_pinyin"],
        "id_type": raw["id_type"].str.strip(), "id_number": ids["id_number"], "id_valid": ids["id_valid"],
        "id_issue": ids["id_issue"], "birth_date": parse_dates(raw["birth_date"])["date"],
        "sex": standardize_sex(raw["sex"]), "phone_primary": standardize_phones(raw["phone"])["phone_primary"],
        "vaccine_code": vaccine_code, "vaccine_name": raw["vaccine_name"].str.strip(),
        "dose_number": dose_number, "vaccinated_at": vaccinated_at,
        "site_name": raw["site_name"], "manufacturer": raw["manufacturer"], "batch_no": raw["batch_no"],
        "updated_at": updated_at,
    })
    checks = [
        (staged["updated_at"].isna(), "bad_timestamp", "updated_at: " + raw["updated_at"].fillna("(blank)")),
        (staged["recipient_name"].isna() & staged["id_number"].isna(), "no_identity", "姓名和证件号码均为空"),
        (staged["vaccinated_at"].isna(), "bad_timestamp", "vaccinated_at: " + raw["vaccinated_at"].fillna("(blank)")),
        (staged["vaccine_code"].isna(), "missing_vaccine_code", "疫苗编码为空"),
        (staged["dose_number"].isna() | (staged["dose_number"] < 1), "bad_dose_number",
         "dose_number: " + raw["dose_number"].fillna("(blank)")),
    ]
    unusable = pd.Series(False, index=raw.index)
    quarantined = []
    for mask, reason, detail in checks:
        # A revoked record still needs its updated_at to revoke; otherwise the first failed check wins.
        mask = mask & ~unusable & (~revoked if reason != "bad_timestamp" else True)
        quarantined.append(quarantine_rows(raw, mask, reason, detail))
        unusable |= mask
    live = ~unusable & ~revoked
    revocations = staged.loc[~unusable & revoked, ["record_id", "updated_at"]]
    return StageResult(staged.loc[live], pd.concat(quarantined, ignore_index=True), revocations)


VACCINATIONS = StageSpec(
    source="health.vaccination_record",
    raw_table="raw.health__vaccination_record",
    staging_table="staging.stg_health__vaccination_record",
    quarantine_table="quarantine.health__vaccination_record",
    transform=transform_vaccinations,
    merge="latest_by_key",
    key="record_id",
    chunk_rows=500_000,
)

"""Standardize resident deliveries (public security) into staging.stg_public_security__resident."""

from __future__ import annotations

import pandas as pd

from community_dw.sources.file_ingest import delivery_date
from community_dw.stage.runner import StageResult, StageSpec, quarantine_rows
from community_dw.standardize._text import as_text, nfkc, on_unique
from community_dw.standardize.addresses import address_key, standardize_addresses
from community_dw.standardize.dates import parse_dates
from community_dw.standardize.id_number import id_conflicts, standardize_id_numbers
from community_dw.standardize.names import standardize_names
from community_dw.standardize.phones import standardize_phones
from community_dw.standardize.reasons import BLANK
from community_dw.standardize.sex import standardize_sex

CHANGE_TYPES = {"新增", "迁入", "迁出", "死亡", "信息变更"}


def _clean_text(series: pd.Series) -> pd.Series:
    """Trim and NFKC small free-text codes (户号, 社区, 人口类型); blank becomes NA.

    Once per distinct value: these columns repeat heavily, and pandas normalizes row by row."""
    cleaned = on_unique(as_text(series), lambda values: nfkc(values).str.strip())
    return cleaned.mask(cleaned == "")


def transform_residents(raw: pd.DataFrame, delivery_name: str) -> StageResult:
    from pathlib import PurePath

    kind = "delta" if "_delta_" in delivery_name else "full"
    delivered_on = delivery_date(PurePath(delivery_name))
    names = standardize_names(raw["name"])
    ids = standardize_id_numbers(raw["id_number"])
    stated = parse_dates(raw["birth_date"], max_date=pd.Timestamp(delivered_on) if delivered_on else None)
    stated_birth = stated["date"]
    # Text such as 不详 or an impossible date: not used, but said (a blank is not an issue).
    birth_date_issue = stated["date_issue"].where(stated["date_issue"] != BLANK)
    stated_sex = standardize_sex(raw["sex"])
    conflicts = id_conflicts(ids, stated_birth, stated_sex)
    phones = standardize_phones(raw["phone"])
    current_address = standardize_addresses(raw["current_address"])
    change_type = _clean_text(raw["change_type"]) if "change_type" in raw else pd.Series(pd.NA, index=raw.index)

    # The ID number is the stronger witness: where it is valid its birth date and sex fill the blanks.
    birth_date = stated_birth.where(stated_birth.notna(), ids["id_birth_date"].where(ids["id_valid"]))
    sex = stated_sex.where(stated_sex.notna(), ids["id_sex"].where(ids["id_valid"]))

    staged = pd.DataFrame({
        "load_id": raw["load_id"], "source_row": raw["source_row"],
        "delivery_kind": kind, "delivery_date": delivered_on,
        "name": names["name"], "name_pinyin": names["name_pinyin"],
        "id_type": _clean_text(raw["id_type"]), "id_number": ids["id_number"], "id_valid": ids["id_valid"],
        "id_issue": ids["id_issue"], "id_upgraded_from_15": ids["id_upgraded_from_15"],
        "birth_date": birth_date, "birth_date_issue": birth_date_issue, "sex": sex,
        "birth_date_conflict": conflicts["birth_date_conflict"], "sex_conflict": conflicts["sex_conflict"],
        "ethnicity": _clean_text(raw["ethnicity"]),
        "phone_primary": phones["phone_primary"], "phone_primary_type": phones["phone_primary_type"],
        "phones_all": phones["phones_all"],
        "household_no": _clean_text(raw["household_no"]), "relation_to_head": _clean_text(raw["relation_to_head"]),
        "registered_address": standardize_addresses(raw["registered_address"]),
        "current_address": current_address, "address_key": address_key(current_address, building_level=True),
        "building_code": _clean_text(raw["building_code"]),
        "population_type": _clean_text(raw["population_type"]),
        "residence_permit_no": _clean_text(raw["residence_permit_no"]),
        "subdistrict": _clean_text(raw["subdistrict"]), "community": _clean_text(raw["community"]),
        "change_type": change_type,
        "change_date": parse_dates(raw["change_date"])["date"] if "change_date" in raw else pd.NaT,
    })

    missing_name = staged["name"].isna()
    bad_change = (kind == "delta") & ~change_type.isin(CHANGE_TYPES).fillna(False) & ~missing_name
    quarantined = pd.concat([
        quarantine_rows(raw, missing_name, "missing_name", "姓名为空 / name is blank"),
        quarantine_rows(raw, bad_change, "unknown_change_type", "变动类型: " + raw["change_type"].fillna("")
                        if "change_type" in raw else None),
    ], ignore_index=True)
    keep = ~(missing_name | bad_change)
    return StageResult(staged.loc[keep], quarantined)


RESIDENTS = StageSpec(
    source="public_security.residents",
    raw_table="raw.public_security__resident",
    staging_table="staging.stg_public_security__resident",
    quarantine_table="quarantine.public_security__resident",
    transform=transform_residents,
    merge="append",
)

"""The reason catalogue covers every code a standardizer can emit, in both languages."""

from __future__ import annotations

import pandas as pd

from community_dw import standardize as sz
from community_dw.standardize import reasons

NASTY = pd.Series([None, "", " ", "\u3000", "abc", "123", "19850230", "1985-03-12", "13812345678；x", "88123456",
                   "110105194912310021", "11010519491231002X", "990105194912310021", "12345", "陳大文", "··", "男",
                   "0", "2099-01-01", "1985031", "E1234", "110105194913310020"])


def emitted() -> set[str]:
    frames = [
        sz.standardize_id_numbers(NASTY)["id_issue"],
        sz.standardize_names(NASTY)["name_issue"],
        sz.standardize_phones(NASTY)["phone_issue"],
        sz.parse_dates(NASTY, max_date="2030-01-01")["date_issue"],
        sz.parse_timestamps(NASTY)["timestamp_issue"],
        sz.standardize_sex_frame(NASTY)["sex_issue"],
        sz.standardize_ethnicity(NASTY)["ethnicity_issue"],
        sz.standardize_id_type(NASTY)["id_type_issue"],
        sz.standardize_population_type(NASTY)["population_type_issue"],
        sz.standardize_change_type(NASTY)["change_type_issue"],
        sz.standardize_coordinates(NASTY, NASTY.iloc[::-1].reset_index(drop=True))["coord_issue"],
        sz.standardize_coordinates(pd.Series([0.0, 22.5, 2.0]), pd.Series([22.0, 113.0, 48.0]))["coord_issue"],
    ]
    return {code for f in frames for code in f.dropna()}


def test_every_emitted_code_is_catalogued() -> None:
    codes = emitted()
    assert codes <= set(reasons.REASONS), codes - set(reasons.REASONS)
    # and the nasty sample really exercises most of the catalogue
    assert len(codes) >= 15


def test_every_constant_is_catalogued() -> None:
    constants = {v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str)}
    assert constants <= set(reasons.REASONS)


def test_descriptions_and_markdown() -> None:
    for r in reasons.REASONS.values():
        assert r.zh and r.en and r.columns
        assert r.action in {"reject", "flag", "absent"}
    assert reasons.describe("bad_check_digit").startswith("身份号码")
    assert "bad_check_digit" in reasons.catalogue_markdown()


def test_staging_quarantine_codes_are_catalogued() -> None:
    """Every literal reason code the staging step passes to quarantine_rows is in the catalogue."""
    import re
    from pathlib import Path

    stage = Path(sz.__file__).resolve().parents[1] / "stage"
    if not stage.is_dir():
        return
    used: set[str] = set()
    for path in stage.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"quarantine_rows\([^,]+,[^,]+,\s*\"([a-z_]+)\"", text))
        used |= set(re.findall(r"\(\s*[^()]*?,\s*\"([a-z_]+)\",\s*\"", text))
    unknown = {c for c in used if c not in reasons.REASONS and "_" in c}
    assert not unknown, f"add to standardize/reasons.py: {sorted(unknown)}"

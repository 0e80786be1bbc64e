"""Code value maps: ethnicity (GB 3304), ID type, population type, change type."""

from __future__ import annotations

import pandas as pd
import pytest

from community_dw.standardize.codes import (
    ETHNICITIES,
    standardize_change_type,
    standardize_ethnicity,
    standardize_id_type,
    standardize_population_type,
)


def test_there_are_56_ethnicities() -> None:
    assert len([c for c in ETHNICITIES if int(c) <= 56]) == 56
    assert len(set(ETHNICITIES.values())) == len(ETHNICITIES)


@pytest.mark.parametrize(
    ("raw", "name", "code"),
    [("汉族", "汉族", "01"), ("汉", "汉族", "01"), (" 汉 族", "汉族", "01"), ("漢族", "汉族", "01"), ("01", "汉族", "01"),
     ("1", "汉族", "01"), ("回族", "回族", "03"), ("回", "回族", "03"), ("维族", "维吾尔族", "05"),
     ("维吾尔", "维吾尔族", "05"), ("壮族", "壮族", "08"), ("土家族", "土家族", "15"), ("基诺族", "基诺族", "56")],
)
def test_ethnicity(raw: str, name: str, code: str) -> None:
    row = standardize_ethnicity(pd.Series([raw])).iloc[0]
    assert (row["ethnicity"], row["ethnicity_code"]) == (name, code)
    assert pd.isna(row["ethnicity_issue"])


def test_every_canonical_name_maps_to_itself() -> None:
    names = pd.Series(list(ETHNICITIES.values()))
    assert standardize_ethnicity(names)["ethnicity"].tolist() == names.tolist()


def test_ethnicity_issues() -> None:
    out = standardize_ethnicity(pd.Series([None, "", "火星族"]))
    assert out["ethnicity_issue"].tolist() == ["blank", "blank", "unknown_value"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("居民身份证", "resident_id"), ("身份证", "resident_id"), ("护照", "passport"),
     ("港澳居民居住证", "hk_macao_residence_permit"), ("外国人永久居留身份证", "foreign_permanent_residence_id"),
     (" 护 照 ", "passport")],
)
def test_id_type(raw: str, expected: str) -> None:
    assert standardize_id_type(pd.Series([raw]))["id_type"].iloc[0] == expected


@pytest.mark.parametrize(("raw", "expected"), [("户籍人口", "registered"), ("流动人口", "floating"),
                                               ("境外人员", "foreign")])
def test_population_type(raw: str, expected: str) -> None:
    assert standardize_population_type(pd.Series([raw]))["population_type"].iloc[0] == expected


@pytest.mark.parametrize(("raw", "expected"), [("新增", "added"), ("迁入", "moved_in"), ("迁出", "moved_out"),
                                               ("死亡", "died"), ("信息变更", "changed")])
def test_change_type(raw: str, expected: str) -> None:
    assert standardize_change_type(pd.Series([raw]))["change_type"].iloc[0] == expected


def test_unknown_code_is_visible() -> None:
    out = standardize_id_type(pd.Series(["驾驶证", None]))
    assert out["id_type"].isna().all()
    assert out["id_type_issue"].tolist() == ["unknown_value", "blank"]

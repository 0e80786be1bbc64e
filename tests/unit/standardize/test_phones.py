"""Phones: several numbers per field, +86/86 prefixes, landlines with area codes, blanks."""

from __future__ import annotations

import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from community_dw.standardize.phones import COLUMNS, JOIN, standardize_phones


def one(value: object, **kwargs: str) -> pd.Series:
    return standardize_phones(pd.Series([value]), **kwargs).iloc[0]


def test_brief_example() -> None:
    row = one("+86 138 1234 5678；0760-88123456")
    assert row["phone_primary"] == "13812345678"
    assert row["phone_primary_type"] == "mobile"
    assert row["phones_all"].split(JOIN) == ["13812345678", "0760-88123456"]
    assert pd.isna(row["phone_issue"])


@pytest.mark.parametrize(
    "raw",
    ["13812345678", "+8613812345678", "8613812345678", "008613812345678", "+86 138-1234-5678",
     "138 1234 5678", "１３８１２３４５６７８", "(+86)13812345678", " 13812345678 "],
)
def test_mobile_spellings(raw: str) -> None:
    row = one(raw)
    assert (row["phone_primary"], row["phone_primary_type"]) == ("13812345678", "mobile")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0760-88123456", "0760-88123456"), ("076088123456", "0760-88123456"), ("0760 8812 3456", "0760-88123456"),
     ("(0760)88123456", "0760-88123456"), ("+86 760 88123456", "0760-88123456"), ("010-12345678", "010-12345678"),
     ("02087654321", "020-87654321"), ("０７６０－８８１２３４５６", "0760-88123456")],
)
def test_landline_spellings(raw: str, expected: str) -> None:
    row = one(raw)
    assert (row["phone_primary"], row["phone_primary_type"]) == (expected, "landline")


@pytest.mark.parametrize("sep", ["；", ";", "/", "、", ",", "，", " ", "  "])
def test_separators(sep: str) -> None:
    row = one(f"0760-88123456{sep}13912345678")
    assert row["phone_primary"] == "13912345678"  # the first *mobile*, though listed second
    assert row["phones_all"] == f"0760-88123456{JOIN}13912345678"


def test_first_mobile_is_primary_and_duplicates_dropped() -> None:
    row = one("13812345678/13987654321/13812345678")
    assert row["phone_primary"] == "13812345678"
    assert row["phones_all"] == f"13812345678{JOIN}13987654321"


@pytest.mark.parametrize(
    ("raw", "issue", "primary"),
    [(None, "blank", None), ("", "blank", None), ("  ", "blank", None), ("无", "no_valid_number", None),
     ("12345", "no_valid_number", None), ("12345678901；13812345678", "some_invalid", "13812345678"),
     ("88123456", "landline_no_area_code", "88123456")],
)
def test_issues(raw: object, issue: str, primary: str | None) -> None:
    row = one(raw)
    assert row["phone_issue"] == issue
    assert (pd.isna(row["phone_primary"]) and primary is None) or row["phone_primary"] == primary


def test_default_area_code_completes_local_numbers() -> None:
    row = one("88123456", default_area_code="0760")
    assert row["phone_primary"] == "0760-88123456"
    assert pd.isna(row["phone_issue"])


def test_spreadsheet_float() -> None:
    df = standardize_phones(pd.Series([13812345678.0, None]))
    assert df["phone_primary"].iloc[0] == "13812345678"


def test_frame_shape_and_index() -> None:
    df = standardize_phones(pd.Series(["13812345678", None, "x"], index=[3, 1, 2]))
    assert list(df.columns) == COLUMNS and list(df.index) == [3, 1, 2]
    assert df["phone_issue"].tolist()[1:] == ["blank", "no_valid_number"]
    assert standardize_phones(pd.Series([], dtype=object)).shape == (0, len(COLUMNS))


MOBILE_PREFIXES = ["130", "133", "135", "138", "139", "147", "150", "166", "176", "177", "186", "189", "198", "199"]
AREA_CODES = ["10", "20", "21", "760", "755", "757", "571", "731"]


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(MOBILE_PREFIXES), rest=st.text(alphabet="0123456789", min_size=8, max_size=8),
       style=st.sampled_from(["{n}", "+86{n}", "86{n}", "+86 {a} {b} {c}", "{a}-{b}-{c}"]))
def test_mobiles_agree_with_phonenumbers(prefix: str, rest: str, style: str) -> None:
    n = prefix + rest
    typed = style.format(n=n, a=n[:3], b=n[3:7], c=n[7:])
    row = one(typed)
    parsed = phonenumbers.parse(typed, "CN")
    assert phonenumbers.is_valid_number(parsed)
    assert row["phone_primary"] == str(parsed.national_number)
    assert row["phone_primary_type"] == "mobile"


@settings(max_examples=300, deadline=None)
@given(area=st.sampled_from(AREA_CODES), first=st.sampled_from("2345678"),
       rest=st.text(alphabet="0123456789", min_size=7, max_size=7))
def test_landlines_agree_with_phonenumbers(area: str, first: str, rest: str) -> None:
    typed = f"0{area}-{first}{rest}"
    parsed = phonenumbers.parse(typed, "CN")
    row = one(typed)
    if phonenumbers.is_valid_number(parsed):
        assert row["phone_primary_type"] == "landline"
        assert row["phone_primary"].replace("-", "") == "0" + str(parsed.national_number)
        assert len(row["phone_primary"].split("-")[0]) - 1 == phonenumbers.length_of_geographical_area_code(parsed)
    else:
        assert pd.isna(row["phone_primary"])

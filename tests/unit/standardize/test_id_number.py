"""ID numbers: hand-made cases for every quirk in SOURCES.md, and properties against python-stdnum."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import stdnum.cn.ric as ric
from hypothesis import given, settings
from hypothesis import strategies as st

from community_dw.standardize.id_number import (
    COLUMNS,
    check_digits,
    id_conflicts,
    standardize_id_numbers,
)

REFERENCE = "11010519491231002X"  # the GB 11643 worked example
# Region codes python-stdnum accepts for every birth year of the twentieth century.
STABLE_REGIONS = ["110105", "110101", "310104"]
FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def one(value: object) -> pd.Series:
    return standardize_id_numbers(pd.Series([value])).iloc[0]


def with_check(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


def test_reference_example() -> None:
    row = one(REFERENCE)
    assert row["id_number"] == REFERENCE
    assert row["id_valid"]
    assert row["id_birth_date"] == pd.Timestamp("1949-12-31")
    assert row["id_sex"] == "F"
    assert row["id_region_code"] == "110105"
    assert pd.isna(row["id_issue"])
    assert not row["id_upgraded_from_15"]
    assert ric.is_valid(REFERENCE)


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",  # lowercase x
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits and X
        "１１０１０５１９４９１２３１００２ｘ",
        "110105 19491231 002X",  # spaces
        "110105-19491231-002X",  # dashes
        "110105－19491231－002X",  # full-width dashes
        " 11010519491231002X\u3000",  # ideographic space
        "110105\t1949 1231\u00a0002X",
    ],
)
def test_quirky_spellings_normalize_to_reference(raw: str) -> None:
    row = one(raw)
    assert row["id_number"] == REFERENCE
    assert row["id_valid"]


def test_fifteen_digit_upgrade() -> None:
    row = one("110105491231002")
    assert row["id_number"] == REFERENCE
    assert row["id_upgraded_from_15"]
    assert row["id_valid"]
    assert row["id_birth_date"] == pd.Timestamp("1949-12-31")
    assert row["id_sex"] == "F"


def test_wrong_check_digit_is_kept_for_matching() -> None:
    row = one("110105194912310021")
    assert row["id_number"] == "110105194912310021"  # as delivered, not "corrected"
    assert not row["id_valid"]
    assert row["id_issue"] == "bad_check_digit"
    # what the number encodes is still there for probabilistic matching
    assert row["id_birth_date"] == pd.Timestamp("1949-12-31")
    assert row["id_sex"] == "F"


@pytest.mark.parametrize(
    ("raw", "issue"),
    [
        (None, "blank"),
        ("", "blank"),
        ("   ", "blank"),
        ("\u3000", "blank"),
        ("12345", "bad_length"),
        ("1101051949123100", "bad_length"),  # 16
        ("1101051949123100211", "bad_length"),  # 19
        ("11010519491231002X1", "non_digit"),  # X not last
        ("E12345678", "non_digit"),  # a passport number in the wrong column
        ("11010519491231X02X", "non_digit"),
        ("110105194913310020", "bad_date"),  # month 13
        ("110105194902300020", "bad_date"),  # 30 February
        ("110105209901010020", "bad_date"),  # born in the future
        ("110105180001010020", "bad_date"),  # before 1890
        ("990105194912310021", "bad_region"),
        ("000000194912310021", "bad_region"),
    ],
)
def test_issues(raw: object, issue: str) -> None:
    row = one(raw)
    assert row["id_issue"] == issue
    assert not row["id_valid"]


def test_unusable_numbers_have_no_attributes() -> None:
    row = one("12345")
    assert pd.isna(row["id_number"]) and pd.isna(row["id_sex"]) and pd.isna(row["id_birth_date"])


def test_hk_macao_residence_permit_region() -> None:
    permit = with_check("81000019900101002")
    assert one(permit)["id_valid"]


def test_numbers_from_a_spreadsheet_as_integers() -> None:
    df = standardize_id_numbers(pd.Series([110105194912310021, None], dtype=object))
    assert df["id_number"].iloc[0] == "110105194912310021"
    assert df["id_issue"].iloc[1] == "blank"


def test_columns_dtypes_and_index() -> None:
    raw = pd.Series([REFERENCE, None, "x"], index=[10, 20, 30])
    df = standardize_id_numbers(raw)
    assert list(df.columns) == COLUMNS
    assert list(df.index) == [10, 20, 30]
    assert df["id_valid"].dtype == bool and df["id_upgraded_from_15"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(df["id_birth_date"])


def test_empty_input() -> None:
    df = standardize_id_numbers(pd.Series([], dtype=object))
    assert list(df.columns) == COLUMNS and len(df) == 0


def test_as_of_bounds_birth_dates() -> None:
    number = with_check("11010520200101002")
    assert one(number)["id_valid"]
    late = standardize_id_numbers(pd.Series([number]), as_of="2019-12-31").iloc[0]
    assert late["id_issue"] == "bad_date"


def test_conflicts() -> None:
    ids = standardize_id_numbers(pd.Series([REFERENCE] * 5 + ["bad"]))
    stated_birth = pd.Series(["1949-12-31", "1950年1月1日", None, "19491231", "1949/12/31", "1949-12-31"])
    stated_sex = pd.Series(["女", "女", "男", None, "M", "男"])
    out = id_conflicts(ids, stated_birth, stated_sex)
    assert out["birth_date_conflict"].tolist() == [False, True, False, False, False, False]
    assert out["sex_conflict"].tolist() == [False, False, True, False, True, False]


def test_conflicts_accept_parsed_inputs() -> None:
    ids = standardize_id_numbers(pd.Series([REFERENCE, REFERENCE]))
    stated_birth = pd.Series(pd.to_datetime(["1949-12-31", "1949-12-30"]))
    out = id_conflicts(ids, stated_birth, pd.Series(["F", "F"]))
    assert out["birth_date_conflict"].tolist() == [False, True]
    assert out["sex_conflict"].tolist() == [False, False]


# --- properties -------------------------------------------------------------------------------

birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31))
sequence = st.integers(min_value=0, max_value=999)


@st.composite
def valid_18(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(STABLE_REGIONS))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)))
    return with_check(f"{region}{born:%Y%m%d}{draw(sequence):03d}")


@st.composite
def disguised(draw: st.DrawFn, number: str) -> str:
    """The number as a person might type it: full-width, spaces/dashes inside, lowercase x."""
    text = number.lower() if draw(st.booleans()) else number
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    chars = list(text)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(chars)))
        chars.insert(at, draw(st.sampled_from([" ", "-", "\u3000", "－", "  "])))
    return "".join(chars)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), number=valid_18())
def test_valid_number_survives_typing_quirks(data: st.DataObject, number: str) -> None:
    assert ric.is_valid(number)
    typed = data.draw(disguised(number))
    row = one(typed)
    assert row["id_number"] == number
    assert row["id_valid"]
    assert row["id_birth_date"] == pd.Timestamp(ric.get_birth_date(number))
    assert row["id_sex"] == ("M" if int(number[16]) % 2 else "F")


@settings(max_examples=300, deadline=None)
@given(region=st.sampled_from(STABLE_REGIONS), born=birth_dates, seq=sequence)
def test_every_15_digit_number_upgrades_to_a_valid_one(region: str, born: dt.date, seq: int) -> None:
    legacy = f"{region}{born:%y%m%d}{seq:03d}"
    row = one(legacy)
    assert row["id_upgraded_from_15"]
    assert ric.is_valid(row["id_number"]), row["id_number"]
    assert row["id_valid"]
    assert row["id_number"] == f"{region}{born:%Y%m%d}{seq:03d}" + row["id_number"][-1]
    assert row["id_birth_date"] == pd.Timestamp(born)


@settings(max_examples=200, deadline=None)
@given(number=valid_18(), wrong=st.sampled_from(list("0123456789X")))
def test_wrong_check_digit_detected(number: str, wrong: str) -> None:
    if wrong == number[-1]:
        return
    typo = number[:-1] + wrong
    row = one(typo)
    assert not ric.is_valid(typo)
    assert not row["id_valid"]
    assert row["id_issue"] == "bad_check_digit"
    assert row["id_number"] == typo


@settings(max_examples=200, deadline=None)
@given(bodies=st.lists(st.text(alphabet="0123456789", min_size=17, max_size=17), min_size=1, max_size=50))
def test_check_digits_agree_with_stdnum(bodies: list[str]) -> None:
    ours = check_digits(pd.Series(bodies, dtype="str"))
    assert list(ours) == [ric.calc_check_digit(b + "0") for b in bodies]


@settings(max_examples=200, deadline=None)
@given(number=valid_18(), position=st.integers(0, 16), digit=st.sampled_from("0123456789"))
def test_single_digit_typo_never_validates(number: str, position: int, digit: str) -> None:
    if number[position] == digit:
        return
    typo = number[:position] + digit + number[position + 1 :]
    assert not one(typo)["id_valid"]

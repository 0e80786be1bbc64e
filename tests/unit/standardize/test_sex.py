"""Sex codes: 男/女, 1/2, M/F, English words, blanks."""

from __future__ import annotations

import pandas as pd
import pytest

from community_dw.standardize.sex import standardize_sex, standardize_sex_frame


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("男", "M"), ("女", "F"), ("1", "M"), ("2", "F"), ("M", "M"), ("F", "F"), ("m", "M"), ("f", "F"),
     ("male", "M"), ("Female", "F"), (" 男 ", "M"), ("男性", "M"), ("Ｍ", "M"), ("２", "F"), (1, "M"), (2.0, "F")],
)
def test_codes(raw: object, expected: str) -> None:
    assert standardize_sex(pd.Series([raw], dtype=object)).iloc[0] == expected


@pytest.mark.parametrize(("raw", "issue"), [(None, "blank"), ("", "blank"), ("未知", "blank"), ("9", "blank"),
                                            ("0", "blank"), ("X", "unknown_value"), ("男女", "unknown_value")])
def test_not_stated_and_unknown(raw: object, issue: str) -> None:
    frame = standardize_sex_frame(pd.Series([raw], dtype=object))
    assert pd.isna(frame["sex"].iloc[0])
    assert frame["sex_issue"].iloc[0] == issue


def test_index_kept() -> None:
    out = standardize_sex(pd.Series(["男", "女"], index=[7, 9]))
    assert list(out.index) == [7, 9] and out.name == "sex"

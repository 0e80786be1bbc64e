"""Dates and timestamps in every spelling SOURCES.md lists, in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from community_dw.standardize.dates import parse_dates, parse_timestamps

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def one(value: object, **kwargs: object) -> pd.Series:
    return parse_dates(pd.Series([value]), **kwargs).iloc[0]


@pytest.mark.parametrize(
    "raw",
    ["19850312", "1985-03-12", "1985/3/12", "1985/03/12", "1985.3.12", "1985年3月12日", "1985年03月12日",
     "1985年3月12", "１９８５年３月１２日", " 1985-3-12 ", "1985-03-12 00:00:00", "1985-03-12T08:30:00",
     "1985-03-12T08:30:00+08:00"],
)
def test_spellings(raw: str) -> None:
    row = one(raw)
    assert row["date"] == pd.Timestamp("1985-03-12")
    assert pd.isna(row["date_issue"])


@pytest.mark.parametrize(
    ("raw", "issue"),
    [(None, "blank"), ("", "blank"), ("\u3000", "blank"), ("19850230", "bad_date"), ("1985-13-01", "bad_date"),
     ("1985年2月29日", "bad_date"), ("12/03/1985", "unparseable"), ("不详", "unparseable"), ("1985031", "unparseable")],
)
def test_issues(raw: object, issue: str) -> None:
    row = one(raw)
    assert pd.isna(row["date"])
    assert row["date_issue"] == issue


def test_range() -> None:
    assert one("2099-01-01", max_date="2026-01-01")["date_issue"] == "out_of_range"
    assert one("1800-01-01", min_date="1890-01-01")["date_issue"] == "out_of_range"
    assert pd.isna(one("2099-01-01", max_date="2026-01-01")["date"])
    assert one("2020-01-01", min_date="1890-01-01", max_date="2026-01-01")["date"] == pd.Timestamp("2020-01-01")


def test_timestamp_reduced_to_shanghai_date() -> None:
    assert one("2024-03-01T23:30:00Z")["date"] == pd.Timestamp("2024-03-02")  # 07:30 next day in Shanghai
    assert one("2024-03-01T23:30:00")["date"] == pd.Timestamp("2024-03-01")  # already local


def test_dtype_and_index() -> None:
    df = parse_dates(pd.Series(["19850312", None], index=["a", "b"]))
    assert str(df["date"].dtype) == "datetime64[s]"
    assert list(df.index) == ["a", "b"]
    assert parse_dates(pd.Series([], dtype=object)).shape == (0, 2)


def test_timestamps() -> None:
    df = parse_timestamps(pd.Series(["2024-03-01T10:00:00Z", "2024-03-01 10:00:00", "2024-03-01T10:00:00+08:00",
                                     "2024-03-01", "20240301", None, "soon"]))
    sh = "Asia/Shanghai"
    expected = [pd.Timestamp("2024-03-01 18:00", tz=sh), pd.Timestamp("2024-03-01 10:00", tz=sh),
                pd.Timestamp("2024-03-01 10:00", tz=sh), pd.Timestamp("2024-03-01 00:00", tz=sh),
                pd.Timestamp("2024-03-01 00:00", tz=sh)]
    assert df["timestamp"].iloc[:5].tolist() == expected
    assert df["timestamp_issue"].iloc[5:].tolist() == ["blank", "unparseable"]
    assert str(df["timestamp"].dt.tz) == sh


def test_timestamps_from_a_database_driver() -> None:
    aware = pd.Series(pd.to_datetime(["2024-03-01T02:00:00Z"], utc=True))
    assert parse_timestamps(aware)["timestamp"].iloc[0] == pd.Timestamp("2024-03-01 10:00", tz="Asia/Shanghai")


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=dt.date(1890, 1, 1), max_value=dt.date(2100, 12, 31)),
       style=st.sampled_from(["{d:%Y%m%d}", "{d:%Y-%m-%d}", "{d.year}/{d.month}/{d.day}", "{d.year}年{d.month}月{d.day}日",
                              "{d:%Y-%m-%d}T12:00:00"]),
       wide=st.booleans())
def test_every_real_date_round_trips(day: dt.date, style: str, wide: bool) -> None:
    text = style.format(d=day)
    if wide:
        text = text.translate(FULL_WIDTH)
    row = one(text)
    assert row["date"] == pd.Timestamp(day), text

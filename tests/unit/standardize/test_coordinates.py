"""Coordinates: missing, zero, swapped (fixed) and out-of-area points."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from community_dw.standardize.coordinates import CHINA_BBOX, standardize_coordinates

ZHONGSHAN = (113.1, 22.1, 113.7, 22.8)


def test_cases() -> None:
    lon = pd.Series([113.39, 22.52, 0, None, "abc", "113.4°", 2.35, 113.39, "１１３.３９"])
    lat = pd.Series([22.52, 113.39, 22.5, 22.5, 22.5, "22.5", 48.85, 0.0, "22.52"])
    out = standardize_coordinates(lon, lat)
    assert out["coord_issue"].fillna("").tolist() == ["", "swapped_fixed", "zero", "missing", "not_a_number", "",
                                                      "out_of_area", "zero", ""]
    assert out.loc[1, ["longitude", "latitude"]].tolist() == [113.39, 22.52]
    assert out.loc[5, ["longitude", "latitude"]].tolist() == [113.4, 22.5]
    assert out.loc[8, ["longitude", "latitude"]].tolist() == [113.39, 22.52]
    assert out.loc[[2, 3, 4, 6, 7], "longitude"].isna().all()
    issues = out["coord_issue"]
    assert issues.isna().tolist() == [True, False, False, False, False, True, False, False, True]


def test_city_box() -> None:
    out = standardize_coordinates(pd.Series([113.39, 116.40]), pd.Series([22.52, 39.90]), bbox=ZHONGSHAN)
    assert out["coord_issue"].isna().tolist() == [True, False]
    assert out["coord_issue"].iloc[1] == "out_of_area"


def test_numeric_input_and_index() -> None:
    out = standardize_coordinates(pd.Series([113.39, np.nan], index=[4, 5]), pd.Series([22.52, 22.5], index=[4, 5]))
    assert list(out.index) == [4, 5]
    assert out["coord_issue"].iloc[1] == "missing"


@settings(max_examples=300, deadline=None)
@given(lon=st.floats(CHINA_BBOX.min_lon, CHINA_BBOX.max_lon), lat=st.floats(CHINA_BBOX.min_lat, CHINA_BBOX.max_lat),
       swap=st.booleans())
def test_any_swapped_chinese_point_is_restored(lon: float, lat: float, swap: bool) -> None:
    if lon == 0 or lat == 0:
        return
    a, b = (lat, lon) if swap else (lon, lat)
    row = standardize_coordinates(pd.Series([a]), pd.Series([b])).iloc[0]
    assert (row["longitude"], row["latitude"]) == (lon, lat)
    assert (row["coord_issue"] == "swapped_fixed") if swap else pd.isna(row["coord_issue"])

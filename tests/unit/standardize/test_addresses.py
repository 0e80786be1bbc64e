"""Addresses: conservative normalization, and the key matching residents to buildings."""

from __future__ import annotations

import pandas as pd
import pytest

from community_dw.standardize.addresses import address_key, chinese_numeral, standardize_addresses


def std(value: object) -> object:
    return standardize_addresses(pd.Series([value])).iloc[0]


def key(value: object, **kwargs: object) -> object:
    return address_key(pd.Series([value]), **kwargs).iloc[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("岐关西路１２號", "岐关西路12号"), ("岐关西路 12 号 2 栋", "岐关西路12号2栋"), ("岐关西路12号（A座）", "岐关西路12号(A座)"),
     ("中山市\u3000东区", "中山市东区"), ("二〇一房", "二〇一房"), ("12〇3房", "1203房"), ("兴中道6号之3", "兴中道6号之3"),
     ("廣東省中山市東區", "广东省中山市东区"), ("A座１２０３", "A座1203")],
)
def test_standardize(raw: str, expected: str) -> None:
    assert std(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000"])
def test_blank(raw: object) -> None:
    assert pd.isna(std(raw)) and pd.isna(key(raw))


def test_idempotent() -> None:
    once = standardize_addresses(pd.Series(["广东省中山市 石岐街道 岐关西路１２號２幢"]))
    pd.testing.assert_series_equal(once, standardize_addresses(once))


@pytest.mark.parametrize(
    "raw",
    ["广东省中山市石岐街道岐关西路12号2栋1203房", "中山市石岐街道岐关西路12号2幢1203", "石岐街道岐关西路十二号二栋",
     "岐关西路12号2号楼", "岐关西路12号2座", "岐关西路12号2#楼", "岐关西路１２號２棟", "岐关西路12号,2栋"],
)
def test_resident_and_building_keys_meet(raw: str) -> None:
    building = key("中山市石岐街道岐关西路12号2栋", strip_prefixes=["石岐街道"], building_level=True)
    assert building == "岐关西路12号2栋"
    assert key(raw, strip_prefixes=["石岐街道"], building_level=True) == building


def test_room_kept_without_building_level() -> None:
    assert key("岐关西路12号2栋1203房") == "岐关西路12号2栋1203房"


def test_district_only_stripped_after_city() -> None:
    assert key("广州市天河区天河路1号") == "天河路1号"
    assert key("碧桂园二区3栋") == "碧桂园2区3栋"  # a compound's 区 at the start is not a district


def test_building_level_without_building_number() -> None:
    assert key("岐关西路12号1203房", building_level=True) == "岐关西路12号"


@pytest.mark.parametrize(("text", "value"), [("二", 2), ("十", 10), ("十二", 12), ("二十三", 23), ("一二零三", 1203),
                                             ("两百零五", 205), ("二〇一", 201)])
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_numeral(text) == value

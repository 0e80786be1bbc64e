"""Normalize free-text addresses (户籍地址, 现住址, 楼栋地址) and build the key that matches a
resident's current address to a building in the grid register.

``standardize_addresses`` is conservative — it changes how an address is *written*, never what it
says: NFKC (full-width digits, letters and brackets to ASCII), whitespace removed, traditional
forms of address words (號 樓 區 鎮 …) to simplified, and 〇 between digits to 0. Anything
cleverer (dropping the city, numerals, 幢 vs 栋) belongs in ``address_key``, which is only ever
compared, never shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from community_dw.standardize._text import WHITESPACE_RE, as_text, nfkc, on_unique

#: Traditional -> simplified for characters common in Chinese addresses. Deliberately a short
#: explicit list rather than OpenCC: a place name is a proper name and must not be "corrected".
ADDRESS_VARIANTS: dict[str, str] = dict(
    zip(
        "號樓區鎮縣廣東門層單棟園莊灣嶺崗華興學場廠橋館裏裡衛國陽龍鳳邨屬環燈塘衝厦廈豐盧鄉車站處層樹嶼灘頭",
        "号楼区镇县广东门层单栋园庄湾岭岗华兴学场厂桥馆里里卫国阳龙凤村属环灯塘冲厦厦丰卢乡车站处层树屿滩头",
        strict=True,
    )
)
_VARIANT_TABLE = {ord(k): v for k, v in ADDRESS_VARIANTS.items() if k != v}
_DASHES_RE = r"[‐‑‒–—―−﹣]"

CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
             "九": 9}
_UNITS = "栋幢座号楼层单元室房期区巷弄街组排户"
_CN_NUM_RUN = re.compile(rf"第?([〇零一二两三四五六七八九十百]+)(?=[{_UNITS}])")
_HAS_CN_NUM = rf"[〇零一二两三四五六七八九十百](?=[{_UNITS}])"

_PROVINCE_RE = r"^(?:[^省]{2,3}省|[^区]{2,6}自治区|北京市|上海市|天津市|重庆市)"
_CITY_RE = r"^[^市省区县]{2,4}市"
_DISTRICT_RE = r"^[^区县市镇]{1,4}(?:区|县)"


def standardize_addresses(raw: pd.Series) -> pd.Series:
    """Conservatively normalized address text on the input's index (NA when blank)."""

    def norm(u: pd.Series) -> pd.Series:
        s = nfkc(u).str.replace(WHITESPACE_RE, "", regex=True)
        s = s.str.translate(_VARIANT_TABLE).str.replace(_DASHES_RE, "-", regex=True)
        s = s.str.replace(r"(?<=\d)〇|〇(?=\d)", "0", regex=True)
        return s.where(s != "")

    return on_unique(as_text(raw), norm)


def chinese_numeral(text: str) -> int:
    """二十三 -> 23, 一二零三 -> 1203, 十 -> 10, 两百零五 -> 205 (sufficient for house numbers)."""
    if "十" not in text and "百" not in text:
        return int("".join(str(CN_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c == "百":
            total += (current or 1) * 100
            current = 0
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = CN_DIGITS[c]
    return total + current


def _numerals_to_digits(value: str) -> str:
    return _CN_NUM_RUN.sub(lambda m: str(chinese_numeral(m.group(1))), value)


def address_key(
    addresses: pd.Series,
    strip_prefixes: Iterable[str] = (),
    building_level: bool = False,
) -> pd.Series:
    """A comparison key: residents' 现住址 and buildings' 楼栋地址 for the same place share it.

    On top of ``standardize_addresses``: a leading province, city and (after a city) district are
    removed, then any of ``strip_prefixes`` (pass the subdistrict and community names: 石岐街道,
    莲塘社区) — longest first, repeatedly; Chinese numerals before a unit become digits (三栋 ->
    3栋); 幢/座/号楼/#楼 -> 栋; 12# -> 12号; punctuation and brackets dropped. With
    ``building_level`` the key stops after the building: everything after the first 栋 (or, with no
    栋, after the first 号) — the room — is cut, so a resident's key equals its building's.
    """
    prefixes = sorted({p for p in strip_prefixes if p}, key=len, reverse=True)
    prefix_re = "^(?:" + "|".join(re.escape(p) for p in prefixes) + ")+" if prefixes else None

    def key(u: pd.Series) -> pd.Series:
        s = standardize_addresses(u)
        s = s.str.replace(_PROVINCE_RE, "", regex=True)
        had_city = s.str.contains(_CITY_RE).fillna(False).astype(bool)
        s = s.str.replace(_CITY_RE, "", regex=True)
        s = s.where(~had_city, s.str.replace(_DISTRICT_RE, "", regex=True))
        if prefix_re:
            s = s.str.replace(prefix_re, "", regex=True)
        has_cn = s.str.contains(_HAS_CN_NUM).fillna(False).astype(bool)
        if has_cn.any():
            s[has_cn] = s[has_cn].map(_numerals_to_digits)
        s = s.str.replace(r"(?<=\d)#楼|号楼|[幢座]", "栋", regex=True)
        s = s.str.replace(r"(?<=\d)#", "号", regex=True)
        s = s.str.replace(r"栋楼", "栋", regex=True)
        s = s.str.replace(r"[^\w\-]|_", "", regex=True).str.lower()
        if building_level:
            s = s.str.replace(r"^(.*?栋).*$", r"\1", regex=True)
            s = s.where(s.str.contains("栋").fillna(False).astype(bool),
                        s.str.replace(r"^(.*?号).*$", r"\1", regex=True))
        return s.where(s != "")

    return on_unique(as_text(addresses), key)

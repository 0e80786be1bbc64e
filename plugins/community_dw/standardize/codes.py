"""Small value maps: department spellings of code values (ethnicity, ID type, population type,
change type) to one canonical value each, with an issue code for blanks and unknown values.

These lists are national standards (GB 3304 for ethnicities) or fixed by SOURCES.md, so they live
in code; a city whose departments spell them differently adds a spelling to the map.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from community_dw.standardize import reasons
from community_dw.standardize._text import WHITESPACE_RE, as_text, frame_on_unique, nfkc

#: GB 3304 ethnicity codes and names, in code order; 97/98 are the two non-ethnic categories.
ETHNICITIES: dict[str, str] = {
    "01": "汉族", "02": "蒙古族", "03": "回族", "04": "藏族", "05": "维吾尔族", "06": "苗族",
    "07": "彝族", "08": "壮族", "09": "布依族", "10": "朝鲜族", "11": "满族", "12": "侗族",
    "13": "瑶族", "14": "白族", "15": "土家族", "16": "哈尼族", "17": "哈萨克族", "18": "傣族",
    "19": "黎族", "20": "傈僳族", "21": "佤族", "22": "畲族", "23": "高山族", "24": "拉祜族",
    "25": "水族", "26": "东乡族", "27": "纳西族", "28": "景颇族", "29": "柯尔克孜族", "30": "土族",
    "31": "达斡尔族", "32": "仫佬族", "33": "羌族", "34": "布朗族", "35": "撒拉族", "36": "毛南族",
    "37": "仡佬族", "38": "锡伯族", "39": "阿昌族", "40": "普米族", "41": "塔吉克族", "42": "怒族",
    "43": "乌孜别克族", "44": "俄罗斯族", "45": "鄂温克族", "46": "德昂族", "47": "保安族",
    "48": "裕固族", "49": "京族", "50": "塔塔尔族", "51": "独龙族", "52": "鄂伦春族", "53": "赫哲族",
    "54": "门巴族", "55": "珞巴族", "56": "基诺族", "97": "其他", "98": "外国血统中国籍人士",
}


def _ethnicity_spellings() -> dict[str, str]:
    """Every accepted spelling -> canonical name: 汉族, 汉, 01, 1, traditional 漢族 and colloquial
    short forms (维族, 蒙族) all mean the same people."""
    m: dict[str, str] = {}
    for code, name in ETHNICITIES.items():
        m[name] = name
        m[code] = name
        m[str(int(code))] = name
        if name.endswith("族"):
            m[name[:-1]] = name  # 汉 -> 汉族, 回 -> 回族, 维吾尔 -> 维吾尔族
    m.update({"维族": "维吾尔族", "蒙族": "蒙古族", "朝族": "朝鲜族", "哈族": "哈萨克族",
              "漢族": "汉族", "漢": "汉族", "滿族": "满族", "壯族": "壮族", "維吾爾族": "维吾尔族",
              "其它": "其他", "其他族": "其他", "穿青人": "其他", "未识别民族": "其他",
              "外国血统": "外国血统中国籍人士", "入籍": "外国血统中国籍人士"})
    return m


ETHNICITY_MAP = _ethnicity_spellings()
ETHNICITY_CODE = {name: code for code, name in ETHNICITIES.items()}

#: 证件类型 -> canonical id_type code.
ID_TYPE_MAP: dict[str, str] = {
    "居民身份证": "resident_id", "身份证": "resident_id", "二代身份证": "resident_id",
    "中华人民共和国居民身份证": "resident_id", "临时居民身份证": "resident_id",
    "护照": "passport", "外国护照": "passport", "中国护照": "passport", "普通护照": "passport",
    "港澳居民居住证": "hk_macao_residence_permit",
    "台湾居民居住证": "taiwan_residence_permit",
    "港澳居民来往内地通行证": "hk_macao_travel_permit", "回乡证": "hk_macao_travel_permit",
    "台湾居民来往大陆通行证": "taiwan_travel_permit", "台胞证": "taiwan_travel_permit",
    "外国人永久居留身份证": "foreign_permanent_residence_id",
    "外国人永久居留证": "foreign_permanent_residence_id",
    "出生医学证明": "birth_certificate",
    "其他": "other", "其它": "other",
}

#: 人口类型 -> canonical population_type code.
POPULATION_TYPE_MAP: dict[str, str] = {
    "户籍人口": "registered", "户籍": "registered", "常住户籍": "registered",
    "流动人口": "floating", "流动": "floating", "暂住人口": "floating",
    "境外人员": "foreign", "境外": "foreign", "境外人口": "foreign", "外籍人员": "foreign",
}

#: 变动类型 (delta files) -> canonical change_type code.
CHANGE_TYPE_MAP: dict[str, str] = {
    "新增": "added", "出生": "added", "迁入": "moved_in", "迁出": "moved_out", "死亡": "died",
    "信息变更": "changed", "变更": "changed", "注销": "removed",
}


def _spelling_key(raw: pd.Series) -> pd.Series:
    """NFKC, no whitespace, lower case: the form a spelling map is keyed on."""
    return nfkc(as_text(raw)).str.replace(WHITESPACE_RE, "", regex=True).str.lower()


def map_codes(raw: pd.Series, mapping: Mapping[str, str], column: str) -> pd.DataFrame:
    """Map spellings to canonical values; returns DataFrame[<column>, <column>_issue].

    The issue is ``blank`` for an empty cell and ``unknown_value`` for a spelling not in the map,
    so an unmapped value is visible in quarantine instead of silently turning into NA.
    """
    return frame_on_unique(as_text(raw), lambda u: _map_codes(u, mapping, column))


def _map_codes(raw: pd.Series, mapping: Mapping[str, str], column: str) -> pd.DataFrame:
    key = _spelling_key(raw)
    lowered = {k.lower(): v for k, v in mapping.items()}
    values = key.map(lowered).astype("str")
    blank = (key.isna() | (key == "")).to_numpy()
    issue = np.full(len(key), None, dtype=object)
    issue[~blank & values.isna().to_numpy()] = reasons.UNKNOWN_VALUE
    issue[blank] = reasons.BLANK
    return pd.DataFrame(
        {column: values, f"{column}_issue": pd.Series(issue, index=key.index, dtype="str")}
    )


def standardize_ethnicity(raw: pd.Series) -> pd.DataFrame:
    """DataFrame[ethnicity, ethnicity_code, ethnicity_issue]: GB 3304 name ('汉族') and code ('01')."""
    out = map_codes(raw, ETHNICITY_MAP, "ethnicity")
    code = out["ethnicity"].map(ETHNICITY_CODE).astype("str")
    return pd.DataFrame(
        {"ethnicity": out["ethnicity"], "ethnicity_code": code, "ethnicity_issue": out["ethnicity_issue"]}
    )


def standardize_id_type(raw: pd.Series) -> pd.DataFrame:
    """DataFrame[id_type, id_type_issue]: resident_id, passport, hk_macao_residence_permit, …"""
    return map_codes(raw, ID_TYPE_MAP, "id_type")


def standardize_population_type(raw: pd.Series) -> pd.DataFrame:
    """DataFrame[population_type, population_type_issue]: registered, floating or foreign."""
    return map_codes(raw, POPULATION_TYPE_MAP, "population_type")


def standardize_change_type(raw: pd.Series) -> pd.DataFrame:
    """DataFrame[change_type, change_type_issue]: added, moved_in, moved_out, died, changed, removed."""
    return map_codes(raw, CHANGE_TYPE_MAP, "change_type")

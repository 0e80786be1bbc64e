"""Normalize person names (姓名) to one written form, plus the keys person matching compares.

Departments type the same person as 陳大文, 陈 大文, ＣＨＥＮ or 阿卜杜•热合曼 / 阿卜杜.热合曼 /
阿卜杜热合曼. Names repeat (a million residents share a few hundred thousand names), so the costly
steps — OpenCC conversion and pinyin — run once per distinct value and are mapped back.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd

from community_dw.standardize import reasons
from community_dw.standardize._text import WHITESPACE_RE, as_text, nfkc

MIDDLE_DOT = "·"
#: Every character seen standing in for the middle dot of a transliterated name: ASCII and
#: full-width full stops, bullets, hyphenation point, katakana middle dots, dot operators, the
#: Greek ano teleia, Hangul and Canadian-syllabics dots, ideographic full stop, word separators.
DOT_VARIANTS = (
    ".\u00b7\u0387\u2022\u2027\u2219\u22c5\u2218\u25e6\u25cf\u02d9\u30fb\uff65\u1427"
    "\u2e31\u318d\ufe52\uff0e\u3002\u00b0\u2024"
)
# NFKC runs first and maps some variants to others (U+318D -> U+119E, U+FF65 -> U+30FB): match both.
_DOT_CHARS = "".join(sorted(set(DOT_VARIANTS) | set(unicodedata.normalize("NFKC", DOT_VARIANTS)) - {" "}))
_DOT_RE = "[" + _DOT_CHARS.replace(".", "\\.") + "]"
HAN_RE = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
#: Characters OpenCC t2s would change although they are also correct simplified name characters
#: (乾 as in 乾坤 is its own character in the simplified standard, not traditional 干).
PROTECTED_FROM_T2S = "乾"
_PROTECT_MARK = "\ue000"  # private-use stand-in while OpenCC runs

COLUMNS = ["name", "name_key", "name_pinyin", "name_had_traditional", "name_issue"]


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(values: np.ndarray) -> list[str]:
    """OpenCC t2s over many strings in one call (joined by newlines), protecting a few characters.

    One ``convert`` of a joined string is ~50x faster than one call per name.
    """
    if len(values) == 0:
        return []
    joined = "\n".join(values)
    for c in PROTECTED_FROM_T2S:
        joined = joined.replace(c, _PROTECT_MARK)
    out = _t2s().convert(joined)
    for c in PROTECTED_FROM_T2S:
        out = out.replace(_PROTECT_MARK, c)
    parts = out.split("\n")
    if len(parts) != len(values):  # defensive: a converter must never merge or split lines
        return [_t2s().convert(v) for v in values]
    return parts


_PINYIN_CACHE: dict[str, str] = {}


def _pinyin_table(chars: set[str]) -> dict[int, str]:
    """str.translate table: each Han character to its pypinyin reading, e.g. 陈 -> 'chen'.

    Names are not dictionary phrases, so per-character ``lazy_pinyin`` gives the same key as a
    whole-name call for all but a handful of names, at a fraction of the cost; and a matching key
    only has to be the same on both sides.
    """
    from pypinyin import lazy_pinyin

    missing = [c for c in chars if c not in _PINYIN_CACHE]
    for c in missing:
        _PINYIN_CACHE[c] = "".join(lazy_pinyin(c)).lower()
    return {ord(c): _PINYIN_CACHE[c] for c in chars}


def _han_chars(values: pd.Series) -> set[str]:
    import re

    return set(re.findall(HAN_RE, "".join(values.dropna().tolist())))


def _normalize_unique(u: pd.Series) -> pd.DataFrame:
    """The whole normalization on distinct raw names (one row each)."""
    s = nfkc(u)
    has_han = s.str.contains(HAN_RE).fillna(False).astype(bool)
    # Chinese names: no whitespace at all, any dot variant (or a hyphen between characters) -> ·
    han = s[has_han].str.replace(WHITESPACE_RE, "", regex=True)
    han = han.str.replace(_DOT_RE + "+", MIDDLE_DOT, regex=True)
    han = han.str.replace(f"(?<={HAN_RE})[-‐‑–—]+(?={HAN_RE})", MIDDLE_DOT, regex=True)
    han = han.str.replace("·+", MIDDLE_DOT, regex=True).str.strip(MIDDLE_DOT)
    simplified = pd.Series(to_simplified(han.to_numpy(dtype=object)), index=han.index, dtype="str")
    had_trad = (simplified != han).to_numpy()
    # Latin-script names (foreigners, or pinyin typed instead of characters): one space, upper case.
    latin = s[~has_han].str.replace(WHITESPACE_RE, " ", regex=True).str.strip().str.upper()

    name = pd.Series(pd.NA, index=u.index, dtype="str")
    name[has_han.to_numpy()] = simplified
    name[~has_han.to_numpy()] = latin
    # Removing a space can leave a letter and a combining mark side by side (NFKC turns a spacing
    # diaeresis into space + U+0308): compose again so a second pass changes nothing.
    name = name.str.normalize("NFC")
    name = name.where(name != "")
    trad = np.zeros(len(u), dtype=bool)
    trad[has_han.to_numpy()] = had_trad

    key = name.str.replace(r"[\s·.\-'’]", "", regex=True)
    table = _pinyin_table(_han_chars(name))
    pinyin = key.str.translate(table).str.lower().str.replace(r"[^a-z0-9]", "", regex=True)
    letters = name.str.contains(r"[^\W\d_]").fillna(False).astype(bool).to_numpy()

    issue = np.full(len(u), None, dtype=object)
    issue[name.notna().to_numpy() & ~letters] = reasons.NO_LETTERS
    issue[name.isna().to_numpy()] = reasons.BLANK
    return pd.DataFrame(
        {
            "name": name,
            "name_key": key.where(key != ""),
            "name_pinyin": pinyin.where(pinyin != ""),
            "name_had_traditional": trad,
            "name_issue": pd.Series(issue, index=u.index, dtype="str"),
        }
    )


def standardize_names(raw: pd.Series) -> pd.DataFrame:
    """Standardize names; returns DataFrame on the input's index with

    - ``name`` (str): NFKC, traditional -> simplified (OpenCC t2s), no whitespace, every middle-dot
      variant as ``·`` (U+00B7), none leading or trailing. A name with no Han character (a
      foreigner's, or pinyin typed in) is kept in Latin letters, upper case, single-spaced;
    - ``name_key`` (str): ``name`` without middle dots, spaces or punctuation — 阿卜杜·热合曼 and
      阿卜杜热合曼 share it;
    - ``name_pinyin`` (str): lower-case toneless pinyin without separators ('chendawen'); Latin
      names give their letters, so 'CHEN DAWEN' meets 陈大文 here;
    - ``name_had_traditional`` (bool): OpenCC changed at least one character;
    - ``name_issue`` (str): NA, blank, or no_letters (digits or symbols only).
    """
    s = as_text(raw)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniques, dtype=object), dtype="str")
    norm = _normalize_unique(u)
    valid = codes >= 0
    take = np.where(valid, codes, 0)
    out = {}
    for col in COLUMNS:
        values = norm[col].to_numpy(dtype=object) if len(norm) else np.empty(0, dtype=object)
        col_values = values[take] if len(norm) else np.full(len(s), None, dtype=object)
        if col == "name_had_traditional":
            out[col] = np.where(valid, col_values, False).astype(bool)
        else:
            col_values = np.where(valid, col_values, None)
            out[col] = pd.Series(col_values, index=s.index, dtype="str")
    result = pd.DataFrame(out, index=s.index)
    result.loc[~valid, "name_issue"] = reasons.BLANK
    return result


def pinyin_key(raw: pd.Series) -> pd.Series:
    """Just the pinyin key of each name (same rules as ``standardize_names``' ``name_pinyin``)."""
    return standardize_names(raw)["name_pinyin"]



"""Names: traditional characters, stray and full-width spaces, full-width letters, middle dots."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from community_dw.standardize.names import COLUMNS, DOT_VARIANTS, MIDDLE_DOT, standardize_names


def one(value: object) -> pd.Series:
    return standardize_names(pd.Series([value])).iloc[0]


def test_traditional_to_simplified() -> None:
    row = one("陳大文")
    assert row["name"] == "陈大文"
    assert row["name_had_traditional"]
    assert row["name_pinyin"] == "chendawen"
    assert not one("陈大文")["name_had_traditional"]


@pytest.mark.parametrize("raw", ["張偉", "張 偉", "张　伟", " 张伟 ", "張\t偉"])
def test_spaces_and_traditional(raw: str) -> None:
    assert one(raw)["name"] == "张伟"


@pytest.mark.parametrize(
    "raw",
    ["阿卜杜•热合曼", "阿卜杜.热合曼", "阿卜杜‧热合曼", "阿卜杜·热合曼", "阿卜杜・热合曼", "阿卜杜．热合曼",
     "阿卜杜･热合曼", "阿卜杜 · 热合曼", "阿卜杜··热合曼", "·阿卜杜·热合曼·", "阿卜杜-热合曼", "阿卜杜∙热合曼"],
)
def test_middle_dot_variants(raw: str) -> None:
    row = one(raw)
    assert row["name"] == "阿卜杜·热合曼"
    assert row["name_key"] == "阿卜杜热合曼"


def test_missing_middle_dot_meets_on_keys() -> None:
    dotted, bare = one("阿卜杜•热合曼"), one("阿卜杜热合曼")
    assert bare["name"] == "阿卜杜热合曼"  # a missing dot cannot be restored ...
    assert dotted["name_key"] == bare["name_key"]  # ... but the keys meet
    assert dotted["name_pinyin"] == bare["name_pinyin"]
    assert MIDDLE_DOT not in dotted["name_pinyin"]


def test_full_width_letters() -> None:
    row = one("ＪＯＨＮ　ＳＭＩＴＨ")
    assert row["name"] == "JOHN SMITH"
    assert row["name_pinyin"] == "johnsmith"
    assert one("  john   smith")["name"] == "JOHN SMITH"


def test_full_width_letters_inside_a_chinese_name() -> None:
    assert one("王ＡＢ")["name"] == "王AB"


def test_pinyin_typed_instead_of_characters_meets_on_pinyin() -> None:
    assert one("Chen Dawen")["name_pinyin"] == one("陳大文")["name_pinyin"]


def test_compound_surname_and_traditional_given_name() -> None:
    row = one("歐陽鋒")
    assert row["name"] == "欧阳锋"
    assert row["name_pinyin"] == "ouyangfeng"


def test_protected_character_kept() -> None:
    assert one("张乾")["name"] == "张乾"  # t2s would make it 张干


@pytest.mark.parametrize(("raw", "issue"), [(None, "blank"), ("", "blank"), ("\u3000 ", "blank"), ("123", "no_letters"),
                                            ("··", "no_letters")])
def test_issues(raw: object, issue: str) -> None:
    assert one(raw)["name_issue"] == issue


def test_frame_shape_index_and_repetition() -> None:
    raw = pd.Series(["陳大文", None, "陳大文", "李四"], index=[5, 6, 7, 8])
    df = standardize_names(raw)
    assert list(df.columns) == COLUMNS
    assert list(df.index) == [5, 6, 7, 8]
    assert df["name"].tolist()[0] == df["name"].tolist()[2] == "陈大文"
    assert df["name_had_traditional"].dtype == bool
    assert standardize_names(pd.Series([], dtype=object)).shape == (0, len(COLUMNS))


HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@settings(max_examples=200, deadline=None)
@given(
    given_name=st.text(alphabet=HAN, min_size=1, max_size=4),
    family=st.text(alphabet=HAN, min_size=1, max_size=4),
    dot=st.sampled_from(list(DOT_VARIANTS)),
    pad=st.sampled_from(["", " ", "\u3000", "  "]),
)
# A character the pinyin table has no reading for leaves name_pinyin missing (NaN) both ways.
@example(given_name="痮", family="痮", dot=".", pad="")
def test_dot_and_spacing_never_change_the_keys(given_name: str, family: str, dot: str, pad: str) -> None:
    def same(a: object, b: object) -> bool:
        return (pd.isna(a) and pd.isna(b)) or a == b

    plain = one(given_name + MIDDLE_DOT + family)
    typed = one(pad + given_name + pad + dot + pad + family + pad)
    assert typed["name"] == plain["name"]
    assert typed["name_key"] == plain["name_key"]
    assert same(typed["name_pinyin"], plain["name_pinyin"])
    assert same(one(given_name + family)["name_pinyin"], plain["name_pinyin"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=8), min_size=0, max_size=20))
@example(["E\u00a8\U00020000"])  # spacing diaeresis: NFKC gives space + U+0308, the space is then removed
def test_never_fails_and_is_idempotent(values: list[str]) -> None:
    first = standardize_names(pd.Series(values, dtype=object))
    again = standardize_names(first["name"])
    pd.testing.assert_series_equal(first["name"], again["name"])
    assert set(first["name_issue"].dropna()) <= {"blank", "no_letters"}

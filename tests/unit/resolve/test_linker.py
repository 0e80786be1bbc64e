"""The settings-driven linker on plain frames: settings validation, priors, pairs between lists."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from community_dw.resolve.linker import dedupe_list, link_lists, load_settings, smooth, splink_settings


def test_the_person_settings_load_with_a_version() -> None:
    settings = load_settings("person")
    assert settings.version.startswith("person@") and len(settings.version) == len("person@") + 12
    assert 0 < settings.lower <= settings.upper < 1
    assert len(splink_settings(settings)["comparisons"]) == len(settings.comparisons)


def test_an_undeclared_column_is_refused(tmp_path: Path) -> None:
    text = (Path(__file__).parents[3] / "plugins/community_dw/resolve/settings/person.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  - [id_body]\n", "  - [passport]\n", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="passport"):
        load_settings(bad)


def test_smoothing_removes_infinite_weights() -> None:
    model = {"comparisons": [{"comparison_levels": [
        {"is_null_level": True}, {"m_probability": 1.0, "u_probability": 0.01},
        {"m_probability": None, "u_probability": 0.0}, {"m_probability": 0.0, "u_probability": 0.99}]}]}
    levels = smooth(model, 0.001, 1e-7)["comparisons"][0]["comparison_levels"][1:]
    assert all(lvl["m_probability"] > 0 and lvl["u_probability"] > 0 for lvl in levels)
    assert sum(lvl["m_probability"] for lvl in levels) == pytest.approx(1.0)


def test_link_lists_finds_the_person_a_staff_list_names() -> None:
    settings = load_settings("person")
    people = pd.DataFrame({
        "uid": ["p1", "p2", "p3"], "name": ["张建国", "王伟", "王伟"],
        "birth_date": ["1965-04-12", "1980-01-01", "1995-06-01"],
        "phone": ["13800000001", "13800000002", "13800000003"], "sex": ["M", "M", "M"]})
    staff_list = pd.DataFrame({"uid": ["s1", "s2"], "name": ["王伟", "张建国"],
                               "birth_date": ["1995-06-01", None], "phone": [None, "13800000001"]})
    pairs = link_lists(staff_list, people, settings)
    best = pairs.sort_values("match_probability").drop_duplicates("uid_l", keep="last").set_index("uid_l")
    # name + birth date alone is strong but not certain: the best candidate, for a person to confirm
    assert best.loc["s1", "uid_r"] == "p3" and best.loc["s1", "match_probability"] >= settings.lower
    assert best.loc["s2", "uid_r"] == "p1" and best.loc["s2", "match_probability"] >= settings.upper
    assert "p2" not in set(pairs[pairs.uid_l == "s1"].uid_r)  # same name, another birth date


def test_dedupe_list_pairs_a_day_month_swap() -> None:
    settings = load_settings("person")
    frame = pd.DataFrame({"uid": ["a", "b"], "name": ["刘洋", "刘洋"], "birth_date": ["1988-03-07", "1988-07-03"],
                          "phone": ["13900000001", "13900000001"]})
    pairs = dedupe_list(frame, settings, threshold=0.0)
    assert len(pairs) == 1 and pairs.match_probability.iloc[0] >= settings.upper


def test_twins_sharing_everything_but_the_name_are_never_linked_automatically() -> None:
    settings = load_settings("person")
    frame = pd.DataFrame({"uid": ["a", "b"], "name": ["SATO KENJI", "ROSSI RAHUL"],
                          "birth_date": ["2024-09-13"] * 2, "phone": ["19893996625"] * 2,
                          "household_no": ["442005749529"] * 2, "sex": ["M"] * 2})
    pairs = dedupe_list(frame, settings, threshold=0.0)
    assert len(pairs) == 1 and pairs.match_probability.iloc[0] < settings.upper
    assert pairs.match_weight.iloc[0] > 0  # the evidence is kept for the reviewer; only the link is refused


def test_a_missing_middle_dot_is_the_same_name_counted_once() -> None:
    settings = load_settings("person")
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "name": ["约翰·史密斯", "约翰史密斯", "约翰·史密斯"],
                          "name_key": ["约翰史密斯"] * 3, "name_pinyin": ["yuehanshimisi"] * 3,
                          "birth_date": ["2011-06-17"] * 3, "birth_year": ["2011"] * 3, "sex": ["M"] * 3})
    pairs = dedupe_list(frame, settings, threshold=0.0).set_index(["uid_l", "uid_r"])
    assert pairs.loc[("a", "b"), "gamma_name"] == pairs.loc[("a", "c"), "gamma_name"] - 1  # the name_key level
    # name and pinyin are one comparison: an exact name is not also credited for its pinyin
    assert pairs.loc[("a", "c"), "match_weight"] - pairs.loc[("a", "b"), "match_weight"] < 10


def test_a_comparison_keeps_its_own_m_floor() -> None:
    model = {"comparisons": [{"output_column_name": "name", "comparison_levels": [
        {"m_probability": 1.0, "u_probability": 0.01}, {"m_probability": 0.0, "u_probability": 0.99}]}]}
    levels = smooth(model, 0.001, 1e-7, {"name": 1e-6})["comparisons"][0]["comparison_levels"]
    assert levels[1]["m_probability"] == pytest.approx(1e-6, rel=1e-3)

"""Each planted defect appears at its configured rate, and the truth says exactly where."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from stdnum.cn import ric

from community_dw.simulate.defects import TRADITIONAL_PATTERN, DefectRates
from community_dw.simulate.truth import read_truth

from .conftest import city_path

RATES = DefectRates()


@pytest.fixture(scope="module")
def full(rate_city):
    path = city_path(rate_city, "public_security", "residents_full_20261101.csv")
    frame = pd.read_csv(path, encoding="gb18030", dtype=str, keep_default_na=False)
    records = read_truth(rate_city.out_dir, "public_security_records")
    records = records[records.file == path.name].sort_values("row_number").reset_index(drop=True)
    persons = read_truth(rate_city.out_dir, "persons").set_index("person_id")
    truth = persons.loc[records.person_id].reset_index()
    defects = read_truth(rate_city.out_dir, "defects")
    defects = defects[defects.delivery == path.name]
    return frame, records, truth, defects


def _assert_rate(hits: int, n: int, rate: float) -> None:
    """Within five standard errors (plus one count) of the configured rate."""
    assert n > 0
    sd = math.sqrt(rate * (1 - rate) / n)
    assert abs(hits / n - rate) <= 5 * sd + 1 / n, f"{hits}/{n} = {hits / n:.4f}, expected {rate}"


def _count(defects: pd.DataFrame, column: str, defect_type: str) -> int:
    return int(((defects.column == column) & (defects.defect_type == defect_type)).sum())


def test_public_security_rates(full) -> None:
    frame, records, truth, defects = full
    n = len(frame)
    _assert_rate(_count(defects, "楼栋编码", "blank"), n, RATES.building_code_blank)
    _assert_rate(_count(defects, "性别", "sex_code_numeric"), n, RATES.sex_numeric)
    _assert_rate(_count(defects, "性别", "sex_code_letter"), n, RATES.sex_letter)
    _assert_rate(_count(defects, "出生日期", "date_format_dash"), n, RATES.birth_date_dash)
    _assert_rate(_count(defects, "出生日期", "date_format_slash"), n, RATES.birth_date_slash)
    _assert_rate(_count(defects, "出生日期", "date_format_chinese"), n, RATES.birth_date_chinese)
    _assert_rate(_count(defects, "姓名", "stray_space"), n, RATES.name_stray_space)
    _assert_rate(int(records.is_duplicate.sum()), n - int(records.is_duplicate.sum()), RATES.duplicate_row)
    trad = truth.name.str.contains(TRADITIONAL_PATTERN, regex=True).sum()
    _assert_rate(_count(defects, "姓名", "traditional_chars"), trad, RATES.name_traditional)
    id18 = (truth.id_number.str.len() == 18).sum()
    _assert_rate(_count(defects, "公民身份号码", "wrong_check_digit"), id18, RATES.id_wrong_check)
    _assert_rate(_count(defects, "公民身份号码", "fullwidth_digits"), id18, RATES.id_fullwidth)
    ends_x = truth.id_number.str.endswith("X").sum()
    # lowercase x is drawn among X-ending numbers that carry no other ID defect (~1% do)
    _assert_rate(_count(defects, "公民身份号码", "lowercase_x"), ends_x, RATES.id_lowercase_x * 0.99)
    has_phone = ((truth.mobile != "") | (truth.landline != "")).sum()
    _assert_rate(_count(defects, "联系电话", "blank"), has_phone, RATES.phone_blank)


def test_every_delivered_value_is_the_truth_or_a_recorded_defect(full) -> None:
    frame, records, truth, defects = full
    for column, true_values in (("姓名", truth.name), ("公民身份号码", truth.id_number),
                                ("楼栋编码", truth.building_code), ("户号", truth.household_no)):
        recorded = defects[defects.column == column]
        keys = set(recorded.record_key.astype(int))
        delivered = frame[column].to_numpy()
        differs = np.flatnonzero(delivered != true_values.to_numpy()) + 1
        assert set(differs) <= keys, f"{column}: unrecorded differences at rows {sorted(set(differs) - keys)[:5]}"
        # and each recorded defect shows in the file as recorded
        last = recorded.drop_duplicates("record_key", keep="last")
        rows = last.record_key.astype(int).to_numpy() - 1
        assert (delivered[rows] == last.delivered_value.fillna("").to_numpy()).all()


def test_id_numbers_are_valid_unless_planted(full) -> None:
    frame, records, truth, defects = full
    resident = truth[truth.id_type == "居民身份证"]
    assert resident.id_number.map(ric.is_valid).all()
    # the delivered number is valid exactly where no ID defect (other than lowercase x) was planted
    broken = set(defects[(defects.column == "公民身份号码") & (defects.defect_type != "lowercase_x")]
                 .record_key.astype(int))
    rows = resident.index.to_numpy() + 1
    delivered = frame["公民身份号码"].to_numpy()[rows - 1]
    valid = np.array([ric.is_valid(v.upper()) for v in delivered])
    planted = np.isin(rows, list(broken))
    assert valid[~planted].all()
    wrong_check = set(defects[defects.defect_type == "wrong_check_digit"].record_key.astype(int))
    assert not valid[np.isin(rows, list(wrong_check))].any()


def test_id_numbers_agree_with_birth_date_and_sex(rate_city) -> None:
    persons = read_truth(rate_city.out_dir, "persons")
    p = persons[persons.id_type == "居民身份证"]
    assert (p.id_number.str.slice(6, 14) == p.birth_date.dt.strftime("%Y%m%d")).all()
    odd = p.id_number.str.slice(16, 17).astype(int) % 2 == 1
    assert (odd == (p.sex == "男")).all()
    assert p.id_number.is_unique
    assert p.id_number.str.slice(0, 6).isin(["442000", "440620", "442724"]).mean() > 0.5


def test_health_and_civil_affairs_defects_are_recorded(rate_city) -> None:
    defects = read_truth(rate_city.out_dir, "defects")
    health = defects[defects.source == "health"]
    assert {"soft_deleted", "blank_child", "stray_space", "prefix_plus86", "corrected_before_day1"} <= set(health.defect_type)
    records = read_truth(rate_city.out_dir, "health_records")
    _assert_rate(int((health.defect_type == "stray_space").sum()), len(records), RATES.name_stray_space)
    civil = defects[defects.source == "civil_affairs"]
    assert {"coords_zero", "coords_swapped"} <= set(civil.defect_type) or len(read_truth(rate_city.out_dir, "facilities")) < 60
    grid = defects[defects.source == "grid"]
    assert {"blank", "stale_grid_code"} <= set(grid.defect_type)

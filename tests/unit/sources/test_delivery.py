"""Shared delivery helpers: values as text, JSON records through a mapping, parser dispatch."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from community_dw.sources.delivery import DeliveryError, cell_to_text, parse_delivery, parse_records
from community_dw.sources.mapping import load_mapping


@pytest.mark.parametrize(("value", "text"), [
    (None, None),
    ("", None),
    ("  ", "  "),
    ("NA", "NA"),
    (13800138000, "13800138000"),
    (24.0, "24"),
    (113.3823456, "113.3823456"),
    (4.42000198503121e17, "442000198503121000"),
    (1e-05, "0.00001"),
    (-0.5, "-0.5"),
    (True, "true"),
    (dt.datetime(1985, 3, 12), "1985-03-12"),
    (dt.datetime(2026, 11, 1, 8, 30), "2026-11-01T08:30:00"),
    (dt.date(2026, 11, 1), "2026-11-01"),
    ({"a": "甲"}, '{"a": "甲"}'),
])
def test_cell_to_text(value, text):
    assert cell_to_text(value) == text


def test_parse_records_maps_fields_and_keeps_unknown_ones():
    records = [
        {"facility_id": "MZ-442000-000123", "name": "颐养院", "capacity": 120, "longitude": 113.38,
         "updated_at": "2026-11-01T08:00:00+08:00", "rating": 5},
        {"facility_id": "MZ-442000-000124", "name": "日间照料中心", "capacity": None, "longitude": 0,
         "updated_at": "2026-11-01T09:00:00+08:00"},
    ]
    parsed = parse_records(records, load_mapping("civil_affairs_facilities"), "facilities_page_1.json")
    frame = parsed.frame
    assert parsed.columns == ["facility_id", "name", "longitude", "capacity", "updated_at"]
    assert frame["capacity"].tolist()[0] == "120" and pd.isna(frame["capacity"].iloc[1])
    assert frame["longitude"].tolist() == ["113.38", "0"]
    assert frame["source_row"].tolist() == [1, 2]
    assert [json.loads(x) for x in frame["extra"]] == [{"rating": "5"}, {"rating": None}]
    assert parsed.drift["unknown_columns"] == ["rating"]
    assert "status" in parsed.drift["missing_optional"]


def test_parse_records_requires_required_fields():
    with pytest.raises(DeliveryError, match=r"required column facility_id \(facility_id\)"):
        parse_records([{"name": "x", "updated_at": "2026"}], load_mapping("civil_affairs_facilities"), "page_1")


def test_parse_records_with_record_ids_as_source_rows():
    mapping = load_mapping("civil_affairs_service_recipients")
    parsed = parse_records([{"recipient_id": "R9", "updated_at": "2026-11-01"}], mapping, "p", source_rows=[9])
    assert parsed.frame["source_row"].tolist() == [9]
    assert pd.isna(parsed.frame["extra"].iloc[0])


def test_parse_delivery_dispatches_by_suffix(tmp_path):
    path = tmp_path / "residents_full_20261101.csv"
    path.write_text("姓名,证件类型,公民身份号码\n张三,居民身份证,44200019850312123X\n", encoding="utf-8")
    parsed = parse_delivery(path)
    assert parsed.mapping == "public_security_residents"
    assert parsed.frame["id_number"].tolist() == ["44200019850312123X"]
    other = tmp_path / "residents_full_20261101.xls"
    other.write_bytes(b"x")
    with pytest.raises(DeliveryError, match="no parser"):
        parse_delivery(other, load_mapping("public_security_residents"))

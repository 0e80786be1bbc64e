"""The deliveries have the shapes SOURCES.md promises: names, encodings, headers, title rows, rows."""

from __future__ import annotations

import json

import pandas as pd
from openpyxl import load_workbook

from community_dw.simulate.public_security import DELTA_HEADERS, HEADERS
from community_dw.simulate.truth import read_summary, read_truth

from .conftest import city_path


def _read_csv(path, encoding):
    return pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)


def test_full_snapshot_is_gb18030_crlf_with_the_contract_headers(small_city) -> None:
    path = city_path(small_city, "public_security", "residents_full_20261101.csv")
    raw = path.read_bytes()
    assert b"\r\n" in raw and not raw.startswith(b"\xef\xbb\xbf")
    frame = _read_csv(path, "gb18030")
    assert list(frame.columns) == list(HEADERS.values())
    records = read_truth(small_city.out_dir, "public_security_records")
    assert len(frame) == (records.file == path.name).sum()


def test_deltas_rotate_formats_and_carry_change_columns(small_city) -> None:
    folder = city_path(small_city, "public_security")
    bom = folder / "residents_delta_20261102.csv"
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf")
    delta = _read_csv(bom, "utf-8-sig")
    assert list(delta.columns) == list(HEADERS.values()) + list(DELTA_HEADERS.values())
    assert set(delta["变动类型"]) <= {"新增", "迁入", "迁出", "死亡", "信息变更"}
    assert (folder / "residents_delta_20261103.xlsx").exists()
    assert (folder / "residents_delta_20261104.csv").read_bytes().decode("gb18030")
    assert (folder / "residents_delta_20261105.csv").read_bytes().count(b"\r\n") > 1


def test_xlsx_delta_has_title_export_time_header_and_blank_tail(small_city) -> None:
    path = city_path(small_city, "public_security", "residents_delta_20261103.xlsx")
    ws = load_workbook(path, read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert "实有人口" in rows[0][0]
    assert rows[1][0].startswith("导出时间：2026-11-03")
    assert list(rows[2]) == list(HEADERS.values()) + list(DELTA_HEADERS.values())
    records = read_truth(small_city.out_dir, "public_security_records")
    mine = records[records.file == path.name].sort_values("row_number")
    data = [r for r in rows[3:] if any(v not in (None, "") for v in r)]
    assert len(data) == len(mine)
    # sheet_row is the Excel row: title, export time, header, then row_number
    assert (mine.sheet_row == mine.row_number + 3).all()
    persons = read_truth(small_city.out_dir, "persons").set_index("person_id")
    first = mine.iloc[0]
    assert rows[int(first.sheet_row) - 1][14] == persons.loc[first.person_id, "subdistrict"]


def test_a_delivery_sent_twice_is_byte_identical(small_city) -> None:
    folder = city_path(small_city, "public_security")
    again = folder / "residents_delta_resent_20261102.csv"
    assert again.read_bytes() == (folder / "residents_delta_20261102.csv").read_bytes()


def test_buildings_workbook_has_title_header_and_merged_cells(small_city) -> None:
    path = city_path(small_city, "grid", "buildings_20261101.xlsx")
    ws = load_workbook(path).worksheets[0]
    assert "楼栋信息登记表" in ws.cell(1, 1).value
    assert [c.value for c in ws[2]] == ["楼栋编码", "楼栋地址", "经度", "纬度", "所属网格", "楼栋长", "楼栋长电话", "户数"]
    ranges = [str(r) for r in ws.merged_cells.ranges]
    assert any(r.startswith("A1:") for r in ranges)
    assert any(r.startswith("E") for r in ranges)
    truth = read_truth(small_city.out_dir, "buildings")
    assert ws.cell(int(truth.sheet_row.iloc[0]), 1).value == truth.building_code.iloc[0]


def test_geojson_features_carry_the_contract_properties(small_city) -> None:
    doc = json.loads(city_path(small_city, "grid", "grids_20261101.geojson").read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    props = {"grid_code", "grid_name", "community", "subdistrict", "grid_worker_name", "grid_worker_phone",
             "grid_leader_name"}
    types = {f["geometry"]["type"] for f in doc["features"]}
    assert types == {"Polygon", "MultiPolygon"}
    assert all(props <= f["properties"].keys() for f in doc["features"])
    unclosed = 0
    for f in doc["features"]:
        ring = f["geometry"]["coordinates"][0] if f["geometry"]["type"] == "Polygon" else f["geometry"]["coordinates"][0][0]
        unclosed += ring[0] != ring[-1]
        lon, lat = ring[0]
        assert 113.0 < lon < 113.8 and 22.2 < lat < 22.8
    assert unclosed == read_truth(small_city.out_dir, "grids").unclosed_ring.sum() > 0


def test_city_hierarchy_and_sizes(small_city) -> None:
    summary = read_summary(small_city.out_dir)
    counts = summary["counts"]
    assert counts["persons_day1"] == 4000
    assert counts["communities"] >= 1 and counts["grids"] >= 2
    persons = read_truth(small_city.out_dir, "persons")
    assert persons.person_id.is_unique
    day1 = persons[persons.present_from_day == 1]
    heads = day1.groupby("household_no").relation_to_head.apply(lambda r: (r == "户主").sum())
    assert (heads == 1).all()
    assert set(persons.population_type) == {"户籍人口", "流动人口", "境外人员"}
    assert (persons.ethnicity == "汉族").mean() > 0.9
    events = read_truth(small_city.out_dir, "events")
    assert {"新增", "迁入", "迁出", "死亡", "信息变更"} <= set(events.change_type)
    assert set(persons.status) >= {"present", "died", "moved_out"}

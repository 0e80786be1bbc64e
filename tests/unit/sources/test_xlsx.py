"""XLSX deliveries: header row under title rows, merged cells, numbers and dates as cells, bad workbooks."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import openpyxl
import pandas as pd
import pytest

from community_dw.sources.delivery import DeliveryError
from community_dw.sources.mapping import load_mapping
from community_dw.sources.xlsx import read_xlsx

BUILDINGS = load_mapping("grid_buildings")
RESIDENTS = load_mapping("public_security_residents")
BUILDING_HEADERS = ["楼栋编码", "楼栋地址", "经度", "纬度", "所属网格", "楼栋长", "楼栋长电话", "户数"]


def _buildings_workbook(path):
    """The grid office's register: title row, export-time row, header on row 3, merged cells, blank tail."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "楼栋信息"
    ws.append(["某某社区楼栋信息登记表"])
    ws.merge_cells("A1:H1")
    ws.append(["导出时间：2026-11-01 08:00:00"])
    ws.append(BUILDING_HEADERS)
    ws.append(["LD000001", "中山路1号", 113.3823456, 22.5211, "WG001", "张楼长", 13800138000, 24])
    ws.append(["LD000002", "中山路3号", 113.38, 22.52, None, "李楼长", None, 12.0])
    ws.append(["LD000003", "中山路5号", 113.381, 22.5, None, None, None, 10])
    ws.append(["LD000004", "康华路2号", 113.39, 22.53, "WG002", "王楼长", "0760-88123456", 8])
    ws.merge_cells("E4:E6")  # one grid registered for three buildings
    ws.merge_cells("F5:G6")  # one head (name and phone block) for two buildings
    ws["A12"] = None
    ws["B12"] = ""  # an empty-string cell far below: still a blank trailing row
    wb.create_sheet("说明").append(["第二张表不读"])
    wb.save(path)
    return path


def test_buildings_sheet_with_title_rows_and_merged_cells(tmp_path):
    parsed = read_xlsx(_buildings_workbook(tmp_path / "buildings_20261101.xlsx"), BUILDINGS)
    frame = parsed.frame
    assert parsed.rows_read == 4
    assert parsed.columns == ["building_code", "address", "longitude", "latitude", "registered_grid_code",
                              "building_head_name", "building_head_phone", "household_count"]
    assert frame["source_row"].tolist() == [4, 5, 6, 7]
    assert frame["registered_grid_code"].tolist() == ["WG001", "WG001", "WG001", "WG002"]
    assert frame["building_head_name"].tolist() == ["张楼长", "李楼长", "李楼长", "王楼长"]
    # The head's name was merged sideways over the phone column too: not copied under another header.
    assert frame["building_head_phone"].isna().tolist() == [False, True, True, False]
    assert frame["building_head_phone"].tolist()[0] == "13800138000"
    assert frame["longitude"].tolist() == ["113.3823456", "113.38", "113.381", "113.39"]
    assert frame["latitude"].tolist() == ["22.5211", "22.52", "22.5", "22.53"]
    assert frame["household_count"].tolist() == ["24", "12", "10", "8"]
    assert parsed.drift == {"unknown_columns": [], "missing_optional": []}


def test_residents_sheet_numbers_dates_shuffled_headers_and_extra_column(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["实有人口信息"])
    ws.append(["导出时间：2026-11-01"])
    ws.append([])
    ws.append(["户号", " 公民身份号码\u3000", "姓　名", "证件类型", "出生日期", "联系电话", "备注"])
    ws.append(["H001", 4.42000198503121e17, "陳小明", "居民身份证", dt.datetime(1985, 3, 12), 13800138000, "重点"])
    ws.append([None, "650102199001011234", "阿依古丽·买买提", "居民身份证", "1990年1月1日", "0760-88123456", None])
    ws.append(["H002", 442000198503121234, "JOHN SMITH", "护照", dt.date(1979, 7, 4), None, dt.datetime(2026, 5, 1, 9, 30)])
    ws.merge_cells("A5:A6")  # two members of one household share the merged 户号
    ws.append([])
    ws.append([])
    path = tmp_path / "residents_full_20261101.xlsx"
    wb.save(path)
    parsed = read_xlsx(path, RESIDENTS)
    frame = parsed.frame
    assert parsed.columns == ["name", "id_type", "id_number", "birth_date", "phone", "household_no"]
    assert frame["source_row"].tolist() == [5, 6, 7]
    assert frame["household_no"].tolist() == ["H001", "H001", "H002"]
    # A number-stored ID keeps the digits the workbook has, never "4.42E+17" or a ".0" tail. A workbook
    # stores numbers as doubles, so the 18-digit one lost its last digits: standardization flags it.
    assert frame["id_number"].tolist() == ["442000198503121000", "650102199001011234", "442000198503121200"]
    assert frame["birth_date"].tolist() == ["1985-03-12", "1990年1月1日", "1979-07-04"]
    assert frame["phone"].tolist()[0] == "13800138000" and pd.isna(frame["phone"].iloc[2])
    assert parsed.drift["unknown_columns"] == ["备注"]
    assert [json.loads(x) for x in frame["extra"]] == [{"备注": "重点"}, {"备注": None}, {"备注": "2026-05-01T09:30:00"}]
    assert parsed.encoding is None


def test_header_row_is_the_one_with_required_headers(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["楼栋地址说明：楼栋编码见下表"])
    ws.append(["楼栋地址", "备注"])  # a decoy: one known optional header, no required one
    ws.append(BUILDING_HEADERS)
    ws.append(["LD1", "地址", 113, 22, "WG1", None, None, 1])
    path = tmp_path / "buildings_20261101.xlsx"
    wb.save(path)
    parsed = read_xlsx(path, BUILDINGS)
    assert parsed.frame["source_row"].tolist() == [4]
    assert parsed.frame["longitude"].tolist() == ["113"]


def test_data_beyond_the_header_is_kept_as_extra(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(BUILDING_HEADERS)
    ws.append(["LD1", "地址", 113, 22, "WG1", None, None, 1, None, "手写备注"])
    path = tmp_path / "buildings_20261101.xlsx"
    wb.save(path)
    parsed = read_xlsx(path, BUILDINGS)
    assert parsed.drift["unknown_columns"] == ["(no header, column I)", "(no header, column J)"]
    assert json.loads(parsed.frame["extra"].iloc[0])["(no header, column J)"] == "手写备注"


def test_header_only_sheet(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["某某社区楼栋信息登记表"])
    wb.active.append(BUILDING_HEADERS)
    path = tmp_path / "buildings_20261101.xlsx"
    wb.save(path)
    parsed = read_xlsx(path, BUILDINGS)
    assert parsed.rows_read == 0 and len(parsed.frame) == 0


def test_no_header_row(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["某某社区楼栋信息登记表"])
    for i in range(30):
        ws.append([f"LD{i}", "地址", 113, 22])
    path = tmp_path / "buildings_20261101.xlsx"
    wb.save(path)
    with pytest.raises(DeliveryError, match="no header row found in the first 20 rows") as caught:
        read_xlsx(path, BUILDINGS)
    assert "楼栋编码" in str(caught.value)


def test_missing_required_column(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append([h for h in BUILDING_HEADERS if h != "纬度"])
    path = tmp_path / "buildings_20261101.xlsx"
    wb.save(path)
    with pytest.raises(DeliveryError) as caught:
        read_xlsx(path, BUILDINGS)
    assert caught.value.column == "纬度" and "(latitude)" in str(caught.value)


def test_empty_sheet(tmp_path):
    path = tmp_path / "buildings_20261101.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(DeliveryError, match="empty worksheet"):
        read_xlsx(path, BUILDINGS)


def test_empty_file(tmp_path):
    path = tmp_path / "buildings_20261101.xlsx"
    path.write_bytes(b"")
    with pytest.raises(DeliveryError, match="empty file"):
        read_xlsx(path, BUILDINGS)


def test_password_protected_workbook(tmp_path):
    # Excel writes a password-protected workbook as an encrypted OLE2 compound file: this is its header
    # (magic, minor/major version, byte order, sector shift) followed by sectors we never get to read.
    header = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16) + bytes.fromhex("3e000300feff0900")
    path = tmp_path / "buildings_20261101.xlsx"
    path.write_bytes(header + bytes(512 - len(header)) + b"EncryptedPackage".ljust(1024, b"\0"))
    with pytest.raises(DeliveryError) as caught:
        read_xlsx(path, BUILDINGS)
    assert str(caught.value).startswith("buildings_20261101.xlsx: password-protected or encrypted workbook")


def test_not_a_zip(tmp_path):
    path = tmp_path / "buildings_20261101.xlsx"
    path.write_bytes(b"<html><body>502 Bad Gateway</body></html>")
    with pytest.raises(DeliveryError, match="corrupt workbook: not a zip archive"):
        read_xlsx(path, BUILDINGS)


def test_truncated_zip(tmp_path):
    good = _buildings_workbook(tmp_path / "good.xlsx").read_bytes()
    path = tmp_path / "buildings_20261101.xlsx"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DeliveryError, match="corrupt workbook"):
        read_xlsx(path, BUILDINGS)


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "buildings_20261101.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    with pytest.raises(DeliveryError, match="corrupt workbook"):
        read_xlsx(path, BUILDINGS)


def test_streamed_workbook_with_inline_strings(tmp_path):
    # Streaming exporters (openpyxl write-only, many Java exports) write text as inline strings and
    # omit the sheet dimension.
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["实有人口信息"])
    ws.append(["姓名", "证件类型", "公民身份号码", "出生日期"])
    ws.append(["陳小明", "居民身份证", "44200019850312123X", dt.datetime(1985, 3, 12)])
    ws.append(["", "护照", None, "1979/7/4"])
    path = tmp_path / "residents_full_20261101.xlsx"
    wb.save(path)
    with zipfile.ZipFile(path) as archive:
        assert b'inlineStr' in archive.read("xl/worksheets/sheet1.xml")
    parsed = read_xlsx(path, RESIDENTS)
    assert parsed.frame["name"].tolist()[0] == "陳小明" and pd.isna(parsed.frame["name"].iloc[1])
    assert parsed.frame["id_number"].tolist()[0] == "44200019850312123X"
    assert parsed.frame["birth_date"].tolist() == ["1985-03-12", "1979/7/4"]
    assert parsed.frame["source_row"].tolist() == [3, 4]

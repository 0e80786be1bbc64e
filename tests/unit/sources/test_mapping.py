"""Mapping files: loading, header matching and picking the mapping for a delivered file."""

from __future__ import annotations

import pickle
import re

import pytest

from community_dw.sources.delivery import DeliveryError
from community_dw.sources.mapping import (
    all_mappings,
    load_mapping,
    mapping_for_file,
    mapping_names,
    normalize_header,
)
from tests.conftest import PROJECT_ROOT

RESIDENT_HEADERS = ["姓名", "证件类型", "公民身份号码", "性别", "民族", "出生日期", "联系电话", "户号", "与户主关系",
                    "户籍地址", "现住址", "楼栋编码", "人口类型", "居住证号", "街道", "社区"]


def _raw_table_columns() -> dict[str, set[str]]:
    sql = "\n".join(path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "sql" / "migrations").glob("*.sql"))
    tables = {}
    for name, body in re.findall(r"create table (raw\.\w+) \((.*?)\n\);", sql, flags=re.S):
        tables[name] = {line.split()[0] for line in body.splitlines() if line.strip() and not line.strip().startswith(("primary", "--"))}
    return tables


def test_every_mapping_loads_and_fits_its_raw_table():
    names = mapping_names()
    assert {"public_security_residents", "grid_buildings", "grid_grids", "health_vaccination_record",
            "civil_affairs_facilities", "civil_affairs_service_recipients"} <= set(names)
    tables = _raw_table_columns()
    for mapping in all_mappings():
        if mapping.raw_table is None:  # read but never loaded (staff lists for match-list)
            continue
        assert mapping.raw_table in tables, mapping.name
        columns = [spec.column for spec in mapping.columns]
        assert set(columns) <= tables[mapping.raw_table], mapping.name
        assert all(spec.header for spec in mapping.columns)


def test_labels_live_in_the_mapping():
    comments = load_mapping("public_security_residents").comments
    assert comments["id_number"].startswith("公民身份号码")
    assert load_mapping("health_vaccination_record").comments["site_name"] == "site_name — 接种单位"


@pytest.mark.parametrize("header", ["公民身份号码", " 公民身份号码 ", "公民身份号码\u3000", "公民\u3000身份号码",
                                    "\ufeff公民身份号码", "*公民身份号码", "身份证号", "ID_NUMBER", "ｉｄ＿ｎｕｍｂｅｒ"])
def test_header_variants_match(header):
    assert load_mapping("public_security_residents").spec_for(header).column == "id_number"


def test_normalize_header_folds_full_width_forms():
    assert normalize_header("联系电话（手机）") == normalize_header("联系电话(手机)")
    assert normalize_header("ＡＢＣ　１２") == "abc12"


def test_match_headers_shuffled_with_unknown_and_missing_optional():
    mapping = load_mapping("public_security_residents")
    headers = ["现住址", "姓 名", "备注", "公民身份号码", "证件类型\u3000", "联系电话"]
    rename, unknown, missing = mapping.match_headers(headers, "residents_full_20261101.csv")
    assert rename == {"现住址": "current_address", "姓 名": "name", "公民身份号码": "id_number",
                      "证件类型\u3000": "id_type", "联系电话": "phone"}
    assert unknown == ["备注"]
    # Delta-only columns are not "missing" from a full snapshot.
    assert "change_type" not in missing and "change_date" not in missing
    assert missing[0] == "sex" and "building_code" in missing


def test_missing_required_column_names_file_and_column():
    mapping = load_mapping("public_security_residents")
    headers = [h for h in RESIDENT_HEADERS if h != "公民身份号码"]
    with pytest.raises(DeliveryError) as caught:
        mapping.match_headers(headers, "residents_full_20261101.csv")
    error = caught.value
    assert error.column == "公民身份号码"
    assert str(error).startswith("residents_full_20261101.csv, column 公民身份号码: required column 公民身份号码 (id_number)")


def test_delta_files_require_change_columns():
    mapping = load_mapping("public_security_residents")
    with pytest.raises(DeliveryError, match=r"变动类型 \(change_type\)"):
        mapping.match_headers(RESIDENT_HEADERS, "residents_delta_20261102.csv")
    rename, _, missing = mapping.match_headers([*RESIDENT_HEADERS, "变动类型", "变动日期"], "residents_delta_20261102.csv")
    assert rename["变动日期"] == "change_date" and missing == []


def test_two_headers_for_one_column_is_an_error():
    mapping = load_mapping("public_security_residents")
    with pytest.raises(DeliveryError, match="both map to id_number"):
        mapping.match_headers([*RESIDENT_HEADERS, "身份证号"], "residents_full_1.csv")


@pytest.mark.parametrize(("file_name", "expected"), [
    ("residents_full_20261101.csv", "public_security_residents"),
    ("residents_delta_20261102.xlsx", "public_security_residents"),
    ("RESIDENTS_FULL_20261101.CSV", "public_security_residents"),
    ("buildings_20261101.xlsx", "grid_buildings"),
    ("grids_20261101.geojson", "grid_grids"),
])
def test_mapping_for_file(file_name, expected):
    assert mapping_for_file(file_name).name == expected


def test_no_mapping_for_unknown_file():
    with pytest.raises(DeliveryError, match="no mapping file matches"):
        mapping_for_file("notes.txt")


def test_delivery_error_text():
    error = DeliveryError("residents_full_20261101.csv", "bad value", row=1234, column="公民身份号码")
    assert str(error) == "residents_full_20261101.csv, row 1234, column 公民身份号码: bad value"
    assert str(DeliveryError("x.csv", "empty file")) == "x.csv: empty file"
    assert (error.delivery, error.row, error.column, error.message) == (
        "residents_full_20261101.csv", 1234, "公民身份号码", "bad value")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.row, copy.column) == (str(error), 1234, "公民身份号码")

"""CSV deliveries: encodings, line endings, quoting, drift, physical row numbers and every bad input."""

from __future__ import annotations

import codecs
import json

import pandas as pd
import pytest

from community_dw.sources.delimited import plan_direct_copy, read_delimited
from community_dw.sources.delivery import DeliveryError
from community_dw.sources.mapping import load_mapping

HEADERS = ["姓名", "证件类型", "公民身份号码", "性别", "民族", "出生日期", "联系电话", "户号", "与户主关系",
           "户籍地址", "现住址", "楼栋编码", "人口类型", "居住证号", "街道", "社区"]
ROWS = [
    ["陳小明", "居民身份证", "44200019850312123X", "男", "汉族", "19850312", "+86 138-0013-8000", "H001", "户主",
     "广东省中山市石岐街道中山路1号", "中山路1号3栋502", "LD000001", "户籍人口", "", "石岐街道", "第一社区"],
    ["阿依古丽·买买提", "居民身份证", "650102199001011234", "女", "维吾尔族", "1990年1月1日", "0760-88123456；13900001111",
     "H001", "配偶", "新疆乌鲁木齐市", "中山路1号3栋502", "", "流动人口", "JZ2026001", "石岐街道", "第一社区"],
    ["JOHN SMITH", "护照", "", "M", "", "1979/7/4", "", "", "", "", "康华路8号", "LD000002", "境外人员", "", "石岐街道", "第二社区"],
]
# 䶮 (U+4DAE) is in GB18030 but not in GBK: a GB18030 file may use it and must still decode.
RARE_NAME = "刘䶮"

MAPPING = load_mapping("public_security_residents")


def _csv(rows, headers=HEADERS, newline="\r\n") -> str:
    def quote(value: str) -> str:
        return f'"{value.replace(chr(34), chr(34) * 2)}"' if any(c in value for c in ',"\r\n') else value

    return newline.join(",".join(quote(v) for v in row) for row in [headers, *rows]) + newline


def _write(tmp_path, content, encoding="utf-8", name="residents_full_20261101.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def _read(tmp_path, content, encoding="utf-8", name="residents_full_20261101.csv"):
    return read_delimited(_write(tmp_path, content, encoding, name), MAPPING)


def test_gb18030_with_crlf(tmp_path):
    with pytest.raises(UnicodeEncodeError):
        RARE_NAME.encode("gbk")
    rows = [*ROWS, [RARE_NAME, *ROWS[0][1:]]]
    parsed = _read(tmp_path, _csv(rows), "gb18030")
    assert parsed.encoding == "gb18030"
    assert parsed.rows_read == 4
    frame = parsed.frame
    assert frame["name"].tolist() == ["陳小明", "阿依古丽·买买提", "JOHN SMITH", RARE_NAME]
    assert frame["phone"].tolist()[:2] == ["+86 138-0013-8000", "0760-88123456；13900001111"]
    assert frame["source_row"].tolist() == [2, 3, 4, 5]
    assert frame["source_row"].dtype == "int64"
    assert not frame["current_address"].str.contains("\r").any()


def test_gbk_file_decodes_as_gb18030(tmp_path):
    parsed = _read(tmp_path, _csv(ROWS), "gbk")
    assert parsed.encoding == "gb18030"
    assert parsed.frame["name"].tolist()[0] == "陳小明"


@pytest.mark.parametrize(("encoding", "newline", "detected"), [
    ("utf-8-sig", "\r\n", "utf-8-sig"),
    ("utf-8-sig", "\n", "utf-8-sig"),
    ("utf-8", "\n", "utf-8"),
    ("utf-8", "\r\n", "utf-8"),
])
def test_utf8_with_and_without_bom(tmp_path, encoding, newline, detected):
    parsed = _read(tmp_path, _csv(ROWS, newline=newline), encoding)
    assert parsed.encoding == detected
    assert parsed.columns[:3] == ["name", "id_type", "id_number"]
    assert parsed.frame["name"].iloc[0] == "陳小明"  # no BOM glued to the first header or value
    assert parsed.frame["社区" if False else "community"].tolist() == ["第一社区", "第一社区", "第二社区"]


def test_everything_is_text_and_blank_is_na(tmp_path):
    rows = [["王五", "居民身份证", "012345678901234567", "1", "NA", "00012", "null", "0", "N/A", "", "", "",
             "", "", "", "1e5"]]
    frame = _read(tmp_path, _csv(rows)).frame
    row = frame.iloc[0]
    assert row["id_number"] == "012345678901234567"
    assert (row["sex"], row["ethnicity"], row["birth_date"], row["phone"]) == ("1", "NA", "00012", "null")
    assert (row["household_no"], row["relation_to_head"], row["community"]) == ("0", "N/A", "1e5")
    assert pd.isna(row["registered_address"]) and pd.isna(row["building_code"])
    assert all(str(frame[c].dtype) == "str" for c in frame.columns if c != "source_row")


def test_headers_with_stray_and_full_width_spaces_in_shuffled_order(tmp_path):
    order = [15, 2, 0, 1, 10, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]
    headers = [HEADERS[i] for i in order]
    headers[0] = " 社区\u3000"
    headers[1] = "公民\u3000身份号码 "
    headers[2] = "\u3000姓　名"
    rows = [[row[i] for i in order] for row in ROWS]
    parsed = _read(tmp_path, _csv(rows, headers=headers))
    assert parsed.columns == [
        "name", "id_type", "id_number", "sex", "ethnicity", "birth_date", "phone", "household_no",
        "relation_to_head", "registered_address", "current_address", "building_code", "population_type",
        "residence_permit_no", "subdistrict", "community"]
    assert list(parsed.frame.columns) == [*parsed.columns, "source_row", "extra"]
    assert parsed.frame["id_number"].tolist()[0] == "44200019850312123X"
    assert parsed.drift == {"unknown_columns": [], "missing_optional": []}
    assert parsed.frame["extra"].isna().all()


def test_unknown_extra_column_goes_to_extra_json_and_drift(tmp_path):
    headers = [*HEADERS[:3], "备注", *HEADERS[3:], "网格员"]
    rows = [[*row[:3], note, *row[3:], worker] for row, note in zip(ROWS, ["重点关注", "", "外籍"], strict=True)
            for worker in ["张网格"]]
    parsed = _read(tmp_path, _csv(rows, headers=headers), "gb18030")
    assert parsed.drift["unknown_columns"] == ["备注", "网格员"]
    extras = [json.loads(text) for text in parsed.frame["extra"]]
    assert extras == [{"备注": "重点关注", "网格员": "张网格"}, {"备注": None, "网格员": "张网格"},
                      {"备注": "外籍", "网格员": "张网格"}]
    assert "备注" not in parsed.frame.columns


def test_missing_optional_column_is_reported(tmp_path):
    keep = [i for i, h in enumerate(HEADERS) if h not in ("民族", "居住证号")]
    parsed = _read(tmp_path, _csv([[r[i] for i in keep] for r in ROWS], headers=[HEADERS[i] for i in keep]))
    assert parsed.drift["missing_optional"] == ["ethnicity", "residence_permit_no"]
    assert "ethnicity" not in parsed.columns


def test_delta_file_columns(tmp_path):
    headers = [*HEADERS, "变动类型", "变动日期"]
    rows = [[*ROWS[0], "迁入", "2026-11-02"]]
    parsed = _read(tmp_path, _csv(rows, headers=headers), name="residents_delta_20261102.csv")
    assert parsed.columns[-2:] == ["change_type", "change_date"]
    assert parsed.frame["change_type"].tolist() == ["迁入"]


def test_quoted_values_with_commas_quotes_and_newlines_keep_physical_rows(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[0][9] = '广东省中山市,石岐街道 "老城区"'
    rows[1][10] = "中山路1号\r\n3栋502"  # a value spanning two physical lines
    rows[2][10] = "康华路8号\n\n(后座)"  # and one spanning three
    parsed = _read(tmp_path, _csv([*rows, ROWS[0]]))
    frame = parsed.frame
    assert frame["registered_address"].iloc[0] == '广东省中山市,石岐街道 "老城区"'
    assert frame["current_address"].iloc[1] == "中山路1号\r\n3栋502"
    assert frame["source_row"].tolist() == [2, 3, 5, 8]


def test_blank_lines_inside_and_at_the_end(tmp_path):
    content = _csv(ROWS[:1], newline="\n") + "\n" + _csv(ROWS[1:], newline="\n").split("\n", 1)[1] + ",,,,,,,,,,,,,,,\n\n\n"
    parsed = _read(tmp_path, content)
    assert parsed.rows_read == 3
    assert parsed.blank_rows == 1  # the all-empty ",,,…" row; empty lines are not rows at all
    assert parsed.frame["source_row"].tolist() == [2, 4, 5]
    assert parsed.frame["name"].tolist() == ["陳小明", "阿依古丽·买买提", "JOHN SMITH"]


def test_many_rows_across_parser_blocks(tmp_path):
    # Big enough for pyarrow to split into several blocks, with multi-line values scattered through.
    rows = []
    for i in range(40_000):
        row = list(ROWS[i % 3])
        row[7] = f"H{i:06d}"
        if i % 997 == 0:
            row[10] = "第一行\n第二行"
        rows.append(row)
    parsed = _read(tmp_path, _csv(rows), "gb18030")
    frame = parsed.frame
    assert parsed.rows_read == 40_000
    expected, line = [], 2
    for i in range(40_000):
        expected.append(line)
        line += 2 if i % 997 == 0 else 1
    assert frame["source_row"].tolist() == expected
    assert frame["household_no"].tolist()[-1] == "H039999"


def test_header_only_is_a_valid_empty_delivery(tmp_path):
    parsed = _read(tmp_path, _csv([]), "gb18030")
    assert parsed.rows_read == 0
    assert len(parsed.frame) == 0
    assert list(parsed.frame.columns) == [*parsed.columns, "source_row", "extra"]


def test_header_only_without_final_newline(tmp_path):
    assert _read(tmp_path, ",".join(HEADERS)).rows_read == 0


def test_empty_file(tmp_path):
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, b"")
    assert str(caught.value) == "residents_full_20261101.csv: empty file (0 bytes)"


def test_file_with_only_a_bom_and_newlines(tmp_path):
    with pytest.raises(DeliveryError, match="empty file"):
        _read(tmp_path, codecs.BOM_UTF8 + b"\r\n")


def test_truncated_last_row_with_fewer_fields(tmp_path):
    content = _csv(ROWS) + ",".join(ROWS[0][:5])[:-2]  # cut in the middle of the 5th field
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, content, "gb18030")
    error = caught.value
    assert (error.row, error.column) == (5, "出生日期")
    assert "5 fields, the header has 16" in str(error)


def test_truncated_inside_a_quoted_field(tmp_path):
    content = _csv(ROWS) + '王六,居民身份证,"4420001985'
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, content)
    assert (caught.value.row, caught.value.column) == (5, "公民身份号码")
    assert "never closes" in str(caught.value)


def test_unterminated_quote_in_the_last_field_does_not_swallow_the_file(tmp_path):
    rows = [list(r) for r in ROWS]
    content = _csv(rows[:1], newline="\n") + ",".join(rows[1][:-1]) + ',"第一社区\n' + _csv(rows[2:], newline="\n").split("\n", 1)[1]
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, content)
    assert (caught.value.row, caught.value.column) == (3, "社区")


def test_row_with_too_many_fields(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[1] = [*rows[1], "多余"]
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, _csv(rows), "gb18030")
    assert caught.value.row == 3
    assert "17 fields, the header has 16" in str(caught.value)


def test_too_many_fields_after_a_multiline_value_names_the_physical_line(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[0][10] = "两行\n地址"
    rows[2] = [*rows[2], "多余"]
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, _csv(rows))
    assert caught.value.row == 5


def test_undecodable_bytes(tmp_path):
    good = _csv(ROWS).encode("gb18030")
    bad_line = "王五,居民身份证,".encode("gb18030") + b"\xff\xfe" + b",\xc4\xd0" + b",," * 6 + b"," * 1 + b"\r\n"
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, good + bad_line)
    error = caught.value
    assert error.row == 5
    assert error.column == "公民身份号码"
    assert f"byte offset {len(good) + len('王五,居民身份证,'.encode('gb18030'))}" in str(error)
    assert "UTF-8 or GB18030" in str(error)


def test_bom_file_with_invalid_utf8_is_not_second_guessed(tmp_path):
    content = codecs.BOM_UTF8 + _csv(ROWS).encode("utf-8") + "张三".encode("gb18030") + b"\r\n"
    with pytest.raises(DeliveryError, match="UTF-8 BOM") as caught:
        _read(tmp_path, content)
    assert caught.value.row == 5


def test_missing_required_column(tmp_path):
    headers = [h if h != "证件类型" else "证件" for h in HEADERS]
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, _csv(ROWS, headers=headers))
    assert caught.value.column == "证件类型"
    assert "residents_full_20261101.csv" in str(caught.value) and "(id_type)" in str(caught.value)


def test_fast_and_exact_paths_agree(tmp_path):
    fast = _read(tmp_path, _csv(ROWS, newline="\n"))
    exact = _read(tmp_path, _csv(ROWS, newline="\n").replace("\n", "\n\n", 1))  # a blank line forces the exact path
    pd.testing.assert_frame_equal(fast.frame.drop(columns="source_row"), exact.frame.drop(columns="source_row"))
    assert exact.frame["source_row"].tolist() == [3, 4, 5]


def _direct_rows(plan, chunk_bytes):
    """(source_row, fields) per line COPY would receive, decoded the way the server would decode it."""
    text = b"".join(plan.chunks(load_id=42, chunk_bytes=chunk_bytes)).decode(
        "gb18030" if plan.encoding == "gb18030" else "utf-8")
    rows = []
    for line in text.split("\n"):
        load_id, source_row, *fields = line.removesuffix("\r").split(",")
        assert load_id == "42"
        rows.append((int(source_row), [field or None for field in fields]))
    return rows


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("chunk_bytes", [1, 50, 1 << 20])
def test_direct_copy_lines_match_the_parser(tmp_path, newline, chunk_bytes):
    blank = "," * (len(HEADERS) - 1)
    rows = [*ROWS, [RARE_NAME, *ROWS[0][1:]]]
    lines = [",".join(HEADERS), ",".join(rows[0]), "", ",".join(rows[1]), blank, ",".join(rows[2]), "", "",
             ",".join(rows[3])]
    for ending in ("", newline, newline * 3):  # no final newline, one, trailing blank lines
        path = _write(tmp_path, newline.join(lines) + ending, "gb18030")
        plan = plan_direct_copy(path, MAPPING)
        assert plan is not None and plan.encoding == "gb18030" and plan.copy_encoding == "GB18030"
        parsed = read_delimited(path, MAPPING)
        direct = _direct_rows(plan, chunk_bytes)
        assert [row for row, _ in direct] == parsed.frame["source_row"].tolist() == [2, 4, 6, 9]
        expected = parsed.frame[plan.columns].astype(object).where(parsed.frame[plan.columns].notna(), None)
        assert [fields for _, fields in direct] == expected.values.tolist()
        assert (plan.rows_read, plan.blank_rows) == (parsed.rows_read, parsed.blank_rows) == (4, 1)


def test_direct_copy_columns_follow_the_file_order_and_report_missing_optional(tmp_path):
    order = [5, 0, 2, 1] + list(range(6, 14))
    headers = [HEADERS[i] for i in order]
    rows = [[row[i] for i in order] for row in ROWS]
    plan = plan_direct_copy(_write(tmp_path, _csv(rows, headers=headers), "utf-8-sig"), MAPPING)
    assert plan.encoding == "utf-8-sig" and plan.copy_encoding == "UTF8"
    assert plan.columns[:4] == ["birth_date", "name", "id_number", "id_type"]
    assert plan.drift == {"unknown_columns": [], "missing_optional": ["sex", "ethnicity", "subdistrict", "community"]}
    assert _direct_rows(plan, 1 << 20)[0] == (2, [v or None for v in rows[0]])


@pytest.mark.parametrize("content", [
    _csv(ROWS).replace("康华路8号", '"康华路8号"'),  # quoting needs the parser
    _csv([r + ["x"] for r in ROWS], headers=[*HEADERS, "微信号"]),  # an unknown column goes to extra JSON
    _csv([]),  # header only
    "",
])
def test_files_the_parser_must_read_are_not_copied_directly(tmp_path, content):
    assert plan_direct_copy(_write(tmp_path, content), MAPPING) is None


def test_a_missing_required_column_is_left_to_the_parser_to_name(tmp_path):
    headers = [h if h != "证件类型" else "证件" for h in HEADERS]
    assert plan_direct_copy(_write(tmp_path, _csv(ROWS, headers=headers)), MAPPING) is None

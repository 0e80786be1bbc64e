"""Staff list matching without a warehouse: reading any list, standardizing it, deciding per row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from community_dw.outreach.match_list import (
    MatchListError,
    decide,
    list_records,
    read_staff_list,
)
from community_dw.resolve.linker import load_settings
from community_dw.standardize.id_number import check_digits

ID = "44200019500312001" + check_digits(pd.Series(["44200019500312001"]))[0]


def xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def test_header_found_below_title_rows_whatever_its_spelling(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "l.xlsx", [["悦来社区老年人名单"], ["导出时间：2026-11-02"], [],
                                      ["序号", "联系 电话", "＊公民身份号码", "姓\u3000名", "手机"],
                                      [1, "13800000001", ID, "陈大文", "13900000009"], [], [None, None]])
    staff = read_staff_list(path)
    assert staff.kind == "xlsx"
    assert staff.headers == ["序号", "联系 电话", "＊公民身份号码", "姓\u3000名", "手机"]
    # the first of two phone headers is the one matched; the other stays an ordinary column
    assert staff.positions == {"phone": 1, "id_number": 2, "name": 3}
    assert staff.rows == [(5, ["1", "13800000001", ID, "陈大文", "13900000009"])]


def test_csv_any_encoding_and_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(f"名单\r\n证件号码\t名字\r\n\r\n{ID}\t陈大文\r\n".encode("gb18030"))
    staff = read_staff_list(path)
    assert (staff.kind, staff.encoding) == ("csv", "gb18030")
    assert staff.positions == {"id_number": 0, "name": 1}
    assert staff.rows == [(4, [ID, "陈大文"])]


def test_no_name_and_no_id_column(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "l.xlsx", [["联系电话", "出生日期"], ["13800000001", "1950-03-12"]])
    with pytest.raises(MatchListError, match="no name column and no ID number column"):
        read_staff_list(path)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", b"", "empty file"),
    ("bad.xlsx", b"PK\x03\x04garbage", "corrupt workbook"),
    ("list.docx", b"x", "cannot read files of type .docx"),
    ("list.xls", b"\xd0\xcf", "legacy spreadsheet"),
])
def test_unreadable(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(MatchListError, match=message):
        read_staff_list(tmp_path / name)


def test_list_records_standardized_like_staging(tmp_path: Path) -> None:
    wrong_check = ID[:17] + ("0" if ID[17] != "0" else "1")
    path = xlsx(tmp_path / "l.xlsx", [["姓名", "身份证号", "电话", "性别"],
                                      ["陳大文", wrong_check, "+86 138-0000-0001", None],
                                      [" 李秀英 ", None, None, "女"]])
    records = list_records(read_staff_list(path), as_of="2026-11-02")
    first, second = records.to_dict("records")
    assert (first["uid"], first["name"], first["name_pinyin"]) == ("r2", "陈大文", "chendawen")
    assert first["id_number"] == wrong_check and first["id_body"] == ID[:17]
    assert str(first["birth_date"]) == "1950-03-12" and first["birth_year"] == "1950"  # from the ID number
    assert first["sex"] == "M" and first["phone"] == "13800000001"
    assert second["name"] == "李秀英" and second["sex"] == "F" and pd.isna(second["id_number"])


def _records(**columns: list[object]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({"uid": [f"r{i + 2}" for i in range(n)], "source_row": [i + 2 for i in range(n)]})
    for column in ("name", "id_number"):
        frame[column] = columns.get(column, [None] * n)
    return frame


PROFILES = pd.DataFrame({"uid": ["p0", "p1", "p2", "p3"], "person_key": [10, 11, 12, 12],
                         "name": ["陈大文", "李秀英", "王建国", "王建国"],
                         "id_number": [ID, "B", "C", None]})


def _pairs(*rows: tuple[str, str, float]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["uid_l", "uid_r", "match_probability"])
    return frame.assign(match_weight=np.log2(frame.match_probability / (1 - frame.match_probability)))


def test_decide_thresholds_ids_and_repeats() -> None:
    settings = load_settings("person")
    records = _records(name=["陈大文", "周杰", "王建国", "李秀", "陈大", None, "陈大文"],
                       id_number=[ID, "B", None, None, None, None, None])
    pairs = _pairs(("r4", "p2", 0.999), ("r4", "p3", 0.9999),   # two profiles of one person: one candidate
                   ("r5", "p1", 0.8),                           # between the thresholds
                   ("r8", "p0", 0.995), ("r8", "p1", 0.991),  # two persons above the upper threshold
                   ("r6", "p0", 0.9999), ("r6", "p1", 0.6))  # one far ahead of the other
    frame = decide(records, PROFILES, pairs, settings).set_index("source_row")
    assert frame.loc[2, ["status", "method", "person_key", "probability"]].tolist() == ["已匹配", "id_number", 10, 1.0]
    assert frame.loc[3, ["status", "person_key"]].tolist() == ["待核实", 11]
    assert "姓名不同" in frame.loc[3, "note"]
    assert frame.loc[4, ["status", "method", "person_key", "probability"]].tolist() == [
        "已匹配", "probabilistic", 12, 0.9999]
    assert frame.loc[5, ["status", "person_key"]].tolist() == ["待核实", 11]
    assert frame.loc[6, ["status", "person_key"]].tolist() == ["已匹配", 10]
    assert 0.99 < frame.loc[6, "probability"] < 0.9999
    assert frame.loc[7, ["status", "note"]].tolist() == ["未匹配", "本行没有姓名和证件号码"]
    # neither of two persons favoured: the best is only about 64% likely, so it is shown to check
    assert frame.loc[8, "status"] == "待核实" and "另有1个相近的候选人" in frame.loc[8, "note"]
    assert 0.6 < frame.loc[8, "probability"] < 0.7
    # nothing scored: unmatched
    assert decide(_records(name=["张三"]), PROFILES, _pairs(), settings).status.tolist() == ["未匹配"]
    # the same person named on two rows is still matched on both, and each row says so
    records = _records(name=["陈大文", "陈大文"], id_number=[ID, ID])
    repeated = decide(records, PROFILES, _pairs(), settings)
    assert repeated.note.tolist() == ["与第3行为同一人", "与第2行为同一人"]

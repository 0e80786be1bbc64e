"""`cdw match-list`: a staff list matched to a small core's residents, annotated, with the complement."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from community_dw.outreach.cli import outreach_app
from community_dw.outreach.match_list import MatchListError, match_list
from community_dw.standardize.id_number import check_digits

FULL_ID = re.compile(r"\d{17}[\dX]|\d{15}")


def valid_id(body: str) -> str:
    return body + check_digits(pd.Series([body]))[0]


CHEN = valid_id("44200019500312001")
LI = valid_id("44200019450607002")
WANG = valid_id("44200019620101003")
HUANG = valid_id("44200019700815004")
LIU = valid_id("44200019551120005")
SUN = valid_id("44200019600202006")
ZHAO = valid_id("44200019580909007")


@pytest.fixture
def core(small_core):
    """Six persons of 悦来社区 (one moved out) and one of 东区社区; doses for 陈大文."""
    small_core.person(1, date(1950, 3, 12), sex="M", name="陈大文", id_number=CHEN, phone="13800000001")
    small_core.person(2, date(1945, 6, 7), name="李秀英", id_number=LI, phone="13800000002", grid="G002")
    small_core.person(3, date(1962, 1, 1), sex="M", name="王建国", id_number=WANG, phone="13800000003")
    small_core.person(4, date(1970, 8, 15), name="黄丽", id_number=HUANG, phone="13800000004")
    small_core.person(5, date(1955, 11, 20), sex="M", name="刘志强", id_number=LIU, phone="13800000005")
    small_core.person(6, date(1960, 2, 2), sex="M", name="孙海涛", id_number=SUN, phone="13800000006",
                      status="moved_out")
    small_core.person(7, date(1958, 9, 9), name="赵敏", id_number=ZHAO, phone="13800000007")
    small_core.dose(1, "COVID-INACT", date(2021, 4, 1))
    small_core.dose(1, "COVID-INACT", date(2021, 5, 1))
    small_core.build()
    with small_core.engine.begin() as conn:
        conn.exec_driver_sql("update core.person set community = '东区社区' where person_key = 7")
    return small_core


def write_xlsx(path: Path, rows: list[list[object]], title: str | None = "悦来社区健康申报名单") -> Path:
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
        sheet.append([])
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


#: Shuffled headers, unknown columns, a title row; one row per case.
LIST_ROWS = [
    ["联系电话", "序号", "公民身份号码", "备注", "姓名"],
    ["13800000001", 1, CHEN, "", "陈大文"],                     # exact ID number
    ["", 2, LI[:17] + ("0" if LI[17] != "0" else "1"), "", "李秀瑛"],  # typo in name, wrong check digit
    ["13800000003", 3, "", "已申报", "王建國"],                 # traditional characters, no ID
    ["13800000004", 4, "", "", "黄莉"],                         # typo in name, no ID
    ["", 5, ZHAO, "", "赵敏"],                                  # lives in another community
]


def sheet_rows(path: Path, sheet: str) -> list[dict[str, object]]:
    workbook = load_workbook(path)
    values = list(workbook[sheet].iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def test_list_matches_and_complement(core, tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "申报名单.xlsx", LIST_ROWS)
    result = match_list(core.engine, source, community="悦来社区", out_dir=tmp_path / "out", person_keys=True)

    rows = result.rows.set_index("source_row")
    assert rows.loc[4, ["status", "method"]].tolist() == ["已匹配", "id_number"]
    assert rows.loc[5, "status"] == "已匹配" and rows.loc[5, "person_key"] == 2
    assert rows.loc[6, "status"] == "已匹配" and rows.loc[6, "person_key"] == 3
    assert rows.loc[7, "status"] == "已匹配" and rows.loc[7, "person_key"] == 4
    assert rows.loc[5, "method"] == rows.loc[6, "method"] == "probabilistic"
    assert rows.loc[5, "probability"] >= 0.99
    assert rows.loc[8, "status"] == "未匹配" and pd.isna(rows.loc[8, "person_key"])
    # the complement: residents of 悦来社区 not on the list (not the one who moved out, not 赵敏)
    assert result.complement.person_key.tolist() == [5]
    assert result.counts == {**result.counts, "matched": 4, "to_verify": 0, "unmatched": 1, "complement": 1}

    annotated = sheet_rows(result.xlsx, "名单匹配")
    assert [row["姓名"] for row in annotated] == ["陈大文", "李秀瑛", "王建國", "黄莉", "赵敏"]
    assert list(annotated[0])[:5] == LIST_ROWS[0]  # original columns first, in their order
    first = annotated[0]
    assert first["匹配方式"] == "证件号码一致" and first["匹配置信度"] == 1
    assert first["匹配证件号码"] == CHEN[:6] + "********" + CHEN[-4:]
    assert first["公民身份号码"] == first["匹配证件号码"]  # the list's own ID numbers are masked too
    assert first["网格"] == "G001" and first["网格员"] == "张网格"
    assert annotated[1]["网格员"] == "李网格"
    assert first["新冠病毒灭活疫苗(COVID-INACT)"] == "2/2 完成"
    assert first["流感疫苗(FLU)"] == "0/1 未接种"
    assert annotated[4]["匹配状态"] == "未匹配" and annotated[4]["匹配姓名"] is None
    [outside] = sheet_rows(result.xlsx, "名单外居民")
    assert outside["姓名"] == "刘志强" and outside["人员代号"] == "5"

    workbook = load_workbook(result.xlsx)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and FULL_ID.search(value)), (sheet.title, value)


def test_pseudonymous_refs_by_default_and_id_with_another_name(core, tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "list.xlsx", [["姓名", "身份证号"], ["陈大文", CHEN], ["周杰", LI]], title=None)
    result = match_list(core.engine, source, community="悦来社区", out_dir=tmp_path)
    annotated = sheet_rows(result.xlsx, "名单匹配")
    assert re.fullmatch(r"[0-9a-f]{16}", annotated[0]["人员代号"])
    # the ID number is 李秀英's, the name is not: shown to check, not matched
    assert annotated[1]["匹配状态"] == "待核实" and annotated[1]["匹配姓名"] == "李秀英"
    assert "姓名不同" in annotated[1]["匹配说明"]
    complement = {row["姓名"]: row for row in sheet_rows(result.xlsx, "名单外居民")}
    assert set(complement) == {"李秀英", "王建国", "黄丽", "刘志强"}
    assert complement["李秀英"]["名单中疑似行"] == "3"


def test_csv_in_gb18030_comes_back_as_csv_too(core, tmp_path: Path) -> None:
    source = tmp_path / "老人名单.csv"
    source.write_bytes("手机号,名字\r\n13800000005,刘志强\r\n13800000003,王建国\r\n".encode("gb18030"))
    result = match_list(core.engine, source, out_dir=tmp_path / "out", person_keys=True)
    assert result.rows.person_key.tolist() == [5, 3]
    assert result.communities == ["悦来社区"]  # without --community: the communities the list matched
    assert {p.name for p in result.csv} == {"老人名单_匹配结果.csv", "老人名单_名单外居民.csv"}
    text = result.csv[0].read_text(encoding="utf-8-sig").splitlines()
    assert text[0].startswith("手机号,名字,匹配状态")
    assert set(result.complement.person_key) == {1, 2, 4}


def test_list_without_name_or_id_column_is_refused(core, tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "bad.xlsx", [["联系电话", "住址"], ["13800000001", "悦来路1号"]])
    with pytest.raises(MatchListError, match="no name column and no ID number column"):
        match_list(core.engine, source, out_dir=tmp_path)


def test_unreadable_files_are_refused(core, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"this is not a workbook")
    with pytest.raises(MatchListError, match="unreadable list: broken.xlsx: corrupt workbook"):
        match_list(core.engine, broken, out_dir=tmp_path)
    legacy = tmp_path / "old.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(MatchListError, match=r"save it as \.xlsx"):
        match_list(core.engine, legacy, out_dir=tmp_path)


def test_command_line(core, tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "名单.xlsx", LIST_ROWS)
    runner = CliRunner()
    done = runner.invoke(outreach_app, ["match-list", str(source), "--community", "悦来社区", "--out",
                                        str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "matched 4" in done.output and "unmatched 1" in done.output
    assert (tmp_path / "out" / "名单_匹配结果.xlsx").is_file()

    refused = runner.invoke(outreach_app, ["match-list", str(source), "--community", "无此社区"])
    assert refused.exit_code == 1
    assert "no persons in community '无此社区'" in refused.output

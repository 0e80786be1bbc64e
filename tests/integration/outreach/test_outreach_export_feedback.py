"""Exports open in openpyxl masked and with the drop-down; returned lists close items; bad returns lose nothing."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from community_dw.outreach.export import COLUMNS, export_lists
from community_dw.outreach.feedback import FeedbackRejected, ingest_feedback
from community_dw.outreach.lists import build_outreach_lists

AS_OF = date(2026, 11, 2)
OUTCOMES = ["已接种", "预约", "拒绝", "联系不上", "已搬离", "已故"]
HEADERS = [header for header, _, _ in COLUMNS]


@pytest.fixture
def listed(small_core, fresh_warehouse, output_dir):
    c = small_core
    # 76 with one COVID dose: three items (COVID dose 2, flu, PPSV23) on 张网格's list
    c.person(1, date(1950, 3, 1), id_number="44200019500301123X", name="陈大文")
    c.dose(1, "COVID-INACT", date(2026, 1, 1))
    # a child due MMR dose 2 on 李网格's list
    c.person(5, date(2024, 1, 15), grid="G002", id_number="442000202401150021")
    c.dose(5, "MMR", date(2024, 9, 20))
    # 90 in no grid at all: still exported (to the 未分配网格员 list)
    c.person(20, date(1936, 1, 1), grid=None)
    c.build()
    build_outreach_lists(fresh_warehouse)
    return c


def _scalar(engine: sa.Engine, query: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(query), params).scalar()


def test_export_one_workbook_per_worker_masked_with_drop_down(listed, fresh_warehouse, output_dir: Path) -> None:
    exported = export_lists(fresh_warehouse)
    assert [(e.worker, e.grid_codes, e.items) for e in exported] == [
        ("张网格", ("G001",), 3), ("未分配网格员", (), 3), ("李网格", ("G002",), 1)]
    zhang = exported[0]
    assert zhang.xlsx.parent == output_dir / "outreach" and zhang.xlsx.name == "outreach_20261102_G001_张网格.xlsx"

    workbook = load_workbook(zhang.xlsx)
    sheet = workbook["走访名单"]
    assert "张网格" in sheet["A1"].value and "2026-11-02" in sheet["A1"].value
    assert [cell.value for cell in sheet[2]] == HEADERS
    rows = [dict(zip(HEADERS, (cell.value for cell in row), strict=True)) for row in sheet.iter_rows(min_row=3)]
    assert len(rows) == 3
    assert [r["优先级"] for r in rows] == sorted(r["优先级"] for r in rows)
    assert {r["证件号码"] for r in rows} == {"442000********123X"}
    assert all("19500301" not in str(value) for r in rows for value in r.values())
    assert rows[0]["走访原因"].startswith("60岁及以上") and rows[0]["应种剂次"] == "第2剂"
    assert rows[0]["逾期天数"] == (AS_OF - date(2026, 1, 22)).days
    # the item id: present, hidden, locked; the outcome column unlocked with the six-choice drop-down
    assert all(isinstance(r["编号"], int) for r in rows)
    assert sheet.column_dimensions["A"].hidden and sheet.protection.sheet
    assert sheet["A3"].protection.locked and not sheet["R3"].protection.locked
    [validation] = sheet.data_validations.dataValidation
    assert validation.type == "list" and validation.formula1 == '"' + ",".join(OUTCOMES) + '"'
    assert str(validation.sqref) == "R3:R5" and sheet["R2"].value == "走访结果"

    with zhang.csv.open(encoding="utf-8-sig", newline="") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert [r["编号"] for r in csv_rows] == [str(r["编号"]) for r in rows]
    assert csv_rows[0]["证件号码"] == "442000********123X"

    only = export_lists(fresh_warehouse, output_dir / "g2", grid="G002")
    assert [(e.worker, e.items) for e in only] == [("李网格", 1)]
    assert sorted(p.name for p in (output_dir / "g2").iterdir()) == [
        "outreach_20261102_G002_李网格.csv", "outreach_20261102_G002_李网格.xlsx"]


def _fill(path: Path, outcomes: dict[str, str]) -> Path:
    """Staff fill 走访结果 by reason prefix; the file is saved under a new name, as it comes back."""
    workbook = load_workbook(path)
    sheet = workbook.active
    for row in sheet.iter_rows(min_row=3):
        reason = row[HEADERS.index("走访原因")].value
        for prefix, outcome in outcomes.items():
            if prefix in reason:
                row[HEADERS.index("走访结果")].value = outcome
                row[HEADERS.index("回访日期")].value = "2026年11月5日"
    returned = path.with_name(path.stem + "_returned.xlsx")
    workbook.save(returned)
    return returned


def test_feedback_round_trip_closes_items_and_records_signals(listed, fresh_warehouse, items) -> None:
    zhang, _, li = export_lists(fresh_warehouse)
    result = ingest_feedback(fresh_warehouse, _fill(zhang.xlsx, {"新冠": "已接种", "流感": "预约"}))
    assert result["status"] == "succeeded" and result["problems"] == []
    assert (result["rows_read"], result["applied"], result["closed"], result["kept_open"],
            result["rows_blank_outcome"]) == (3, 2, 1, 1, 1)
    by_rule = {i["rule_id"]: i for i in items() if i["person_key"] == 1}
    covid = by_rule["covid_60_not_complete"]
    assert (covid["status"], covid["closed_reason"], covid["last_outcome"]) == ("closed", "vaccinated_reported", "已接种")
    assert covid["suppress_until"] == AS_OF + timedelta(days=60)
    assert (by_rule["flu_60_this_season"]["status"], by_rule["flu_60_this_season"]["last_outcome"]) == ("open", "预约")
    assert _scalar(fresh_warehouse, "select count(*) from raw.outreach__feedback where load_id = :l",
                   l=result["load_id"]) == 3
    assert _scalar(fresh_warehouse, "select string_agg(effect || ':' || contact_date, ',' order by source_row) "
                   "from outreach.feedback") == "closed:2026-11-05,kept_open:2026-11-05"

    moved = ingest_feedback(fresh_warehouse, _fill(li.xlsx, {"麻腮风": "已搬离"}))
    assert moved["signals"] == 1
    assert _scalar(fresh_warehouse, "select signal from outreach.person_signal where person_key = 5") == "moved_away"

    # the next run lists neither the reported-vaccinated COVID need (held back) nor the moved child
    rerun = build_outreach_lists(fresh_warehouse)
    assert rerun["items_opened"] == 0
    assert {(i["person_key"], i["rule_id"]) for i in items("open")} == {
        (1, "flu_60_this_season"), (1, "ppsv23_60_none"),
        (20, "covid_60_not_complete"), (20, "flu_80_alone_this_season"), (20, "ppsv23_60_none")}

    # the same return sent again is recognised by its content and not applied twice
    again = ingest_feedback(fresh_warehouse, zhang.xlsx.with_name(zhang.xlsx.stem + "_returned.xlsx"))
    assert again["status"] == "skipped_duplicate"
    assert _scalar(fresh_warehouse, "select count(*) from outreach.feedback") == 3


def test_csv_return_with_bad_rows_quarantines_them_and_applies_the_rest(listed, fresh_warehouse, items,
                                                                         tmp_path: Path) -> None:
    zhang = export_lists(fresh_warehouse)[0]
    with zhang.csv.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["走访结果"] = "拒绝"
    rows[1]["走访结果"] = "打过了"  # not an outcome
    rows[2]["走访结果"] = "已接种"
    rows[2]["编号"] = "999999"  # no such item
    returned = tmp_path / "outreach_20261102_G001_张网格_回执.csv"
    with returned.open("w", encoding="gb18030", newline="") as handle:  # saved back by Excel as GBK
        writer = csv.DictWriter(handle, fieldnames=HEADERS)
        writer.writeheader()
        writer.writerows(rows)

    result = ingest_feedback(fresh_warehouse, returned)
    assert (result["applied"], result["quarantined"]) == (1, 2)
    assert result["problems"] == [
        f"{returned.name}, row 3, column 走访结果: unknown outcome '打过了'; expected one of " + " / ".join(OUTCOMES),
        f"{returned.name}, row 4, column 编号: no outreach item with 编号 999999",
    ]
    with fresh_warehouse.connect() as conn:
        quarantined = conn.execute(sa.text("select source_row, reason_code, record ->> 'outcome' "
                                           "from quarantine.outreach__feedback order by source_row")).all()
        run = conn.execute(sa.text("select status, rows_read, rows_loaded, rows_quarantined from audit.load_run "
                                   "where load_id = :l"), {"l": result["load_id"]}).one()
    assert [tuple(q) for q in quarantined] == [(3, "unknown_outcome", "打过了"), (4, "unknown_item", "已接种")]
    assert tuple(run) == ("succeeded", 3, 3, 2)
    refused = [i for i in items("closed") if str(i["item_id"]) == rows[0]["编号"]]
    assert refused and refused[0]["closed_reason"] == "refused"


def test_a_return_without_the_item_column_is_rejected_whole(listed, fresh_warehouse, items, tmp_path: Path) -> None:
    returned = tmp_path / "outreach_return.csv"
    returned.write_text("姓名,走访结果\n陈大文,已接种\n", encoding="utf-8")
    open_before = items("open")
    with pytest.raises(FeedbackRejected, match=r"outreach_return.csv, column 编号: required column 编号"):
        ingest_feedback(fresh_warehouse, returned)
    assert items("open") == open_before
    with fresh_warehouse.connect() as conn:
        status, error = conn.execute(sa.text("select status, error from audit.load_run "
                                             "where source = 'outreach.feedback'")).one()
        archived = conn.execute(sa.text("select count(*) from audit.landing_file "
                                        "where source = 'outreach.feedback'")).scalar()
    assert status == "failed" and "编号" in error and archived == 1
    assert returned.exists()  # the sender's file is untouched, and its bytes are in the archive


def test_an_import_killed_midway_is_closed_by_the_next_one(listed, fresh_warehouse, tmp_path: Path) -> None:
    from community_dw.sources.attempts import claimed_load

    returned = tmp_path / "outreach_return.csv"
    returned.write_text("编号,走访结果\n\n", encoding="utf-8")
    # An import whose process died: its claimed row says 'running', its session is gone.
    with claimed_load(fresh_warehouse, "outreach.feedback", "outreach_killed.xlsx", "abc", None) as killed:
        with fresh_warehouse.connect() as conn:
            pid = conn.execute(sa.text("select backend_pid from audit.load_run where load_id = :l"),
                               {"l": killed}).scalar()
            assert conn.execute(sa.text("select pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar()
        result = ingest_feedback(fresh_warehouse, returned)
    with fresh_warehouse.connect() as conn:
        runs = dict(conn.execute(sa.text("select load_id, status from audit.load_run "
                                         "where source = 'outreach.feedback'")).all())
        error = conn.execute(sa.text("select error from audit.load_run where load_id = :l"), {"l": killed}).scalar()
        claimed = conn.execute(sa.text("select backend_pid is not null from audit.load_run where load_id = :l"),
                               {"l": result["load_id"]}).scalar()
    assert runs == {killed: "failed", result["load_id"]: "succeeded"}
    assert error.startswith("outreach_killed.xlsx: the loading process ended before finishing")
    assert claimed  # this import claimed its own row while it ran

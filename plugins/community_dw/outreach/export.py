"""Export the open outreach items: one XLSX (and CSV) per grid worker, for staff to fill in and return."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy.engine import Engine

from community_dw.config import output_dir
from community_dw.outreach.rules import load_rules

#: (header staff read, row key, column width). The headers are the ones mappings/outreach_feedback.yaml
#: reads back; 编号 must stay first (it is hidden and locked in the workbook).
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("编号", "item_id", 8),
    ("优先级", "priority", 6),
    ("走访原因", "reason", 36),
    ("姓名", "name", 10),
    ("证件号码", "id_number_masked", 21),
    ("性别", "sex", 5),
    ("年龄", "age_years", 5),
    ("联系电话", "phones", 28),
    ("户号", "household_no", 10),
    ("楼栋", "building_code", 12),
    ("地址", "building_address", 24),
    ("疫苗", "vaccine_name", 18),
    ("应种剂次", "dose_due", 9),
    ("应种日期", "due_date", 11),
    ("逾期天数", "days_overdue", 8),
    ("网格", "grid_code", 10),
    ("网格员", "grid_worker_name", 10),
    ("走访结果", "outcome", 11),
    ("回访日期", "contact_date", 11),
    ("备注", "note", 24),
)
EDITABLE = ("outcome", "contact_date", "note")
UNASSIGNED = "未分配网格员"
HEADER_ROW = 2  # row 1 is the title; the feedback reader finds the header row by its headers
_UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\s]+')


def mask_id_number(value: str | None) -> str | None:
    """First 6 and last 4 characters kept, the rest starred: the region and check part identify the
    record to staff without the birth date. Short numbers (passports) keep only their last 4."""
    if not value:
        return value
    text = str(value)
    if len(text) > 10:
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    return "*" * max(len(text) - 4, 0) + text[-4:] if len(text) > 4 else "*" * len(text)


@dataclass(frozen=True)
class ExportedList:
    worker: str
    grid_codes: tuple[str, ...]
    items: int
    xlsx: Path
    csv: Path


def _open_items(engine: Engine, grid: str | None, worker: str | None) -> tuple[date, list[dict[str, Any]]]:
    with engine.connect() as conn:
        as_of = conn.execute(sa.text("select as_of_date from outreach.run order by run_id desc limit 1")).scalar()
        rows = conn.execute(sa.text(
            "select i.*, coalesce(c.vaccine_name, i.vaccine_code) as vaccine_name "
            "from outreach.list_item i left join core.vaccine_catalogue c using (vaccine_code) "
            "where i.status = 'open' "
            "  and (cast(:grid as text) is null or i.grid_code = :grid) "
            "  and (cast(:worker as text) is null or i.grid_worker_name = :worker) "
            # the urgent first, then the longest overdue; a household's members stay together
            "order by i.priority, i.days_overdue desc, i.household_no nulls last, i.person_key, i.rule_id"),
            {"grid": grid, "worker": worker}).mappings().all()
    return as_of or date.today(), [dict(row) for row in rows]


def _display(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "id_number_masked": mask_id_number(item["id_number"]),
        "sex": {"M": "男", "F": "女"}.get(item["sex"] or "", ""),
        "phones": "；".join(item["phones"] or []),
        "dose_due": f"第{item['dose_number_due']}剂",
        "outcome": None, "contact_date": None, "note": None,
    }


def _file_stem(as_of: date, worker: str, grid_codes: tuple[str, ...]) -> str:
    grids = "+".join(grid_codes[:3]) + ("+…" if len(grid_codes) > 3 else "") if grid_codes else "无网格"
    return _UNSAFE_IN_NAME.sub("_", f"outreach_{as_of:%Y%m%d}_{grids}_{worker}")


def _write_xlsx(path: Path, title: str, rows: list[dict[str, Any]], outcome_labels: list[str]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "走访名单"
    last_column = get_column_letter(len(COLUMNS))
    sheet["A1"] = title
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.merge_cells(f"A1:{last_column}1")
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    editable_fill = PatternFill("solid", fgColor="FFF2CC")
    for index, (header, _, width) in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=HEADER_ROW, column=index, value=header)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center")
        sheet.column_dimensions[get_column_letter(index)].width = width
    unlocked = Protection(locked=False)
    for offset, row in enumerate(rows):
        row_number = HEADER_ROW + 1 + offset
        for index, (_, key, _) in enumerate(COLUMNS, start=1):
            cell = sheet.cell(row=row_number, column=index, value=row.get(key))
            if key == "due_date":
                cell.number_format = "yyyy-mm-dd"
            if key in EDITABLE:
                cell.protection = unlocked
                cell.fill = editable_fill
    last_row = HEADER_ROW + max(len(rows), 1)
    outcome_column = get_column_letter(next(i for i, (_, key, _) in enumerate(COLUMNS, start=1) if key == "outcome"))
    # The drop-down is the only way to get a value the feedback loader understands; typing another
    # value is refused by Excel/WPS (showErrorMessage) rather than discovered on return.
    validation = DataValidation(type="list", formula1='"' + ",".join(outcome_labels) + '"', allow_blank=True,
                                showErrorMessage=True, errorTitle="走访结果", error="请从下拉列表中选择",
                                showInputMessage=True, promptTitle="走访结果", prompt="/".join(outcome_labels))
    validation.add(f"{outcome_column}{HEADER_ROW + 1}:{outcome_column}{last_row}")
    sheet.add_data_validation(validation)
    # 编号 matches the return to its item: hidden, and the sheet protected (no password: it guards
    # against slips, not people) with only the three columns staff fill in left unlocked.
    sheet.column_dimensions["A"].hidden = True
    sheet.protection.sheet = True
    sheet.protection.autoFilter = False
    sheet.protection.sort = False
    sheet.protection.formatColumns = False
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last_column}{last_row}"
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"

    guide = workbook.create_sheet("填写说明")
    guide.append(["请在「走访结果」列用下拉框选择一项，必要时填写回访日期和备注，然后将本文件原样交回。"])
    guide.append(["不要删除或修改隐藏的「编号」列；不要增删行列。"])
    for label in outcome_labels:
        guide.append([label])
    guide.column_dimensions["A"].width = 90
    workbook.save(path)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    # utf-8-sig: Excel on Chinese Windows opens a BOM-marked CSV as UTF-8 instead of GBK
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([header for header, _, _ in COLUMNS])
        for row in rows:
            writer.writerow(["" if row.get(key) is None else row.get(key) for _, key, _ in COLUMNS])


def export_lists(engine: Engine, out_dir: Path | None = None, *, grid: str | None = None,
                 worker: str | None = None) -> list[ExportedList]:
    """Write one XLSX and one CSV per grid worker with their open items; returns what was written.

    `grid` or `worker` narrows the export to one grid or one worker's grids. Items whose person has
    no grid go to a 未分配网格员 file, so nobody listed is silently left out.
    """
    if grid and worker:
        raise ValueError("give a grid or a worker, not both")
    out_dir = Path(out_dir) if out_dir else output_dir() / "outreach"
    out_dir.mkdir(parents=True, exist_ok=True)
    as_of, items = _open_items(engine, grid, worker)
    outcome_labels = [outcome.label for outcome in load_rules().outcomes]
    by_worker: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for item in items:
        key = (item["grid_worker_name"] or UNASSIGNED, item["grid_worker_phone"])
        by_worker.setdefault(key, []).append(_display(item))
    exported = []
    for (name, phone), rows in sorted(by_worker.items(), key=lambda pair: (pair[0][0], pair[0][1] or "")):
        grid_codes = tuple(sorted({row["grid_code"] for row in rows if row["grid_code"]}))
        stem = _file_stem(as_of, name, grid_codes)
        title = (f"{name}{'（' + phone + '）' if phone else ''} 走访名单 — 网格 {'、'.join(grid_codes) or '无'}"
                 f" — 统计日期 {as_of:%Y-%m-%d} — 共 {len(rows)} 条")
        xlsx_path, csv_path = out_dir / f"{stem}.xlsx", out_dir / f"{stem}.csv"
        _write_xlsx(xlsx_path, title, rows, outcome_labels)
        _write_csv(csv_path, rows)
        exported.append(ExportedList(name, grid_codes, len(rows), xlsx_path, csv_path))
    return exported

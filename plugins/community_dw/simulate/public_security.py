"""Public security deliveries: the day-1 full snapshot and daily deltas, in rotating file formats.

Source rows are numbered 1-based over *data rows* in file order, as a reader counts them after
the header: the first row under the header is row 1, in CSV and XLSX alike. Title, 导出时间 and
header rows are not counted, nor are the blank rows at the bottom of a sheet. `sheet_row` in
the truth gives the physical position too (CSV: line number, header = line 1; XLSX: Excel row).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from community_dw.simulate.defects import (
    DefectLog,
    DefectRates,
    plant_birth_dates,
    plant_id_numbers,
    plant_names,
    plant_phones,
    plant_sex,
)
from community_dw.simulate.identity import mobiles

SOURCE = "public_security"
HEADERS = {
    "name": "姓名", "id_type": "证件类型", "id_number": "公民身份号码", "sex": "性别", "ethnicity": "民族",
    "birth_date": "出生日期", "phone": "联系电话", "household_no": "户号", "relation_to_head": "与户主关系",
    "registered_address": "户籍地址", "current_address": "现住址", "building_code": "楼栋编码",
    "population_type": "人口类型", "residence_permit_no": "居住证号", "subdistrict": "街道", "community": "社区",
}
DELTA_HEADERS = {"change_type": "变动类型", "change_date": "变动日期"}
# Format of each delivery: day 1 (the full snapshot) is GB18030 CSV with CRLF, the most common
# shape; deltas rotate so that every shape SOURCES.md lists turns up within a few days.
DELTA_FORMATS = ["utf-8-sig-lf", "xlsx", "gb18030-lf", "gb18030-crlf", "utf-8-lf"]
XLSX_TITLE = "中山市公安局实有人口{kind}数据"
XLSX_HEADER_ROW = 3       # title row, 导出时间 row, header row
XLSX_BLANK_TAIL = 3


@dataclass
class Delivery:
    path: Path
    records: pd.DataFrame  # file, row_number, sheet_row, person_id, change_type, is_duplicate


def delta_format(day: int) -> str:
    return DELTA_FORMATS[(day - 2) % len(DELTA_FORMATS)]


def export_time(seed: int, date: pd.Timestamp) -> str:
    """The 导出时间 stamp: early morning of the delivery day, minutes derived from the seed (never the clock)."""
    minutes = 6 * 60 + (seed * 37 + date.day * 11) % 120
    return f"{date:%Y-%m-%d} {minutes // 60:02d}:{minutes % 60:02d}:{(seed * 13) % 60:02d}"


def _rows(persons: pd.DataFrame, rates: DefectRates, rng: np.random.Generator, log: DefectLog,
          delivery: str, delta: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Delivered rows (Chinese headers) and their truth, with duplicates and quirks planted."""
    n = len(persons)
    dup = np.flatnonzero(rng.random(n) < rates.duplicate_row)
    order = np.concatenate([np.arange(n), dup])
    position = np.concatenate([np.arange(n, dtype=float), rng.uniform(0, n, len(dup))])
    order = order[np.argsort(position, kind="stable")]
    is_dup = np.zeros(len(order), dtype=bool)
    is_dup[np.argsort(position, kind="stable") >= n] = True
    p = persons.iloc[order].reset_index(drop=True)
    m = len(p)
    row_number = np.arange(1, m + 1)
    keys = row_number.astype(str)
    birth_years = p.birth_date.dt.year.to_numpy()

    out = {}
    true_names = p.name.to_numpy(dtype=object)
    out["name"], hits = plant_names(true_names, rates, rng)
    log.add_hits(SOURCE, delivery, keys, "姓名", hits, true_names, out["name"])
    out["id_type"] = p.id_type.to_numpy(dtype=object)
    true_ids = p.id_number.to_numpy(dtype=object)
    out["id_number"], hits = plant_id_numbers(true_ids, birth_years, rates, rng)
    log.add_hits(SOURCE, delivery, keys, "公民身份号码", hits, true_ids, out["id_number"])
    true_sex = p.sex.to_numpy(dtype=object)
    out["sex"], hits = plant_sex(true_sex, rates, rng)
    log.add_hits(SOURCE, delivery, keys, "性别", hits, true_sex, out["sex"])
    eth = p.ethnicity.to_numpy(dtype=object)
    short = (pd.Series(eth).str.len() >= 2).to_numpy() & (rng.random(m) < rates.ethnicity_short)
    out["ethnicity"] = eth.copy()
    out["ethnicity"][short] = pd.Series(eth[short], dtype=object).str.slice(0, -1).to_numpy(dtype=object)
    log.add(SOURCE, delivery, keys[short], "民族", "ethnicity_short", eth[short], out["ethnicity"][short])
    true_birth = p.birth_date.dt.strftime("%Y%m%d").to_numpy(dtype=object)
    out["birth_date"], hits = plant_birth_dates(p.birth_date, rates, rng)
    log.add_hits(SOURCE, delivery, keys, "出生日期", hits, true_birth, out["birth_date"])
    canonical, out["phone"], hits = plant_phones(p.mobile.to_numpy(dtype=object), p.landline.to_numpy(dtype=object),
                                                 rates, rng, mobiles(m, rng))
    log.add_hits(SOURCE, delivery, keys, "联系电话", hits, canonical, out["phone"])
    for col in ("household_no", "relation_to_head", "registered_address", "current_address", "population_type",
                "residence_permit_no", "subdistrict", "community"):
        out[col] = p[col].to_numpy(dtype=object)
    building = p.building_code.to_numpy(dtype=object).copy()
    blank = rng.random(m) < rates.building_code_blank
    log.add(SOURCE, delivery, keys[blank], "楼栋编码", "blank", building[blank], np.full(int(blank.sum()), ""))
    building[blank] = ""
    out["building_code"] = building
    log.add(SOURCE, delivery, keys[is_dup], "", "duplicate_row")
    frame = pd.DataFrame({HEADERS[c]: out[c] for c in HEADERS})
    change_type = np.full(m, "", dtype=object)
    if delta is not None:
        d = delta.iloc[order].reset_index(drop=True)
        change_type = d.change_type.to_numpy(dtype=object)
        frame["变动类型"] = change_type
        frame["变动日期"] = d.change_date.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    truth = pd.DataFrame({"file": delivery, "row_number": row_number, "person_id": p.person_id.to_numpy(),
                          "change_type": change_type, "is_duplicate": is_dup})
    return frame, truth


def write_frame(frame: pd.DataFrame, path: Path, fmt: str, title: str, stamp: str) -> None:
    """Write one delivery in `fmt`: gb18030/utf-8/utf-8-sig CSV with crlf/lf, or xlsx with title rows."""
    if fmt == "xlsx":
        from openpyxl import Workbook

        # write_only streams rows to disk: a 100k-row delta stays fast and small in memory
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Sheet1")
        ws.append([title])
        ws.append([f"导出时间：{stamp}"])
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False, name=None):
            ws.append(list(row))
        for _ in range(XLSX_BLANK_TAIL):
            ws.append([None] * len(frame.columns))
        wb.save(path)
        return
    encoding, ending = fmt.rsplit("-", 1)
    frame.to_csv(path, index=False, encoding=encoding, lineterminator="\r\n" if ending == "crlf" else "\n")


def deliver_full(persons: pd.DataFrame, landing: Path, date: pd.Timestamp, seed: int, rates: DefectRates,
                 rng: np.random.Generator, log: DefectLog) -> Delivery:
    """residents_full_YYYYMMDD.csv: everyone present on day 1."""
    path = landing / SOURCE / f"residents_full_{date:%Y%m%d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame, truth = _rows(persons, rates, rng, log, path.name, None)
    write_frame(frame, path, "gb18030-crlf", XLSX_TITLE.format(kind="全量"), export_time(seed, date))
    truth["sheet_row"] = truth.row_number + 1
    return Delivery(path, truth)


def deliver_delta(persons: pd.DataFrame, events: pd.DataFrame, landing: Path, day: int, date: pd.Timestamp,
                  seed: int, rates: DefectRates, rng: np.random.Generator, log: DefectLog) -> list[Delivery]:
    """residents_delta_YYYYMMDD.*: the day's events, each with the person's row as it stands after it."""
    fmt = delta_format(day)
    ext = "xlsx" if fmt == "xlsx" else "csv"
    path = landing / SOURCE / f"residents_delta_{date:%Y%m%d}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ev = events[events.day == day].reset_index(drop=True)
    rows = persons.set_index("person_id").loc[ev.person_id.to_numpy()].reset_index()
    frame, truth = _rows(rows, rates, rng, log, path.name, ev)
    write_frame(frame, path, fmt, XLSX_TITLE.format(kind="变动"), export_time(seed, date))
    truth["sheet_row"] = truth.row_number + (XLSX_HEADER_ROW if fmt == "xlsx" else 1)
    deliveries = [Delivery(path, truth)]
    if rng.random() < rates.delivery_resent:
        # the same bytes delivered again under a name that still carries the delivery date
        again = path.with_name(f"residents_delta_resent_{date:%Y%m%d}.{ext}")
        shutil.copyfile(path, again)
        log.add(SOURCE, again.name, [path.name], "", "delivery_resent")
        deliveries.append(Delivery(again, truth.assign(file=again.name)))
    return deliveries

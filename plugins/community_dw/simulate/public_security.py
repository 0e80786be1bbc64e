"""Public security deliveries: the day-1 full snapshot and daily deltas, in rotating file formats.

Source rows are numbered 1-based over *data rows* in file order, as a reader counts them after
the header: the first row under the header is row 1, in CSV and XLSX alike. Title, 导出时间 and
header rows are not counted, nor are the blank rows at the bottom of a sheet. `sheet_row` in
the truth gives the physical position too (CSV: line number, header = line 1; XLSX: Excel row).
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from community_dw.simulate.defects import (
    DefectLog,
    DefectRates,
    canonical_dates,
    gather,
    id_flags,
    name_flags,
    plant_birth_dates,
    plant_id_numbers,
    plant_names,
    plant_phones,
    plant_sex,
)
from community_dw.simulate.xlsx import save_workbook

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
CSV_SLICE_ROWS = 100_000
# the columns defects are planted in (as Python objects) and those delivered as they are (Arrow)
PLANTED = ["name", "id_number", "sex", "ethnicity", "mobile", "landline", "building_code"]
PASS_THROUGH = ["household_no", "relation_to_head", "registered_address", "current_address", "population_type",
                "residence_permit_no", "subdistrict", "community"]
SHORTENABLE = ["汉族", "回族", "壮族", "满族", "苗族", "瑶族", "侗族", "彝族"]


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


# defects are planted this many delivered rows at a time: Python str objects exist for one chunk
# of the planted columns only, and each chunk's result is kept as Arrow strings
PLANT_CHUNK_ROWS = 500_000


def _rows(persons: pd.DataFrame, rates: DefectRates, rng: np.random.Generator, log: DefectLog,
          delivery: str, delta: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Delivered rows (Chinese headers) and their truth, with duplicates and quirks planted."""
    n = len(persons)
    dup = np.flatnonzero(rng.random(n) < rates.duplicate_row)
    # a re-registration turns up somewhere later in the export, not next to the first row
    source = np.concatenate([np.arange(n), dup])
    position = np.concatenate([np.arange(n, dtype=float), rng.uniform(0, n, len(dup))])
    sort = np.argsort(position, kind="stable")
    order = source[sort]
    is_dup = sort >= n
    m = len(order)
    row_number = np.arange(1, m + 1)
    # Python str objects only for one chunk of the columns defects are planted in; the rest stay
    # Arrow and are gathered with `take` (16 object columns of a million rows cost over a gigabyte)
    text = {c: _arrow_column(persons[c]) for c in PLANTED}
    nflags = name_flags(persons["name"])
    iflags = id_flags(persons["id_number"])
    birth_all = persons.birth_date.reset_index(drop=True)
    planted: dict[str, list[pa.Array]] = {c: [] for c in ("name", "id_number", "sex", "ethnicity", "birth_date",
                                                           "phone", "building_code")}
    for start in range(0, m, PLANT_CHUNK_ROWS):
        o = order[start:start + PLANT_CHUNK_ROWS]
        rows = row_number[start:start + PLANT_CHUNK_ROWS]
        take = pa.array(o)

        def gathered(c: str, take: pa.Array = take) -> np.ndarray:
            return text[c].take(take).to_numpy(zero_copy_only=False)

        birth = birth_all.iloc[o].reset_index(drop=True)
        true_names = gathered("name")
        out, hits = plant_names(true_names, rates, rng, gather(nflags, o))
        log.add_hits(SOURCE, delivery, rows, "姓名", hits, true_names, out)
        planted["name"].append(_strings(out))
        true_ids = gathered("id_number")
        out, hits = plant_id_numbers(true_ids, birth.dt.year.to_numpy(), rates, rng, gather(iflags, o))
        log.add_hits(SOURCE, delivery, rows, "公民身份号码", hits, true_ids, out)
        planted["id_number"].append(_strings(out))
        true_sex = gathered("sex")
        out, hits = plant_sex(true_sex, rates, rng)
        log.add_hits(SOURCE, delivery, rows, "性别", hits, true_sex, out)
        planted["sex"].append(_strings(out))
        eth = gathered("ethnicity")
        short = np.isin(eth, SHORTENABLE) & (rng.random(len(o)) < rates.ethnicity_short)
        out = eth.copy()
        out[short] = np.array([e[:-1] for e in eth[short]], dtype=object)
        log.add(SOURCE, delivery, rows[short], "民族", "ethnicity_short", eth[short], out[short])
        planted["ethnicity"].append(_strings(out))
        out, hits = plant_birth_dates(birth, rates, rng)
        log.add_hits(SOURCE, delivery, rows, "出生日期", hits, canonical_dates(birth), out)
        planted["birth_date"].append(_strings(out))
        canonical, out, hits = plant_phones(gathered("mobile"), gathered("landline"), rates, rng)
        log.add_hits(SOURCE, delivery, rows, "联系电话", hits, canonical, out)
        planted["phone"].append(_strings(out))
        building = gathered("building_code")
        blank = rng.random(len(o)) < rates.building_code_blank
        log.add(SOURCE, delivery, rows[blank], "楼栋编码", "blank", building[blank], "")
        building[blank] = ""
        planted["building_code"].append(_strings(building))
        del true_names, true_ids, true_sex, eth, out, canonical, building, birth
    take = pa.array(order)
    out: dict[str, pa.ChunkedArray] = {c: pa.chunked_array(v, type=pa.large_string()) for c, v in planted.items()}
    del planted
    out["id_type"] = _arrow_column(persons["id_type"]).take(take)
    for c in PASS_THROUGH:
        out[c] = _arrow_column(persons[c]).take(take)
    log.add(SOURCE, delivery, row_number[is_dup], "", "duplicate_row")
    frame = pd.DataFrame({HEADERS[c]: _series(out[c]) for c in HEADERS})
    change_type = np.full(m, "", dtype=object)
    if delta is not None:
        change_type = delta.change_type.to_numpy(dtype=object)[order]
        frame["变动类型"] = change_type
        frame["变动日期"] = canonical_dates(delta.change_date.iloc[order])
        frame["变动日期"] = frame["变动日期"].str.slice(0, 4) + "-" + frame["变动日期"].str.slice(4, 6) + "-" \
            + frame["变动日期"].str.slice(6, 8)
    truth = pd.DataFrame({"file": delivery, "row_number": row_number, "person_id": persons.person_id.to_numpy()[order],
                          "change_type": change_type, "is_duplicate": is_dup})
    return frame, truth


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.large_string(), from_pandas=True)


def _arrow_column(values: pd.Series) -> pa.ChunkedArray:
    """A text column as Arrow strings, without going through Python objects when already Arrow."""
    if isinstance(values.array, (pd.arrays.ArrowStringArray, pd.arrays.ArrowExtensionArray)):
        arr = pa.array(values.array)  # the Arrow data itself (__arrow_array__), no conversion
    else:
        arr = pa.array(values.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    arr = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    return arr.cast(pa.large_string())


def _series(values) -> pd.Series:
    if isinstance(values, pa.ChunkedArray):
        return pd.Series(pd.arrays.ArrowExtensionArray(values))
    return pd.Series(values, dtype=object)


def _csv_bytes(frame: pd.DataFrame, header: bool = True) -> bytes:
    """UTF-8 CSV, quoted only where a value needs it (pyarrow when no value does: ~10x pandas)."""
    import pyarrow.csv as pacsv

    head = (",".join(frame.columns) + "\n").encode("utf-8") if header else b""
    table = pa.Table.from_arrays([_arrow_column(frame[c]).cast(pa.string()) for c in frame.columns],
                                 names=list(frame.columns))
    buf = io.BytesIO()
    try:
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
        return head + buf.getvalue()
    except pa.ArrowInvalid:  # some value holds a comma or quote: let pandas quote minimally
        return frame.to_csv(index=False, header=header, lineterminator="\n").encode("utf-8")


def write_frame(frame: pd.DataFrame, path: Path, fmt: str, title: str, stamp: str) -> None:
    """Write one delivery in `fmt`: gb18030/utf-8/utf-8-sig CSV with crlf/lf, or xlsx with title rows."""
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Border, Side

        # write_only streams rows to disk: a 100k-row delta stays fast and small in memory
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Sheet1")
        ws.append([title])
        ws.append([f"导出时间：{stamp}"])
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False, name=None):
            ws.append(list(row))
        # the export leaves bordered but empty rows under the data, which readers see as blank rows
        thin = Border(bottom=Side(style="thin"))
        for _ in range(XLSX_BLANK_TAIL):
            blank = []
            for _c in frame.columns:
                cell = WriteOnlyCell(ws, value=None)
                cell.border = thin
                blank.append(cell)
            ws.append(blank)
        save_workbook(wb, path, datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S"))
        return
    encoding, ending = fmt.rsplit("-", 1)
    # a slice of rows at a time: the whole snapshot as UTF-8, then as str, then as GB18030 held
    # four copies of a quarter-gigabyte file at a million residents. Each row is written the same
    # whichever slice it is in, so the file is the same as one written whole.
    with path.open("wb") as f:
        if encoding == "utf-8-sig":
            f.write(b"\xef\xbb\xbf")
        for start in range(0, max(len(frame), 1), CSV_SLICE_ROWS):
            data = _csv_bytes(frame.iloc[start:start + CSV_SLICE_ROWS], header=start == 0)
            if ending == "crlf":
                data = data.replace(b"\n", b"\r\n")  # no value contains a line break, so this is safe
            if encoding == "gb18030":
                data = data.decode("utf-8").encode("gb18030")
            f.write(data)


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
    at = pd.Index(persons.person_id).get_indexer(ev.person_id.to_numpy())
    rows = persons.iloc[at].reset_index(drop=True)
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

"""Parse the first sheet of an XLSX delivery: find the header row, fill merged cells, cells to text."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import WorkSheetParser

from community_dw.sources.delivery import DeliveryError, ParsedDelivery, assemble, cell_to_text
from community_dw.sources.mapping import Mapping

HEADER_SCAN_ROWS = 20
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_xlsx(path: str | Path, mapping: Mapping, *, delivery: str | None = None) -> ParsedDelivery:
    """Read the first worksheet of a workbook as text, with source_row = the Excel row number.

    The header row is the row among the first 20 non-blank rows that holds the most of the
    mapping's required headers (then the most known headers): exports put a title row
    ("某某社区楼栋信息登记表") and an "导出时间：…" row above it.

    Merged cells: a merged range keeps its value only in its top-left cell. Below the header the
    value is copied down every row of the range, in the range's first column: a 所属网格 or 户号
    merged over several rows belongs to each of those buildings or people. A horizontal merge is not
    copied sideways, because one value would then appear under several different headers.

    Cells become text as a person reads them: numbers without ".0" or scientific notation (an ID
    number Excel stored as a number keeps whatever digits survived; standardization flags it),
    dates as ISO text (midnight datetimes as a date). Formulas give their cached value.

    The sheet is read in streaming mode (openpyxl's read-only parser), which is fast and small but
    hides merged ranges; they are taken from the same pass of openpyxl's worksheet parser.
    """
    path = Path(path)
    name = delivery or path.name
    _check_container(path, name)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise DeliveryError(name, f"corrupt workbook: {exc}") from None
    try:
        if not workbook.worksheets:
            raise DeliveryError(name, "workbook has no worksheet")
        rows, merges = _read_sheet(workbook, workbook.worksheets[0], name)
    finally:
        workbook.close()

    header_index = _find_header(rows, mapping, name)
    header_row, header_cells = rows[header_index]
    data = rows[header_index + 1:]
    _fill_merged(data, merges, header_row)

    header_width = max((i + 1 for i, cell in enumerate(header_cells) if cell is not None and cell.strip()), default=0)
    width = max(header_width, _last_filled_column(data))
    headers = []
    for i in range(width):
        cell = header_cells[i] if i < len(header_cells) else None
        headers.append(cell if cell is not None and cell.strip() else f"(no header, column {get_column_letter(i + 1)})")
    match = mapping.match_headers_positional(headers, name)

    columns = {i: pd.Series([cells[i] if i < len(cells) else None for _, cells in data], dtype="str")
               for i in range(width)}
    raw = pd.DataFrame(columns, index=pd.RangeIndex(len(data)))
    source_row = np.fromiter((number for number, _ in data), dtype="int64", count=len(data))
    return assemble(name, mapping, match, raw, source_row)


_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_INLINE_TEXT = (f"{_MAIN_NS}t", f"{_MAIN_NS}r/{_MAIN_NS}t")


class _SheetParser(WorkSheetParser):
    """openpyxl's worksheet parser, reading inline-string cells directly.

    Exporters that stream (openpyxl's write-only mode, many Java exports) write every text cell as an
    inline string, and openpyxl builds a rich-text object per such cell: about half the parse time.
    Only the plain text is needed: the runs' <t> elements, without phonetic (<rPh>) guides.
    """

    def parse_cell(self, element):
        if element.get("t") != "inlineStr":
            return super().parse_cell(element)
        cell = super().parse_cell(_without_children(element))
        inline = element.find(f"{_MAIN_NS}is")
        if inline is not None:
            cell["value"] = "".join(t.text or "" for path in _INLINE_TEXT for t in inline.iterfind(path)) or None
        cell["data_type"] = "s"
        return cell


def _without_children(element):
    copy = element.makeelement(element.tag, element.attrib)
    return copy


def _check_container(path: Path, name: str) -> None:
    """Tell the usual wrong files apart before openpyxl gives a less helpful message."""
    with path.open("rb") as handle:
        magic = handle.read(8)
    if not magic:
        raise DeliveryError(name, "empty file (0 bytes)")
    if magic == OLE2_MAGIC:
        # Excel saves a password-protected workbook as an encrypted OLE2 compound file (so is a
        # legacy .xls); neither is an XLSX zip package.
        raise DeliveryError(name, "password-protected or encrypted workbook (OLE2 compound file, not an XLSX "
                                  "package); ask the sender for an unprotected .xlsx export")
    if not magic.startswith(ZIP_MAGIC):
        raise DeliveryError(name, f"corrupt workbook: not a zip archive (starts with {magic[:4].hex(' ')})")


def _read_sheet(workbook, worksheet, name: str) -> tuple[list[tuple[int, list[str | None]]], list[tuple[int, int, int, int]]]:
    """One pass over the sheet XML: rows as (Excel row number, cell texts) and the merged ranges."""
    rows: list[tuple[int, list[str | None]]] = []
    try:
        with worksheet._get_source() as source:
            parser = _SheetParser(source, worksheet._shared_strings, data_only=True, epoch=workbook.epoch,
                                   date_formats=workbook._date_formats,
                                   timedelta_formats=workbook._timedelta_formats)
            for number, cells in parser.parse():
                texts: list[str | None] = []
                for cell in cells:
                    column = cell["column"]
                    if column > len(texts):
                        texts.extend([None] * (column - len(texts)))
                    texts[column - 1] = cell_to_text(cell["value"])
                rows.append((number, texts))
            merged = parser.merged_cells
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise DeliveryError(name, f"corrupt workbook: {exc}") from None
    except Exception as exc:  # lxml/ElementTree parse errors have no common base worth importing
        raise DeliveryError(name, f"corrupt worksheet XML: {exc}") from None
    merges = [range_boundaries(str(cell.ref)) for cell in merged.mergeCell] if merged is not None else []
    return rows, merges


def _blank(cells: list[str | None]) -> bool:
    return all(cell is None or not cell.strip() for cell in cells)


def _find_header(rows: list[tuple[int, list[str | None]]], mapping: Mapping, name: str) -> int:
    best_index, best_score = -1, (0, 0)
    # A header row holds a required header, or (when those were renamed) most of the known ones: one
    # known word in a title or a data row ("地址") does not make it a header.
    enough = max(2, (len(mapping.expected(name)) + 1) // 2)
    seen = 0
    for index, (_, cells) in enumerate(rows):
        if _blank(cells):
            continue
        seen += 1
        if seen > HEADER_SCAN_ROWS:
            break
        score = mapping.score_headers(cells, name)
        if score > best_score and (score[0] or score[1] >= enough):
            best_index, best_score = index, score
    if best_index < 0:
        expected = ", ".join(spec.header for spec in mapping.expected(name) if spec.required)
        if not any(not _blank(cells) for _, cells in rows):
            raise DeliveryError(name, "empty worksheet: no header row")
        raise DeliveryError(name, f"no header row found in the first {HEADER_SCAN_ROWS} rows "
                                  f"(looked for {expected or 'any known header'})")
    return best_index


def _fill_merged(data: list[tuple[int, list[str | None]]], merges: list[tuple[int, int, int, int]],
                 header_row: int) -> None:
    """Copy each merged range's top-left value down the range's first column (rows below the header)."""
    if not merges or not data:
        return
    by_number = {number: cells for number, cells in data}
    for min_col, min_row, _max_col, max_row in merges:
        if min_row <= header_row or min_row == max_row:
            continue  # title/header merges, or a purely horizontal merge
        top = by_number.get(min_row)
        value = top[min_col - 1] if top is not None and min_col - 1 < len(top) else None
        if value is None:
            continue
        for number in range(min_row + 1, max_row + 1):
            cells = by_number.get(number)
            if cells is None:
                # A row inside a merge that has no cells in the XML at all: add it in order.
                cells = []
                by_number[number] = cells
                _insert_row(data, number, cells)
            if len(cells) < min_col:
                cells.extend([None] * (min_col - len(cells)))
            if cells[min_col - 1] is None:
                cells[min_col - 1] = value


def _insert_row(data: list[tuple[int, list[str | None]]], number: int, cells: list[str | None]) -> None:
    position = next((i for i, (existing, _) in enumerate(data) if existing > number), len(data))
    data.insert(position, (number, cells))


def _last_filled_column(data: list[tuple[int, list[str | None]]]) -> int:
    last = 0
    for _, cells in data:
        for i in range(len(cells) - 1, last - 1, -1):
            if cells[i] is not None:
                last = i + 1
                break
    return last

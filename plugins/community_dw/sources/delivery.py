"""What every file/payload parser returns (ParsedDelivery) and how it fails (DeliveryError)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from community_dw.sources.mapping import HeaderMatch, Mapping

SOURCE_ROW = "source_row"
EXTRA = "extra"


class DeliveryError(Exception):
    """A delivery that cannot be parsed; names the delivery, and the row and column where there is one."""

    def __init__(self, delivery: str, message: str, *, row: int | None = None, column: str | None = None):
        self.delivery = delivery
        self.message = message
        self.row = row
        self.column = column
        where = [delivery]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}")

    def __reduce__(self):
        # Exceptions are pickled as cls(*args); ours has keyword-only fields, so say how to rebuild it
        # (task runners and process pools pickle errors).
        return (_rebuild_error, (self.delivery, self.message, self.row, self.column))


def _rebuild_error(delivery: str, message: str, row: int | None, column: str | None) -> DeliveryError:
    return DeliveryError(delivery, message, row=row, column=column)


@dataclass
class ParsedDelivery:
    delivery: str  # file name (or payload name)
    frame: pd.DataFrame  # canonical columns (str, NA for blank) + source_row (int64) + extra (JSON text or NA)
    columns: list[str]  # canonical column names present, in mapping order
    rows_read: int  # data rows read; blank rows (every field empty) are not counted
    drift: dict  # {"unknown_columns": [...original headers...], "missing_optional": [...canonical...]}
    encoding: str | None = None  # detected encoding for text files
    blank_rows: int = 0  # rows skipped because every field was empty (e.g. trailing rows in a sheet)
    mapping: str | None = field(default=None)  # name of the mapping file used, e.g. "public_security_residents"


def cell_to_text(value: Any) -> str | None:
    """One delivered value as text, the way a person reading the file would write it; None for blank.

    Numbers never get scientific notation or a ".0" tail: an ID number stored as a number becomes its
    digits (whatever precision the spreadsheet kept; standardization flags a damaged one), a coordinate
    keeps the digits the file stored (the shortest repr of the double, which is what Excel wrote).
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None if math.isnan(value) else str(value)
        text = format(Decimal(repr(value)), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _unique_keys(headers: Sequence[str]) -> list[str]:
    """JSON keys for unknown columns: the header itself; a blank one by position; repeats numbered."""
    keys: list[str] = []
    seen: dict[str, int] = {}
    for position, header in enumerate(headers):
        key = header if header.strip() else f"column_{position + 1}"
        if key in seen:
            seen[key] += 1
            key = f"{key} ({seen[key]})"
        else:
            seen[key] = 1
        keys.append(key)
    return keys


def extra_json(frame: pd.DataFrame, positions: Sequence[Any], headers: Sequence[str]) -> pd.Series:
    """Per row, the unknown columns as JSON text {header: value} (blank values as null)."""
    if not positions:
        return pd.Series(pd.NA, index=frame.index, dtype="str")
    keys = _unique_keys(headers)
    columns = [frame[p].astype(object).where(frame[p].notna(), None).tolist() for p in positions]
    text = [json.dumps(dict(zip(keys, values, strict=True)), ensure_ascii=False) for values in zip(*columns, strict=True)]
    return pd.Series(text, index=frame.index, dtype="str")


def assemble(
    delivery: str,
    mapping: Mapping,
    match: HeaderMatch,
    raw: pd.DataFrame,
    source_row: np.ndarray | Sequence[int],
    *,
    encoding: str | None = None,
    derived: dict[str, Sequence[str | None]] | None = None,
) -> ParsedDelivery:
    """Turn a positional text frame (column label = position in the delivery) into a ParsedDelivery.

    `derived` are columns the parser computes (e.g. geometry_wkt), aligned with `raw`; they follow
    the mapped columns. Rows whose every field is blank are dropped and counted in blank_rows: they
    carry nothing to load, and spreadsheets routinely end with a few of them.
    """
    raw = raw.copy(deep=False)
    raw[SOURCE_ROW] = np.asarray(source_row, dtype="int64")
    derived = derived or {}
    for name, values in derived.items():
        raw[name] = pd.Series(values, index=raw.index, dtype="str")
    data_positions = list(match.positions) + list(match.unknown_positions) + list(derived)
    blank_rows = 0
    if data_positions and len(raw):
        blank = raw[data_positions].isna().all(axis=1).to_numpy()
        blank_rows = int(blank.sum())
        if blank_rows:
            raw = raw.loc[~blank].reset_index(drop=True)
    order = mapping.order
    present = sorted(match.positions.items(), key=lambda item: order[item[1]])
    frame = pd.DataFrame({column: raw[position].astype("str") for position, column in present}, index=raw.index)
    for name in derived:
        frame[name] = raw[name]
    frame[SOURCE_ROW] = raw[SOURCE_ROW].astype("int64")
    frame[EXTRA] = extra_json(raw, match.unknown_positions, match.unknown)
    return ParsedDelivery(
        delivery=delivery,
        frame=frame,
        columns=[column for _, column in present] + list(derived),
        rows_read=len(frame),
        drift={"unknown_columns": list(match.unknown), "missing_optional": list(match.missing_optional)},
        encoding=encoding,
        blank_rows=blank_rows,
        mapping=mapping.name,
    )


def parse_records(
    records: Iterable[dict[str, Any]],
    mapping: Mapping,
    delivery: str,
    *,
    source_rows: Sequence[int] | None = None,
) -> ParsedDelivery:
    """Map JSON/SQL records (dicts keyed by field name) through a mapping, like a file's rows.

    For the API and SQL connectors: every value becomes text as delivered (cell_to_text), fields the
    mapping does not know go to `extra`, and source_row is the record's 1-based position in the
    payload unless the caller passes its own numbers (e.g. record ids).
    """
    records = list(records)
    keys: list[str] = []
    seen: set[str] = set()
    for record in records:
        for key in record:
            if key not in seen:
                seen.add(key)
                keys.append(key)
    match = mapping.match_headers_positional(keys, delivery)
    raw = pd.DataFrame(
        {position: pd.Series([cell_to_text(record.get(key)) for record in records], dtype="str")
         for position, key in enumerate(keys)},
        index=pd.RangeIndex(len(records)),
    )
    rows = np.arange(1, len(records) + 1) if source_rows is None else np.asarray(source_rows)
    return assemble(delivery, mapping, match, raw, rows)


def parse_delivery(path: str | Path, mapping: Mapping | None = None) -> ParsedDelivery:
    """Parse a delivered file with the parser for its kind; the mapping is picked by file name if not given."""
    from community_dw.sources.mapping import mapping_for_file

    path = Path(path)
    mapping = mapping or mapping_for_file(path.name)
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        from community_dw.sources.delimited import read_delimited

        return read_delimited(path, mapping)
    if suffix in {".xlsx", ".xlsm"}:
        from community_dw.sources.xlsx import read_xlsx

        return read_xlsx(path, mapping)
    if suffix in {".geojson", ".json"}:
        from community_dw.sources.geojson import read_grids_geojson

        return read_grids_geojson(path, mapping)
    raise DeliveryError(path.name, f"no parser for files of type {suffix or '(none)'}")

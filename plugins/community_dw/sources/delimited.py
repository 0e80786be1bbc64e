"""Parse a delimited text delivery (CSV) into canonical text columns, detecting its encoding."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from community_dw.sources.delivery import DeliveryError, ParsedDelivery, assemble
from community_dw.sources.mapping import Mapping

DELIMITER = ","
QUOTE = '"'


def read_delimited(path: str | Path, mapping: Mapping, *, delivery: str | None = None) -> ParsedDelivery:
    """Read a comma-separated, `"`-quoted file (CRLF or LF) as text, every field a string.

    Encoding: a UTF-8 BOM means UTF-8 (utf-8-sig); otherwise bytes that are valid UTF-8 are UTF-8;
    otherwise GB18030. GB18030 is a superset of GBK and GB2312, so it decodes files their senders call
    "GBK" too (and a few characters GBK lacks). ASCII-only files are reported as utf-8.

    No type inference: ID numbers keep their leading zeros and X, dates their spelling. An empty
    field becomes NA. A file with a header and no rows is a valid delivery with rows_read 0 (the
    department had nothing to send); a 0-byte file is an error, since not even the header arrived.

    source_row is the physical line number (header = line 1) where the record starts, so a person can
    open the file at that line. The fast path parses with pyarrow (multi-threaded) and derives line
    numbers from the row index plus the newlines inside quoted values; when that does not add up
    (blank lines in the middle) or the file is malformed, the file is parsed again with the csv
    module, which tracks lines exactly and names the row and column of the problem.
    """
    path = Path(path)
    name = delivery or path.name
    data = path.read_bytes()
    if not data:
        raise DeliveryError(name, "empty file (0 bytes)")
    encoding, utf8 = _to_utf8(data, name)
    if not utf8.strip(b" \t\r\n"):
        raise DeliveryError(name, "empty file (no header row)")
    header_end, header_lines = _header_extent(utf8)
    header = next(csv.reader(io.StringIO(utf8[:header_end].decode("utf-8"), newline="")), [])
    match = mapping.match_headers_positional(header, name)

    parsed = _parse_fast(utf8, header_end, header_lines, len(header))
    if parsed is None:
        parsed = _parse_exact(utf8, header_end, header_lines, header, name)
    raw, source_row = parsed
    return assemble(name, mapping, match, raw, source_row, encoding=encoding)


def _to_utf8(data: bytes, name: str) -> tuple[str, bytes]:
    """(detected encoding, the content as UTF-8 bytes without BOM)."""
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8):]
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A BOM is the sender's statement that this is UTF-8: no second guess.
            raise _undecodable(name, data, exc.start + len(codecs.BOM_UTF8), "UTF-8 (the file has a UTF-8 BOM)") from None
        return "utf-8-sig", body
    try:
        data.decode("utf-8")
        return "utf-8", data
    except UnicodeDecodeError:
        pass
    try:
        return "gb18030", data.decode("gb18030").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise _undecodable(name, data, exc.start, "UTF-8 or GB18030") from None


def _undecodable(name: str, data: bytes, offset: int, tried: str) -> DeliveryError:
    line_start = data.rfind(b"\n", 0, offset) + 1
    row = data.count(b"\n", 0, offset) + 1
    header_end = data.find(b"\n")
    header = _decode_lossy(data[: header_end if header_end >= 0 else len(data)])
    prefix = _decode_lossy(data[line_start:offset])
    column = None
    if row > 1:
        fields = next(csv.reader(io.StringIO(prefix, newline="")), [""])
        names = next(csv.reader(io.StringIO(header, newline="")), [])
        index = max(len(fields) - 1, 0)
        column = names[index].strip() if index < len(names) else f"field {index + 1}"
    bad = data[offset:offset + 4].hex(" ")
    return DeliveryError(name, f"cannot be decoded as {tried}: invalid bytes {bad} at byte offset {offset}",
                         row=row, column=column)


def _decode_lossy(chunk: bytes) -> str:
    if chunk.startswith(codecs.BOM_UTF8):
        chunk = chunk[len(codecs.BOM_UTF8):]
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        return chunk.decode("gb18030", errors="replace")


def _header_extent(utf8: bytes) -> tuple[int, int]:
    """Byte offset just past the header record and how many physical lines it spans.

    A header cell may be quoted and (rarely) hold a newline: the header ends at the first newline
    with an even number of quote characters before it, which is exact for well-formed CSV.
    """
    end, lines, quotes = 0, 0, 0
    while True:
        newline = utf8.find(b"\n", end)
        stop = len(utf8) if newline < 0 else newline + 1
        quotes += utf8.count(b'"', end, stop)
        end, lines = stop, lines + 1
        if quotes % 2 == 0 or newline < 0:
            return end, lines


def _content_end(utf8: bytes) -> int:
    """Offset past the last byte that is not a line break: trailing empty lines are not rows."""
    end = len(utf8)
    while end and utf8[end - 1] in b"\r\n":
        end -= 1
    return end


def _parse_fast(utf8: bytes, start: int, header_lines: int, width: int) -> tuple[pd.DataFrame, np.ndarray] | None:
    """Parse with pyarrow; None when the file needs the exact parser (malformed, or blank lines inside)."""
    end = _content_end(utf8)
    if end <= start:
        return pd.DataFrame({i: pd.Series([], dtype="str") for i in range(width)}), np.array([], dtype="int64")
    buffer = pa.py_buffer(utf8).slice(start, end - start)
    names = [str(i) for i in range(width)]
    quotes = utf8.count(b'"', start, end)
    if quotes % 2:
        # An odd number of quote characters: a quoted field that never closes (pyarrow would let it
        # swallow the rest of the file) or a stray quote in an unquoted field; the csv module decides.
        return None
    has_quotes = quotes > 0
    try:
        table = pacsv.read_csv(
            pa.BufferReader(buffer),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=DELIMITER, quote_char=QUOTE, double_quote=True,
                                             # Only a quoted value can hold a newline; without quotes the
                                             # cheaper newline-is-row-end chunking is exact.
                                             newlines_in_values=has_quotes, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except pa.ArrowInvalid:
        return None
    lines = utf8.count(b"\n", start, end) + 1
    extra_lines = np.zeros(table.num_rows, dtype="int64")
    if has_quotes:
        for column in table.columns:
            counts = pc.count_substring(column, "\n").fill_null(0)
            extra_lines += counts.to_numpy(zero_copy_only=False).astype("int64")
    if table.num_rows + int(extra_lines.sum()) != lines:
        return None  # blank lines between rows (or a stray CR): only the exact parser can number them
    first_line = header_lines + 1
    source_row = first_line + np.arange(table.num_rows, dtype="int64")
    if has_quotes:
        source_row += np.concatenate([[0], np.cumsum(extra_lines)[:-1]]) if table.num_rows else 0
    frame = table.to_pandas()
    frame.columns = range(width)
    return frame, source_row


def _parse_exact(utf8: bytes, start: int, header_lines: int, header: list[str],
                 name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse with the csv module, numbering physical lines; raise DeliveryError naming row and column."""
    width = len(header)
    text = utf8[start:].decode("utf-8")
    record_lines: list[str] = []

    def lines():
        for line in io.StringIO(text, newline=""):
            record_lines.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=DELIMITER, quotechar=QUOTE, doublequote=True, strict=True)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    source_row: list[int] = []
    previous_end = 0
    while True:
        record_lines.clear()
        row_number = header_lines + previous_end + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _malformed(name, header, row_number, "".join(record_lines), str(exc)) from None
        previous_end = reader.line_num
        if not fields or (len(fields) != width and all(not field.strip() for field in fields)):
            continue  # a blank line: nothing delivered on it
        if len(fields) != width:
            if len(fields) < width:
                raise DeliveryError(
                    name, f"row has {len(fields)} fields, the header has {width} (truncated row?)",
                    row=row_number, column=header[len(fields)].strip() or f"field {len(fields) + 1}")
            raise DeliveryError(name, f"row has {len(fields)} fields, the header has {width}", row=row_number)
        for index, value in enumerate(fields):
            columns[index].append(value if value != "" else None)
        source_row.append(row_number)
    frame = pd.DataFrame({i: pd.Series(values, dtype="str") for i, values in enumerate(columns)})
    return frame, np.asarray(source_row, dtype="int64")


def _malformed(name: str, header: list[str], row: int, record: str, reason: str) -> DeliveryError:
    """Error for a record the csv module rejects: find the field whose quote never closes."""
    field_index, in_quotes, at_field_start, opened = 0, False, True, None
    i = 0
    while i < len(record):
        char = record[i]
        if in_quotes:
            if char == QUOTE:
                if record[i + 1:i + 2] == QUOTE:
                    i += 1
                else:
                    in_quotes = False
        elif char == QUOTE and at_field_start:
            in_quotes, opened = True, field_index
        elif char == DELIMITER:
            field_index += 1
            at_field_start = True
            i += 1
            continue
        at_field_start = False
        i += 1
    if in_quotes and opened is not None:
        message = "quoted field never closes before the end of the file (truncated file?)"
        index = opened
    else:
        message = f"malformed quoting ({reason})"
        index = field_index
    column = header[index].strip() if index < len(header) else f"field {index + 1}"
    return DeliveryError(name, message, row=row, column=column)

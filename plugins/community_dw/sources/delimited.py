"""Parse a delimited text delivery (CSV) into canonical text columns, detecting its encoding."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
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
# Bytes of the file per chunk handed to COPY: big enough that the per-chunk overhead is nothing, small
# enough that building the next chunk overlaps with the server parsing this one.
COPY_CHUNK_BYTES = 1 << 20
# PostgreSQL's names for the encodings detected here (COPY ... ENCODING).
_PG_ENCODING = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "gb18030": "GB18030"}


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


@dataclass
class DirectCopy:
    """A CSV delivery simple enough to go to COPY as delivered, each line prefixed with its lineage.

    The server transcodes (COPY ... ENCODING 'GB18030'), splits fields and checks the field count and
    the bytes, all in C; Python only splits lines and writes "load_id,source_row," in front of each,
    so the file is never decoded in Python. Produced by plan_direct_copy, which says when it applies.
    """

    delivery: str
    data: bytes
    start: int  # offset of the first line after the header
    end: int  # offset past the last byte that is not a line break
    columns: list[str]  # canonical column of each field, in the file's order
    encoding: str  # detected: utf-8, utf-8-sig or gb18030
    drift: dict
    rows_read: int = 0  # known once chunks() is exhausted
    blank_rows: int = 0
    _blank_row: bytes = field(default=b"", repr=False)

    @property
    def copy_encoding(self) -> str:
        return _PG_ENCODING[self.encoding]

    def chunks(self, load_id: int, chunk_bytes: int = COPY_CHUNK_BYTES) -> Iterator[bytes]:
        """COPY input: every data line as "load_id,line number,<the line's bytes>", LF between lines.

        A line keeps its own CR, so CRLF stays CRLF. source_row is the physical line number (header =
        line 1), as the parser numbers it: blank lines and rows whose every field is empty are skipped
        (counted in blank_rows) but still counted as lines.
        """
        data, end, blank = self.data, self.end, self._blank_row
        prefix = b"%d," % load_id
        self.rows_read = self.blank_rows = 0
        line_number = 2  # the header has no quotes, so it is one line
        position = self.start
        while position < end:
            stop = data.find(b"\n", min(position + chunk_bytes, end), end)
            stop = end if stop < 0 else stop
            lines = data[position:stop].split(b"\n")
            # From the newline before the chunk to the one after it: the searches see each line's LFs.
            if (data.find(b"\n\n", position - 1, stop + 1) < 0 and data.find(b"\n\r\n", position - 1, stop + 1) < 0
                    and data.find(blank, position - 1, stop) < 0):
                # No blank line in the chunk: prefix every line with no Python bytecode per line (map, zip
                # and join run in C; a fifth less CPU than a comprehension, and this runs once per row).
                prefixes = map((b"\n" + prefix + b"%d,").__mod__, range(line_number, line_number + len(lines)))
                out = [b"".join(chain.from_iterable(zip(prefixes, lines, strict=True)))[1:]]
                rows = len(lines)
            else:
                out = []
                for number, line in enumerate(lines, line_number):
                    content = line[:-1] if line.endswith(b"\r") else line
                    if not content or b"\n" + content == blank:
                        self.blank_rows += bool(content)
                        continue
                    out.append(b"%b%d,%b" % (prefix, number, line))
                rows = len(out)
            line_number += len(lines)
            self.rows_read += rows
            position = stop + 1
            if out:
                yield b"\n".join(out) + (b"\n" if position < end else b"")


def plan_direct_copy(path: str | Path, mapping: Mapping, *, delivery: str | None = None) -> DirectCopy | None:
    """A DirectCopy of the file, or None when it needs read_delimited (which also names any problem).

    Direct only when nothing needs a CSV parser on our side: no quote character anywhere (so a line
    is a record and a comma a field boundary), every header known to the mapping (no `extra` JSON to
    build), at least one data line. The encoding is decided as read_delimited decides it, from the
    BOM and the first 64 KiB; bytes that turn out invalid later make COPY fail, and the caller then
    rolls back and parses the file, which reports the row and column. Blank lines, rows of empty
    fields, wrong field counts: as read_delimited (the last two via COPY's error and the parser).
    """
    path = Path(path)
    name = delivery or path.name
    data = path.read_bytes()
    start = 0
    if data.startswith(codecs.BOM_UTF8):
        encoding, start = "utf-8-sig", len(codecs.BOM_UTF8)
    else:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(data[:1 << 16], final=False)
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "gb18030"
    if data.find(b'"', start) >= 0:
        return None
    header_end = data.find(b"\n", start)
    end = _content_end(data)
    if header_end < 0 or end <= header_end + 1:
        return None  # header only (or less): the parser's cheap path says what it is
    try:
        header = data[start:header_end].rstrip(b"\r").decode("gb18030" if encoding == "gb18030" else "utf-8")
    except UnicodeDecodeError:
        return None
    headers = header.split(DELIMITER)
    try:
        match = mapping.match_headers_positional(headers, name)
    except DeliveryError:
        return None
    if match.unknown_positions:
        return None
    return DirectCopy(
        delivery=name, data=data, start=header_end + 1, end=end,
        columns=[match.positions[position] for position in range(len(headers))], encoding=encoding,
        drift={"unknown_columns": [], "missing_optional": list(match.missing_optional)},
        _blank_row=b"\n" + DELIMITER.encode() * (len(headers) - 1),
    )

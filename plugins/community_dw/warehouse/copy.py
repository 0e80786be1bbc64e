"""Bulk loading with PostgreSQL COPY (from pandas frames or byte chunks), inside the caller's transaction."""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import Iterable

import pandas as pd
import psycopg2
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg2 import sql


def _csv_bytes(frame: pd.DataFrame) -> tuple[io.BytesIO, str]:
    """The frame as CSV for COPY, and the NULL marker it uses.

    Arrow's CSV writer is some forty times faster than pandas' to_csv: it writes a null as an empty
    unquoted field (COPY's default NULL in CSV mode) and an empty string as "" (which COPY keeps as
    an empty string). Frames Arrow cannot type (mixed Python objects) fall back to pandas.
    """
    try:
        if any(pd.api.types.is_object_dtype(dtype) for dtype in frame.dtypes):
            # Seen here: Arrow's CSV writer emitted NUL bytes for a frame with Python-object columns.
            raise pa.ArrowTypeError("object columns: written by pandas")
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = frame.to_csv(index=False, header=False, na_rep="\\N", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        return io.BytesIO(text.encode("utf-8")), "\\N"
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    sink.seek(0)
    return sink, ""


def frame_from_csv(buffer: io.BytesIO) -> pd.DataFrame:
    """A CSV with a header (as COPY ... TO STDOUT writes it) as text columns; NULL and '' both NA.

    pyarrow's reader, about ten times faster than pandas' into the same Arrow-backed string columns
    (55 s against 5 s for 3.4 million vaccination records). A quoted value may hold a line break.
    """
    start = buffer.tell()
    header = next(csv.reader([buffer.readline().decode("utf-8")]), [])
    buffer.seek(start)
    table = pa_csv.read_csv(buffer, parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                            convert_options=pa_csv.ConvertOptions(
                                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True,
                                null_values=[""], quoted_strings_can_be_null=True))
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)


def copy_frame(dbapi_conn, table: str, frame: pd.DataFrame, columns: list[str] | None = None) -> int:
    """COPY the frame's columns into `schema.table`; NA becomes NULL. Returns rows copied."""
    columns = columns or list(frame.columns)
    if frame.empty:
        return 0
    buffer, null_marker = _csv_bytes(frame[columns])
    schema, _, name = table.partition(".")
    statement = sql.SQL("copy {}.{} ({}) from stdin with (format csv, null {})").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.Literal(null_marker),
    )
    with dbapi_conn.cursor() as cur:
        cur.copy_expert(statement.as_string(cur), buffer)
        return cur.rowcount


class _ChunkReader:
    """A file-like view of an iterator of byte chunks, filled by a thread so building the next chunk
    overlaps with sending this one (psycopg2 releases the GIL while it sends, and the server parses
    what arrived meanwhile). read() returns whole chunks whatever size is asked: psycopg2 sends what
    it gets.
    """

    def __init__(self, chunks: Iterable[bytes], depth: int = 4):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self.error: BaseException | None = None  # what building the chunks raised, if anything
        self._thread = threading.Thread(target=self._fill, args=(iter(chunks),), name="copy-chunks", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _fill(self, chunks) -> None:
        try:
            for chunk in chunks:
                if not self._put(chunk):
                    return
        except BaseException as error:  # handed to the reading thread, which raises it inside COPY
            self._put(error)
            return
        self._put(b"")

    def read(self, size: int = -1) -> bytes:
        item = self._queue.get()
        if isinstance(item, BaseException):
            self.error = item
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def copy_chunks(dbapi_conn, table: str, columns: list[str], chunks: Iterable[bytes], *,
                encoding: str | None = None) -> int:
    """COPY CSV bytes (no header, empty unquoted field = NULL) from an iterator of chunks; rows copied.

    `encoding` is the bytes' encoding in PostgreSQL's spelling (COPY ... ENCODING), so the server
    transcodes, e.g. 'GB18030'; invalid bytes raise psycopg2.DataError like any bad COPY input.
    """
    schema, _, name = table.partition(".")
    options = [sql.SQL("format csv")]
    if encoding:
        options.append(sql.SQL("encoding {}").format(sql.Literal(encoding)))
    statement = sql.SQL("copy {}.{} ({}) from stdin with ({})").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(options),
    )
    reader = _ChunkReader(chunks)
    try:
        with dbapi_conn.cursor() as cur:
            cur.copy_expert(statement.as_string(cur), reader, size=1 << 20)
            return cur.rowcount
    except psycopg2.Error:
        if reader.error is not None:  # psycopg2 reports it as a cancelled COPY: raise what happened
            raise reader.error from None
        raise
    finally:
        reader.close()

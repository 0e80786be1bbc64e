"""Ingest dropped files (CSV, XLSX, GeoJSON): land, parse, COPY into raw, all or nothing per file."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatch
from pathlib import Path

import psycopg2
from sqlalchemy.engine import Engine

from community_dw.config import landing_dir
from community_dw.sources.attempts import claimed_load, close_abandoned
from community_dw.sources.delimited import plan_direct_copy
from community_dw.sources.delivery import DeliveryError, ParsedDelivery, parse_delivery
from community_dw.sources.delta_gaps import gap_message, missing_days
from community_dw.sources.landing import land_file
from community_dw.sources.mapping import Mapping, load_mapping
from community_dw.warehouse.audit import (
    LoadOutcome,
    fail_load,
    finish_load,
    loaded_before,
    record_skip,
)
from community_dw.warehouse.connection import raw_connection
from community_dw.warehouse.copy import copy_chunks, copy_frame

log = logging.getLogger(__name__)

DATE_IN_NAME = re.compile(r"_(\d{8})\.")


@dataclass(frozen=True)
class FileDeliverySpec:
    """One kind of file a department drops: where it lands, how it is read, which raw table it feeds."""

    source: str
    folder: str
    mapping: str
    raw_table: str


FILE_DELIVERIES: dict[str, FileDeliverySpec] = {
    spec.source: spec
    for spec in (
        FileDeliverySpec("public_security.residents", "public_security", "public_security_residents",
                         "raw.public_security__resident"),
        FileDeliverySpec("grid.grids", "grid", "grid_grids", "raw.grid__grid"),
        FileDeliverySpec("grid.buildings", "grid", "grid_buildings", "raw.grid__building"),
    )
}


class IngestError(RuntimeError):
    """A delivery could not be loaded; the message names the delivery, and row and column where known."""


def delivery_date(path: Path) -> date | None:
    match = DATE_IN_NAME.search(path.name)
    if not match:
        return None
    text = match.group(1)
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _order_key(path: Path) -> tuple:
    # Same day: the full snapshot before the delta, so a delta applies on top of its snapshot.
    return (delivery_date(path) or date.min, 0 if "_full_" in path.name else 1, path.name)


def pending_files(spec: FileDeliverySpec, mapping: Mapping, logical_date: date | None = None,
                  root: Path | None = None) -> list[Path]:
    """Files of this kind in the drop folder, oldest first, none dated after the logical date."""
    folder = (root or landing_dir()) / spec.folder
    if not folder.is_dir():
        return []
    files = [
        path for path in folder.iterdir()
        if path.is_file() and any(fnmatch(path.name, pattern) for pattern in mapping.file_patterns)
    ]
    if logical_date is not None:
        files = [path for path in files if (delivery_date(path) or date.min) <= logical_date]
    return sorted(files, key=_order_key)


def parse_file(path: Path, mapping: Mapping, delivery_name: str | None = None) -> ParsedDelivery:
    """Parse with the reader for the file's kind; name the delivery as it was dropped, not as archived."""
    parsed = parse_delivery(path, mapping)
    if delivery_name:
        parsed.delivery = delivery_name
    return parsed


def _consume(path: Path) -> None:
    """Take a loaded file out of the drop folder; its exact bytes stay in the archive.

    A failed file stays where it is, so its source holds (and says why) until it is replaced.
    """
    path.unlink(missing_ok=True)


def _load_direct(engine: Engine, spec: FileDeliverySpec, path: Path, mapping: Mapping,
                 load_id: int) -> tuple[int, int, dict] | None:
    """COPY a simple CSV as delivered (delimited.plan_direct_copy); (rows read, rows loaded, drift).

    None when the file needs the parser: it is not that simple, or COPY rejected its bytes (a wrong
    field count, bytes invalid in the detected encoding). The rejected COPY is rolled back whole; the
    parser then loads the file or names the delivery, row and column of the problem, as it always has.
    """
    if path.suffix.lower() not in {".csv", ".txt"}:
        return None
    plan = plan_direct_copy(path, mapping)
    if plan is None:
        return None
    drift = plan.drift if any(plan.drift.values()) else None
    try:
        with raw_connection(engine) as conn:
            loaded = copy_chunks(conn, spec.raw_table, ["load_id", "source_row", *plan.columns],
                                 plan.chunks(load_id), encoding=plan.copy_encoding)
            if loaded != plan.rows_read:
                raise RuntimeError(f"{path.name}: COPY loaded {loaded} rows of {plan.rows_read} sent")
            finish_load(conn, load_id, rows_read=plan.rows_read, rows_loaded=loaded, drift=drift)
    except psycopg2.DataError as error:
        log.info("%s: COPY refused the file as delivered (%s); parsing it instead",
                 path.name, str(error).splitlines()[0])
        return None
    return plan.rows_read, loaded, plan.drift


def _undated_message(path: Path) -> str:
    # Files load in the order their names date them, and staging takes the delivery day from the
    # name: an undated file (a "_v2" re-export, say) would load first with no day. Hold the source.
    return (f"{path.name}: the file name carries no delivery date; deliveries are named "
            f"<kind>_YYYYMMDD.<ext> (SOURCES.md), e.g. residents_full_20261101.csv. Rename it "
            f"to the day it is for; it and later deliveries wait until then")


def is_delta(path: Path) -> bool:
    """A daily delta (changes since the previous delivery), as opposed to a snapshot or a register."""
    return "_delta_" in path.name


def _snapshot_follows(day: date, pending: Sequence[Path]) -> bool:
    """A full snapshot dated `day` or later loads in this run: it restates everyone, gap or not."""
    return any("_full_" in path.name and (delivery_date(path) or date.min) >= day for path in pending)


def _gap_message(engine: Engine, spec: FileDeliverySpec, path: Path, pending: Sequence[Path]) -> str | None:
    """Why a delta must wait for a missing earlier day, or None when nothing is missing."""
    day = delivery_date(path)
    if day is None or not is_delta(path) or _snapshot_follows(day, pending):
        return None
    last, missing = missing_days(engine, spec.source, day)
    return gap_message(path.name, spec.source, last, missing) if last and missing else None


def _hold_message(engine: Engine, spec: FileDeliverySpec, path: Path, pending: Sequence[Path]) -> str | None:
    """Why this file must not load now (the source then holds behind it), or None to load it."""
    if delivery_date(path) is None:
        return _undated_message(path)
    return _gap_message(engine, spec, path, pending)


def _load(engine: Engine, spec: FileDeliverySpec, path: Path, mapping: Mapping,
          load_id: int) -> tuple[int, int, dict]:
    """COPY the file into raw and close its attempt as succeeded, or as failed with the error named."""
    rows_read = None
    try:
        # The dropped file, not the archive copy, so errors name the file the department sent.
        if (direct := _load_direct(engine, spec, path, mapping, load_id)) is not None:
            return direct
        parsed = parse_file(path, mapping)
        rows_read, drift = parsed.rows_read, parsed.drift
        frame = parsed.frame.assign(load_id=load_id)
        columns = ["load_id", "source_row", *parsed.columns, "extra"]
        with raw_connection(engine) as conn:
            loaded = copy_frame(conn, spec.raw_table, frame, columns)
            finish_load(conn, load_id, rows_read=rows_read, rows_loaded=loaded,
                        drift=drift if any(drift.values()) else None)
        return rows_read, loaded, drift
    except DeliveryError as error:
        fail_load(engine, load_id, str(error), rows_read)
        raise IngestError(str(error)) from error
    except Exception as error:
        fail_load(engine, load_id, f"{path.name}: {type(error).__name__}: {error}", rows_read)
        raise


def ingest_file(engine: Engine, spec: FileDeliverySpec, path: Path, logical_date: date | None = None,
                mapping: Mapping | None = None, pending: Sequence[Path] = ()) -> LoadOutcome:
    """Land one file and load it into raw in one transaction; a repeated content is skipped.

    `pending` are the files this run loads (for a delta: whether a snapshot follows it). An undated file,
    or a delta whose previous day never arrived, is held: the attempt is recorded as failed with the
    reason, and the file stays in the drop folder.
    """
    mapping = mapping or load_mapping(spec.mapping)
    landed = land_file(engine, spec.source, path)
    if (earlier := loaded_before(engine, spec.source, landed.content_hash)) is not None:
        load_id = record_skip(engine, spec.source, path.name, landed.content_hash, logical_date,
                              f"same content already loaded by load {earlier}")
        log.info("%s: already loaded (load %s), skipped", path.name, earlier)
        _consume(path)
        return LoadOutcome(spec.source, path.name, "skipped_duplicate", load_id)
    # The claim lasts until the attempt is closed, so a later ingest can tell it from one left by a
    # killed process (sources/attempts.py).
    with claimed_load(engine, spec.source, path.name, landed.content_hash, logical_date) as load_id:
        if (hold := _hold_message(engine, spec, path, pending)) is not None:
            fail_load(engine, load_id, hold)
            raise IngestError(hold)
        rows_read, loaded, drift = _load(engine, spec, path, mapping, load_id)
    log.info("%s: %s rows into %s (load %s)", path.name, loaded, spec.raw_table, load_id)
    _consume(path)
    return LoadOutcome(spec.source, path.name, "succeeded", load_id, rows_read, loaded, drift=drift)


def ingest_source_files(engine: Engine, source: str, logical_date: date | None = None,
                        root: Path | None = None) -> list[LoadOutcome]:
    """Every pending file of one delivery kind, in date order; stops at the first bad file.

    Later deliveries wait behind a failed or held one: a delta applied over a missing snapshot, or over
    a missing day, would publish a silently wrong state, so the whole source holds until it is resolved.
    """
    spec = FILE_DELIVERIES[source]
    mapping = load_mapping(spec.mapping)
    close_abandoned(engine, source)  # attempts a killed process left running: closed before loading again
    files = pending_files(spec, mapping, logical_date, root)
    return [ingest_file(engine, spec, path, logical_date, mapping, files) for path in files]

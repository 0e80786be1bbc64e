"""The landing archive: every delivery kept as received, addressed by its SHA-256 content hash."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from community_dw.config import landing_dir

CHUNK = 1 << 20


@dataclass(frozen=True)
class LandedDelivery:
    source: str
    delivery_name: str
    content_hash: str
    archive_path: Path
    size_bytes: int


def archive_root() -> Path:
    return landing_dir() / "_archive"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _archive_path(source: str, content_hash: str, suffix: str) -> Path:
    return archive_root() / source / content_hash[:2] / f"{content_hash}{suffix}"


def _record(engine: Engine, landed: LandedDelivery) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into audit.landing_file (content_hash, source, delivery_name, size_bytes, archive_path) "
                "values (:hash, :source, :name, :size, :path) "
                "on conflict (content_hash) do update set last_received_at = now(), "
                "times_received = audit.landing_file.times_received + 1"
            ),
            {"hash": landed.content_hash, "source": landed.source, "name": landed.delivery_name,
             "size": landed.size_bytes, "path": str(landed.archive_path)},
        )


def land_file(engine: Engine, source: str, path: Path) -> LandedDelivery:
    """Copy a dropped file into the archive (once per content) and record that it was received."""
    content_hash = sha256_file(path)
    target = _archive_path(source, content_hash, "".join(path.suffixes))
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(path, partial)
        partial.replace(target)  # atomic: a crash never leaves a half-copied archive entry
    landed = LandedDelivery(source, path.name, content_hash, target, path.stat().st_size)
    _record(engine, landed)
    return landed


def land_payload(engine: Engine, source: str, delivery_name: str, payload: bytes, suffix: str) -> LandedDelivery:
    """Archive a pulled payload (SQL rows, API pages) the same way as a dropped file."""
    content_hash = hashlib.sha256(payload).hexdigest()
    target = _archive_path(source, content_hash, suffix)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(payload)
        partial.replace(target)
    landed = LandedDelivery(source, delivery_name, content_hash, target, len(payload))
    _record(engine, landed)
    return landed

"""Byte-reproducible XLSX: openpyxl stamps the wall clock into docProps and the zip entries."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

_STAMPS = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)")


def save_workbook(wb, path: Path, stamp: datetime) -> None:
    """Save `wb` to `path` with `stamp` (derived from seed/day, never the clock) as every timestamp."""
    raw = io.BytesIO()
    wb.save(raw)
    raw.seek(0)
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _STAMPS.sub(rb"\g<1>" + iso + rb"\g<2>", data)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, data)
    Path(path).write_bytes(out.getvalue())

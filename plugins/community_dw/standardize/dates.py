"""Parse the date and timestamp spellings departments deliver into typed values with an issue code.

Departments write 19850312, 1985-03-12, 1985/3/12, 1985年3月12日, full-width digits, or an ISO
timestamp; each spelling is recognised by one regex and converted in bulk, so a million rows
cost one pass per pattern rather than one ``dateutil`` guess per row (which is slow and silently
reads 03/04 either way). A timestamp without a zone is Asia/Shanghai local time (SOURCES.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from community_dw.standardize import reasons
from community_dw.standardize._text import WHITESPACE_RE, as_text, extract_groups, frame_on_unique, nfkc

TZ = "Asia/Shanghai"
#: dtype of every ``date`` column: naive midnight, i.e. a calendar date (PostgreSQL ``date``).
DATE_DTYPE = "datetime64[s]"
#: dtype of every ``timestamp`` column: zone-aware, in Shanghai local time (``timestamptz``).
TIMESTAMP_DTYPE = f"datetime64[us, {TZ}]"

# y m d with separators (-, /, ., 年月日) or none at all (exactly 8 digits).
_YMD_RE = (
    r"^(?:(?P<y1>\d{4})(?P<m1>\d{2})(?P<d1>\d{2})"
    r"|(?P<y2>\d{4})\s*[-/.年]\s*(?P<m2>\d{1,2})\s*[-/.月]\s*(?P<d2>\d{1,2})\s*日?)$"
)
# Digits as [0-9] and a single optional space (_clean has collapsed whitespace): pandas then runs these
# on pyarrow's RE2 in bulk; \d and \s send it to Python's re, one row at a time.
_ISO_TS_RE = (
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)? ?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?|UTC|GMT)?)?$"
)
# A zone only ever follows a time: 1985-03-12 ends in "-12", which is a day, not UTC-12.
_HAS_ZONE_RE = r":[0-9]{2}(?:\.[0-9]{1,9})? ?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?|UTC|GMT)$"


def _clean(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text, NFKC (full-width digits), trimmed; and the blank mask."""
    s = nfkc(as_text(raw)).str.strip()
    s = s.str.replace(WHITESPACE_RE, " ", regex=True).str.strip()
    blank = (s.isna() | (s == "")).to_numpy()
    return s, blank


def _ymd(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates from the y/m/d spellings: (dates, matched mask). Impossible dates are NaT but matched."""
    parts = extract_groups(s, _YMD_RE)
    y = parts["y1"].fillna(parts["y2"])
    m = parts["m1"].fillna(parts["m2"])
    d = parts["d1"].fillna(parts["d2"])
    matched = y.notna().to_numpy()
    dates = pd.Series(pd.NaT, index=s.index, dtype=DATE_DTYPE)
    if matched.any():
        comp = pd.DataFrame(
            {
                "year": pd.to_numeric(y[matched]).astype("int64"),
                "month": pd.to_numeric(m[matched]).astype("int64"),
                "day": pd.to_numeric(d[matched]).astype("int64"),
            }
        )
        dates[matched] = pd.to_datetime(comp, errors="coerce").astype(DATE_DTYPE)
    return dates, pd.Series(matched, index=s.index)


def _utc_micros(stamps: pd.Series) -> np.ndarray:
    """Zone-aware timestamps as naive UTC datetime64[us]: numbers, so they can be placed by position
    (assigning zone-aware values into a Series goes through one Timestamp object per row)."""
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def _localize(naive: pd.Series) -> pd.Series:
    # Shanghai kept summer time 1986-1991; an ambiguous or skipped wall time is read as standard
    # time rather than dropped.
    return naive.dt.tz_localize(TZ, ambiguous=np.zeros(len(naive), dtype=bool), nonexistent="shift_forward")


def _shanghai(utc: np.ndarray, index: pd.Index) -> pd.Series:
    """Naive UTC datetime64[us] values as a zone-aware Shanghai Series."""
    return pd.Series(pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(TZ), index=index).astype(TIMESTAMP_DTYPE)


def _timestamps_utc(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """ISO spellings as naive UTC datetime64[us] (NaT where unusable) and the matched mask."""
    utc = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[us]")
    matched = s.str.fullmatch(_ISO_TS_RE).fillna(False).astype(bool).to_numpy()
    if not matched.any():
        return utc, matched
    positions = np.flatnonzero(matched)
    sub = s[matched].str.replace(r" ?(?:UTC|GMT)$", "Z", regex=True).str.replace(" ", "T", n=1)
    zoned = sub.str.contains(_HAS_ZONE_RE).fillna(False).astype(bool).to_numpy()
    if zoned.any():
        utc[positions[zoned]] = _utc_micros(pd.to_datetime(sub[zoned], format="ISO8601", utc=True, errors="coerce"))
    if (~zoned).any():
        naive = pd.to_datetime(sub[~zoned], format="ISO8601", errors="coerce")
        utc[positions[~zoned]] = _utc_micros(_localize(naive))
    return utc, matched


def _timestamps(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Zone-aware Shanghai timestamps from ISO spellings: (timestamps, matched mask)."""
    utc, matched = _timestamps_utc(s)
    return _shanghai(utc, s.index), pd.Series(matched, index=s.index)


def parse_dates(
    raw: pd.Series,
    min_date: str | pd.Timestamp | None = None,
    max_date: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Parse calendar dates; returns DataFrame[date, date_issue] on the input's index.

    ``date`` is ``datetime64[s]`` at midnight (a calendar date, NaT when unusable). A timestamp is
    reduced to its Shanghai calendar date, so ``2024-03-01T23:30:00Z`` is 2024-03-02.
    ``date_issue``: blank, unparseable (no known spelling), bad_date (19850230), out_of_range
    (outside ``min_date``..``max_date`` when given, e.g. a birth date in the future).
    Birth dates repeat (a million people share ~35,000 days), so each spelling is parsed once.
    """
    return frame_on_unique(as_text(raw), lambda u: _parse_dates(u, min_date, max_date))


def _parse_dates(
    raw: pd.Series,
    min_date: str | pd.Timestamp | None = None,
    max_date: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    s, blank = _clean(raw)
    dates, ymd_matched = _ymd(s)
    rest = ~ymd_matched.to_numpy() & ~blank
    ts_matched = np.zeros(len(s), dtype=bool)
    if rest.any():
        ts, tsm = _timestamps(s[rest])
        ts_matched[rest] = tsm.to_numpy()
        local_dates = ts.dt.tz_localize(None).dt.normalize().astype(DATE_DTYPE)
        dates[rest] = local_dates.to_numpy()
    matched = ymd_matched.to_numpy() | ts_matched
    issue = np.full(len(s), None, dtype=object)
    issue[~blank & ~matched] = reasons.UNPARSEABLE
    issue[matched & dates.isna().to_numpy()] = reasons.BAD_DATE
    if min_date is not None or max_date is not None:
        lo = pd.Timestamp(min_date) if min_date is not None else pd.Timestamp.min
        hi = pd.Timestamp(max_date) if max_date is not None else pd.Timestamp.max
        out = (dates.notna() & ((dates < lo) | (dates > hi))).to_numpy()
        issue[out] = reasons.OUT_OF_RANGE
        dates[out] = pd.NaT
    issue[blank] = reasons.BLANK
    return pd.DataFrame({"date": dates, "date_issue": pd.Series(issue, index=s.index, dtype="str")})


def parse_timestamps(raw: pd.Series) -> pd.DataFrame:
    """Parse ISO timestamps; returns DataFrame[timestamp, timestamp_issue] on the input's index.

    ``timestamp`` is zone-aware in Asia/Shanghai; a value without a zone is read as Shanghai local
    time, one with a zone (``Z``, ``+08:00``) is converted. A bare date means its local midnight.
    ``timestamp_issue``: blank, unparseable, bad_date (a matching spelling naming no real instant).
    """
    return frame_on_unique(as_text(raw), _parse_timestamps)


def _parse_timestamps(raw: pd.Series) -> pd.DataFrame:
    s, blank = _clean(raw)
    utc, matched = _timestamps_utc(s)
    # 19850312 / 1985年3月12日 also name an instant: local midnight of that day.
    rest = ~matched & ~blank
    only_ymd = np.zeros(len(s), dtype=bool)
    if rest.any():
        ymd, ymd_matched = _ymd(s[rest])
        hit = ymd_matched.to_numpy()
        only_ymd[np.flatnonzero(rest)[hit]] = True
        if hit.any():
            utc[only_ymd] = _utc_micros(_localize(ymd[hit]))
    ts = _shanghai(utc, s.index)
    any_match = matched | only_ymd
    issue = np.full(len(s), None, dtype=object)
    issue[~blank & ~any_match] = reasons.UNPARSEABLE
    issue[any_match & ts.isna().to_numpy()] = reasons.BAD_DATE
    issue[blank] = reasons.BLANK
    return pd.DataFrame(
        {"timestamp": ts, "timestamp_issue": pd.Series(issue, index=s.index, dtype="str")}
    )

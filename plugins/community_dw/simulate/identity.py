"""Identifiers people carry: GB 11643 ID numbers, residence permits, mobiles and landlines (vectorized)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from community_dw.simulate.reference import LANDLINE_AREA, LANDLINE_PREFIXES, MOBILE_PREFIXES, REGIONS

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = np.array(list("10X98765432"))
_POW10 = 10 ** np.arange(16, -1, -1, dtype=np.int64)


def check_digits(body17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters for 17-digit bodies given as int64 (weights mod 11)."""
    digits = (body17[:, None] // _POW10[None, :]) % 10
    return _CHECK_CHARS[(digits * _WEIGHTS).sum(axis=1) % 11]


def id_numbers(region_codes: np.ndarray, birth: pd.Series, male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """18-digit ID numbers: region, birth date, a sequence whose parity is the sex, check digit.

    Sequence numbers are redrawn until every number is unique, because two people sharing one
    ID number would be a defect the simulator did not mean to plant.
    """
    n = len(region_codes)
    ymd = (birth.dt.year.to_numpy() * 10000 + birth.dt.month.to_numpy() * 100 + birth.dt.day.to_numpy()).astype(np.int64)
    prefix = region_codes.astype(np.int64) * 10**11 + ymd * 1000
    seq = rng.integers(0, 500, n) * 2 + male.astype(np.int64)
    body = prefix + seq
    for _ in range(50):
        dup = pd.Series(body).duplicated().to_numpy()
        if not dup.any():
            break
        seq[dup] = rng.integers(0, 500, int(dup.sum())) * 2 + male[dup].astype(np.int64)
        body = prefix + seq
    text = pd.Series(body).astype(str).str.zfill(17).to_numpy(dtype=object)
    return (text + check_digits(body).astype(object)).astype(object)


def to_legacy15(id18: pd.Series) -> pd.Series:
    """The 15-digit number a person held before 1999: region + YYMMDD + sequence, no century, no check."""
    return id18.str.slice(0, 6) + id18.str.slice(8, 14) + id18.str.slice(14, 17)


@lru_cache(maxsize=1)
def region_validity() -> tuple[np.ndarray, np.ndarray]:
    """First and last birth year each REGIONS code is valid for, as python-stdnum's table says.

    Numbers are drawn from a code valid in the birth year, so validators that check the region
    against the year (stdnum does) accept every number the simulator did not deliberately break.
    """
    starts = np.full(len(REGIONS), 1900)
    ends = np.full(len(REGIONS), 2100)
    try:
        from stdnum import numdb

        db = numdb.get("cn/loc")
    except Exception:  # stdnum missing: every code valid every year
        return starts, ends
    for i, region in enumerate(REGIONS):
        info = {k: v for _, props in db.info(region.code) for k, v in props.items()}
        spans = []
        for county in info.get("county", "").split(","):
            if county.startswith("["):
                start, end = county[1:].split("]")[0].split("-")
                spans.append((int(start) if start else 1900, int(end) if end else 2100))
        if spans:
            starts[i] = min(s for s, _ in spans)
            ends[i] = max(e for _, e in spans)
    return starts, ends


def draw_regions(groups: np.ndarray, birth_years: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A region code per person from their origin group, valid in their birth year."""
    codes = np.array([r.code for r in REGIONS])
    region_groups = np.array([r.group for r in REGIONS])
    weights = np.array([r.weight for r in REGIONS], dtype=float)
    starts, ends = region_validity()
    out = np.empty(len(groups), dtype=object)
    frame = pd.DataFrame({"g": groups, "y": birth_years})
    for (group, year), idx in frame.groupby(["g", "y"], sort=True).indices.items():
        valid = (starts <= year) & (ends >= year)
        w = weights * valid * (region_groups == group)
        if w.sum() == 0:  # no code of that origin existed that year: any valid code
            w = weights * valid
        if w.sum() == 0:
            w = weights.copy()
        out[idx] = rng.choice(codes, size=len(idx), p=w / w.sum())
    return out


def mobiles(n: int, rng: np.random.Generator) -> np.ndarray:
    """11-digit mobile numbers with real carrier prefixes."""
    prefixes = np.array(list(MOBILE_PREFIXES))
    w = np.array(list(MOBILE_PREFIXES.values()))
    head = rng.choice(prefixes, size=n, p=w / w.sum()).astype(object)
    tail = pd.Series(rng.integers(0, 10**8, n)).astype(str).str.zfill(8).to_numpy(dtype=object)
    return head + tail


def landlines(n: int, rng: np.random.Generator) -> np.ndarray:
    """Zhongshan landlines as people write them: 0760-88123456."""
    head = rng.choice(np.array(LANDLINE_PREFIXES, dtype=object), size=n)
    tail = pd.Series(rng.integers(0, 10**6, n)).astype(str).str.zfill(6).to_numpy(dtype=object)
    return (LANDLINE_AREA + "-") + head + tail

"""Health: the immunization replica `vaccination_record`, evolving day by day like a real source.

Every version a record ever has is generated up front with the simulated day on which it becomes
*visible* (committed). The database then replays those versions: `load_health_db(url, dir,
through_day=d)` creates the table and applies days 1..d; `apply_health_day(url, dir, day)` applies
one more day. Tests can pull, advance a day and pull again, exactly as the pipeline will.

What a naive `updated_at > watermark` pull gets wrong, by construction:
- corrections: a later version of a visible record, with a later `updated_at`;
- soft deletes: records entered in error (a second copy of a real dose) revoked with `is_deleted`;
- late commits: rows whose `updated_at` falls on day d but that become visible only on day d+1,
  i.e. older than rows a pull already saw.

The versions live in `<dir>/_source_db/health/vaccination_record_versions.parquet` (simulator
state, not a delivery, not the truth).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from community_dw.simulate.config import SimConfig
from community_dw.simulate.defects import (
    DefectLog,
    gather,
    id_flags,
    name_flags,
    plant_id_numbers,
    plant_names,
    plant_phones,
)
from community_dw.simulate.memory import release_memory
from community_dw.simulate.reference import VACCINE_MANUFACTURERS, VACCINE_NAMES

SOURCE = "health"
TABLE = "vaccination_record"
TZ = "Asia/Shanghai"
COLUMNS = ["record_id", "recipient_name", "id_type", "id_number", "birth_date", "sex", "phone", "vaccine_code",
           "vaccine_name", "dose_number", "vaccinated_at", "site_name", "manufacturer", "batch_no", "updated_at",
           "is_deleted"]
DDL = f"""
create table if not exists {TABLE} (
    record_id bigint not null,
    recipient_name text,
    id_type text,
    id_number text,
    birth_date date,
    sex text,
    phone text,
    vaccine_code text,
    vaccine_name text,
    dose_number integer,
    vaccinated_at timestamp with time zone,
    site_name text,
    manufacturer text,
    batch_no text,
    updated_at timestamp with time zone,
    is_deleted boolean not null default false
)
"""
# the versions file is written a row group at a time, each taken in file order from the unsorted
# versions: a quarter of pyarrow's default row group length keeps that copy ~100 MB
ROW_GROUP_ROWS = 256 * 1024
VERSIONS_PATH = Path("_source_db") / "health" / "vaccination_record_versions.parquet"
FIRST_RECORD_ID = 30_000_001


@dataclass
class Versions:
    """Every version of every record: an Arrow table in generation order and the file order."""

    table: pa.Table     # COLUMNS + version, visible_day; low-cardinality text dictionary-encoded
    order: np.ndarray   # row positions in file order: (visible_day, record_id, version)

    def __len__(self) -> int:
        return len(self.order)

    def slices(self, rows: int) -> Iterator[pa.Table]:
        """The versions in file order, `rows` at a time, as the file's types."""
        for start in range(0, len(self.order), rows):
            yield _decoded(self.table.take(pa.array(self.order[start:start + rows])))


@dataclass
class HealthData:
    versions: Versions       # COLUMNS + version, visible_day
    records: pd.DataFrame    # truth: record_id, person_id, ... flags
    status: pd.DataFrame     # truth: person_id, vaccine_code, doses, complete


def _ts(s: str) -> np.datetime64:
    return np.datetime64(s, "s")


def _doses(persons: pd.DataFrame, cfg: SimConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Genuine doses (person index, vaccine, dose number, vaccinated_at as naive local time)."""
    birth = persons.birth_date.to_numpy().astype("datetime64[s]")
    female = (persons.sex == "女").to_numpy()
    n = len(persons)
    day = np.timedelta64(1, "D")
    parts: list[tuple[np.ndarray, str, int, np.ndarray]] = []

    def add(idx: np.ndarray, code: str, dose: int, when: np.ndarray) -> None:
        parts.append((idx, code, dose, when))

    def follow(idx: np.ndarray, prev: np.ndarray, p: float, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        keep = rng.random(len(idx)) < p
        return idx[keep], prev[keep] + rng.integers(lo, hi + 1, int(keep.sum())) * day

    # HEPB: three doses from birth for everyone born since the registry went digital (2005)
    idx = np.flatnonzero((birth >= _ts("2005-01-01")) & (rng.random(n) < 0.97))
    d1 = birth[idx] + rng.integers(0, 2, len(idx)) * day
    add(idx, "HEPB", 1, d1)
    idx2, d2 = follow(idx, d1, 0.96, 28, 45)
    add(idx2, "HEPB", 2, d2)
    idx3, d3 = follow(idx2, d2, 0.95, 60, 150)
    add(idx3, "HEPB", 3, d3)
    # adult catch-up
    idx = np.flatnonzero((birth < _ts("2005-01-01")) & (rng.random(n) < 0.05))
    d1 = _ts("2012-01-01") + rng.integers(0, 365 * 13, len(idx)) * day
    add(idx, "HEPB", 1, d1)
    idx2, d2 = follow(idx, d1, 0.85, 28, 40)
    add(idx2, "HEPB", 2, d2)
    idx3, d3 = follow(idx2, d2, 0.8, 60, 120)
    add(idx3, "HEPB", 3, d3)

    # MMR: 8 and 18 months
    idx = np.flatnonzero((birth >= _ts("2008-01-01")) & (rng.random(n) < 0.95))
    add(idx, "MMR", 1, birth[idx] + (243 + rng.integers(0, 31, len(idx))) * day)
    idx2 = idx[rng.random(len(idx)) < 0.92]
    add(idx2, "MMR", 2, birth[idx2] + (548 + rng.integers(0, 46, len(idx2))) * day)

    # COVID-INACT: 2021 campaign, age 3+, lower among the oldest; booster six months on
    age21 = (_ts("2021-06-01") - birth) / np.timedelta64(365, "D") / 1.0
    p = np.select([age21 < 3, age21 < 12, age21 < 60, age21 < 80], [0.0, 0.80, 0.88, 0.75], 0.5) * 0.85
    idx = np.flatnonzero(rng.random(n) < p)
    child = age21[idx] < 12
    d1 = np.where(child, _ts("2021-10-25") + rng.integers(0, 90, len(idx)) * day,
                  _ts("2021-03-15") + rng.integers(0, 270, len(idx)) * day)
    add(idx, "COVID-INACT", 1, d1)
    idx2, d2 = follow(idx, d1, 0.95, 21, 56)
    add(idx2, "COVID-INACT", 2, d2)
    keep = rng.random(len(idx2)) < 0.62
    idx3 = idx2[keep]
    d3 = np.maximum(d2[keep] + 183 * day, _ts("2021-11-01")) + rng.integers(0, 240, len(idx3)) * day
    add(idx3, "COVID-INACT", 3, d3)

    # FLU: one dose per season (1 Sep - 31 Aug), priority 60+ and young children; habits persist
    habit = rng.beta(0.6, 0.6, n) * 2
    last_season = cfg.day_date(cfg.days).year if cfg.day_date(cfg.days).month >= 9 else cfg.day_date(cfg.days).year - 1
    for season in range(last_season - 3, last_season + 1):
        start = _ts(f"{season}-09-01")
        age = (start - birth) / np.timedelta64(365, "D") / 1.0
        base = np.select([age < 0.5, age < 6, age < 18, age < 60], [0.0, 0.35, 0.15, 0.07], 0.30)
        idx = np.flatnonzero(rng.random(n) < np.minimum(1, base * habit))
        # most shots in Sep-Dec: a skewed draw over the season
        offset = (rng.beta(1.4, 4.0, len(idx)) * 300).astype(np.int64)
        add(idx, "FLU", 1, start + offset * day)

    # PPSV23: once, from 60
    turns60 = birth + np.timedelta64(int(60 * 365.25), "D")
    idx = np.flatnonzero(rng.random(n) < 0.15)
    first = np.maximum(turns60[idx], _ts("2018-01-01"))
    add(idx, "PPSV23", 1, first + rng.integers(0, 365 * 4, len(idx)) * day)

    # HPV: girls and women 9-45; two doses if started before 15, else three
    start_at = _ts("2018-01-01") + rng.integers(0, 365 * 9, n) * day
    age_start = (start_at - birth) / np.timedelta64(365, "D") / 1.0
    p = np.where((age_start >= 9) & (age_start < 15), 0.30, np.where((age_start >= 15) & (age_start <= 45), 0.22, 0))
    idx = np.flatnonzero(female & (rng.random(n) < p))
    d1 = start_at[idx]
    add(idx, "HPV", 1, d1)
    idx2, d2 = follow(idx, d1, 0.9, 30, 75)
    add(idx2, "HPV", 2, d2)
    three = age_start[idx2] >= 15
    idx3, d3 = follow(idx2[three], d2[three], 0.88, 90, 150)
    add(idx3, "HPV", 3, d3)

    frame = pd.DataFrame({
        "pidx": np.concatenate([p_[0] for p_ in parts]),
        # categorical: 3.4M one-byte codes instead of 3.4M str objects at a million residents
        "vaccine_code": pd.Categorical(np.concatenate([np.full(len(p_[0]), p_[1], dtype=object) for p_ in parts])),
        "dose_number": np.concatenate([np.full(len(p_[0]), p_[2], dtype=np.int64) for p_ in parts]),
        "vdate": np.concatenate([p_[3] for p_ in parts]).astype("datetime64[s]"),
    })
    # the time of day the site recorded: clinics open 08:30-17:30
    frame["vaccinated_at"] = frame.vdate + rng.integers(8 * 3600 + 1800, 17 * 3600 + 1800, len(frame)).astype("timedelta64[s]")
    return frame.drop(columns="vdate")


def build_health(persons: pd.DataFrame, cfg: SimConfig, rng: np.random.Generator, log: DefectLog) -> HealthData:
    """All versions of every record over the simulated days, plus the truth about them."""
    versions, records = _versions_and_records(persons, cfg, rng, log)
    # the per-record working arrays went with the call; the status join does not sit on them
    release_memory()
    status = vaccination_status(persons, records, cfg)
    return HealthData(versions=versions, records=records, status=status)


def _versions_and_records(persons: pd.DataFrame, cfg: SimConfig, rng: np.random.Generator,
                          log: DefectLog) -> tuple[Versions, pd.DataFrame]:
    rates = cfg.defects
    last_end = np.datetime64(pd.Timestamp(cfg.day_date(cfg.days)).to_datetime64(), "s") + np.timedelta64(86399, "s")
    day1 = np.datetime64(pd.Timestamp(cfg.start_date).to_datetime64(), "s")
    doses = _doses(persons, cfg, rng)
    # a dose given before the person arrived is fine (vaccinated elsewhere in the city); after the
    # last simulated day it has not happened yet
    doses = doses[doses.vaccinated_at <= last_end].reset_index(drop=True)
    # births registered on later days are vaccinated at birth: keep them (health knows them first)
    n = len(doses)
    lag = np.where(rng.random(n) < 0.95, rng.integers(60, 7200, n), rng.integers(86400, 5 * 86400, n))
    created = doses.vaccinated_at.to_numpy() + lag.astype("timedelta64[s]")
    in_sim = doses.vaccinated_at.to_numpy() >= day1
    created = np.where(in_sim, np.minimum(created, doses.vaccinated_at.to_numpy() + np.timedelta64(3 * 3600, "s")), created)
    created = np.minimum(created, last_end)
    doses["created"] = created
    doses["entered_in_error"] = False

    # records entered in error: a second copy of a real dose, revoked later (historical or on a sim day)
    k_hist = rng.binomial(n, rates.health_deleted)
    hist = doses.iloc[rng.choice(n, size=k_hist, replace=False)].copy()
    hist["created"] = hist.created + np.timedelta64(600, "s")
    hist["entered_in_error"] = True
    hist["delete_at"] = hist.created + rng.integers(3600, 90 * 86400, k_hist).astype("timedelta64[s]")
    hist["delete_at"] = np.minimum(hist.delete_at.to_numpy(), day1 - np.timedelta64(1, "s"))
    hist = hist[hist.delete_at > hist.created]
    daily = []
    for d in range(2, cfg.days + 1):
        k = rng.binomial(n, rates.health_daily_deletion)
        e = doses.iloc[rng.choice(n, size=k, replace=False)].copy()
        prev = np.datetime64(pd.Timestamp(cfg.day_date(d - 1)).to_datetime64(), "s")
        e["created"] = prev + rng.integers(9 * 3600, 17 * 3600, k).astype("timedelta64[s]")
        e["entered_in_error"] = True
        e["delete_at"] = prev + np.timedelta64(86400, "s") + rng.integers(9 * 3600, 18 * 3600, k).astype("timedelta64[s]")
        daily.append(e)
        del e
    errors = pd.concat([hist, *daily], ignore_index=True)
    recs = pd.concat([doses.assign(delete_at=np.datetime64("NaT", "s")), errors], ignore_index=True)
    recs = recs.sort_values("created", kind="stable").reset_index(drop=True)
    recs["record_id"] = np.arange(FIRST_RECORD_ID, FIRST_RECORD_ID + len(recs), dtype=np.int64)
    m = len(recs)
    del doses, hist, daily, errors, lag, created, in_sim

    def day_of(ts: np.ndarray) -> np.ndarray:
        days = ((ts - day1) // np.timedelta64(86400, "s")).astype(np.int64) + 1
        return np.clip(days, 1, None)

    created_day = day_of(recs.created.to_numpy())
    late = (created_day < cfg.days) & (recs.created.to_numpy() >= day1) & (rng.random(m) < rates.health_late_commit) \
        & ~recs.entered_in_error.to_numpy()
    visible_day = created_day + late

    pidx = recs.pidx.to_numpy()
    birth_days = persons.birth_date.to_numpy().astype("datetime64[D]")
    record_ids = recs.record_id.to_numpy()
    vaccinated = recs.vaccinated_at.to_numpy().astype("datetime64[s]")
    age_at = (vaccinated - birth_days[pidx].astype("datetime64[s]")) / np.timedelta64(365, "D")
    names, ids, phones = _plant_identities(persons, pidx, record_ids, age_at, rates, rng, log)

    # vaccine, its spelling and maker as categoricals (codes into small lists), not str per record
    code = recs.vaccine_code.cat.remove_unused_categories().array
    code_of = code.codes
    code_index = {c: i for i, c in enumerate(code.categories)}
    vname_list = list(dict.fromkeys(v for c in VACCINE_NAMES for v in VACCINE_NAMES[c]))
    maker_list = list(dict.fromkeys(v for c in VACCINE_NAMES for v in VACCINE_MANUFACTURERS[c]))
    vname_idx = np.full(m, -1, dtype=np.int64)
    maker_idx = np.full(m, -1, dtype=np.int64)
    for c, spellings in VACCINE_NAMES.items():
        sel = code_of == code_index.get(c, -2)
        k = int(sel.sum())
        w = np.array([4.0] + [1.0] * (len(spellings) - 1))
        vname_idx[sel] = np.array([vname_list.index(v) for v in spellings])[rng.choice(len(spellings), k, p=w / w.sum())]
        makers = VACCINE_MANUFACTURERS[c]
        maker_idx[sel] = np.array([maker_list.index(v) for v in makers])[rng.integers(0, len(makers), k)]
    vname = pd.Categorical.from_codes(vname_idx, categories=vname_list)
    maker = pd.Categorical.from_codes(maker_idx, categories=maker_list)
    dose_number = recs.dose_number.to_numpy()
    at_birth = (code_of == code_index.get("HEPB", -2)) & (dose_number == 1) & (age_at < 0.01)
    # low-cardinality text as categoricals and the rest as Arrow strings: 3M records stay a few
    # hundred MB instead of gigabytes of Python str objects
    comm_code, comm_names = pd.factorize(persons.community)
    sub_code, sub_names = pd.factorize(persons.subdistrict)
    site_names = np.concatenate([np.asarray(comm_names, dtype=object) + "卫生服务站",
                                 np.asarray(sub_names, dtype=object) + "社区卫生服务中心",
                                 np.array(["中山市博爱医院", "中山市人民医院"], dtype=object)])
    site_idx = np.where(rng.random(m) < 0.8, comm_code[pidx], len(comm_names) + sub_code[pidx])
    site_idx[at_birth] = len(comm_names) + len(sub_names) + (rng.random(int(at_birth.sum())) >= 0.7)
    site = pd.Categorical.from_codes(site_idx, categories=pd.Index(site_names, dtype=object).unique()) \
        if pd.Index(site_names).is_unique else pd.Categorical(site_names[site_idx])
    yyyymm = vaccinated.astype("datetime64[M]")
    ym = (yyyymm.astype(np.int64) // 12 + 1970) * 100 + yyyymm.astype(np.int64) % 12 + 1
    batch = pc.cast(pa.array(ym * 10000 + rng.integers(1000, 9999, m)), pa.string())
    created = recs.created.to_numpy().astype("datetime64[s]")
    # historical corrections: only the corrected version was ever visible
    hist_corr = (created_day == 1) & (created < day1) & (rng.random(m) < rates.health_corrected)
    corr_at = created + rng.integers(3600, 300 * 86400, m).astype("timedelta64[s]")
    hist_corr &= corr_at < day1
    updated = np.where(hist_corr, corr_at, created)
    batch = pc.if_else(pa.array(hist_corr), pc.binary_join_element_wise(batch, "A", ""), batch)
    log.add(SOURCE, TABLE, record_ids[hist_corr], "updated_at", "corrected_before_day1")
    # Every version is an Arrow table (low-cardinality text dictionary-encoded); the versions are
    # put in file order by sorting their keys only, and `write_versions` takes one row group at a
    # time. Concatenating and sorting pandas frames of 3.4M rows held three copies of them at once.
    base = pa.table({
        "record_id": pa.array(record_ids),
        "recipient_name": names,
        "id_type": _dictionary(persons.id_type, pidx),
        "id_number": ids,
        "birth_date": pa.array(birth_days[pidx], type=pa.date32()),
        "sex": _dictionary(persons.sex, pidx),
        "phone": phones,
        "vaccine_code": pa.array(code),
        "vaccine_name": pa.array(vname),
        "dose_number": pa.array(dose_number, type=pa.int64()),
        "vaccinated_at": _instants(vaccinated),
        "site_name": pa.array(site),
        "manufacturer": pa.array(maker),
        "batch_no": batch,
        "updated_at": _instants(updated),
        "is_deleted": pa.array(np.zeros(m, dtype=bool)),
        "version": pa.array(np.zeros(m, dtype=np.int64)),
        "visible_day": pa.array(visible_day.astype(np.int64)),
    })
    # what `base` holds and what the later versions no longer need
    del names, ids, phones, vname, maker, batch, vname_idx, maker_idx, site, site_idx, at_birth, yyyymm, ym, \
        corr_at, age_at, birth_days
    release_memory()

    # later versions, each a copy of base rows with a few columns changed: (base rows, updated_at,
    # is_deleted, version, visible_day, batch_no suffix); base itself is version 0 of every row
    later: list[tuple[np.ndarray, np.ndarray, bool, int, np.ndarray, str]] = []
    # revocations of records entered in error
    err = recs.entered_in_error.to_numpy()
    err_rows = np.flatnonzero(err)
    delete_at = recs.delete_at.to_numpy().astype("datetime64[s]")[err]
    later.append((err_rows, delete_at, True, 1, day_of(delete_at), ""))
    log.add(SOURCE, TABLE, record_ids[err_rows], "is_deleted", "soft_deleted")

    # daily corrections of visible genuine records: the site fixes a batch number
    corrected_daily = np.zeros(m, dtype=bool)
    for d in range(2, cfg.days + 1):
        pool = np.flatnonzero((visible_day < d) & ~err)
        k = rng.binomial(len(pool), rates.health_daily_correction)
        pick = rng.choice(pool, size=k, replace=False)
        date = np.datetime64(pd.Timestamp(cfg.day_date(d)).to_datetime64(), "s")
        when = date + rng.integers(9 * 3600, 18 * 3600, k).astype("timedelta64[s]")
        later.append((pick, when, False, 2 + d, np.full(k, d, dtype=np.int64), "R"))
        corrected_daily[pick] = True
        log.add(SOURCE, TABLE, record_ids[pick], "updated_at", f"corrected_day{d}")
    log.add(SOURCE, TABLE, record_ids[late], "updated_at", "late_commit")
    tables = [base]
    for rows, when, deleted, version, day, suffix in later:
        t = base.take(pa.array(rows))
        t = _set(t, "updated_at", _instants(when))
        t = _set(t, "is_deleted", pa.array(np.full(len(rows), deleted)))
        t = _set(t, "version", pa.array(np.full(len(rows), version, dtype=np.int64)))
        t = _set(t, "visible_day", pa.array(day))
        if suffix:
            t = _set(t, "batch_no", pc.binary_join_element_wise(t.column("batch_no"), suffix, ""))
        tables.append(t)
    # keys of every version, in the order the tables are concatenated
    rows_all = np.concatenate([np.arange(m), *(v[0] for v in later)])  # the base row each version copies
    version_all = np.concatenate([np.zeros(m, dtype=np.int64), *(np.full(len(v[0]), v[3], dtype=np.int64) for v in later)])
    day_all = np.concatenate([visible_day.astype(np.int64), *(v[4] for v in later)])
    # file order: (visible_day, record_id, version); record ids follow base rows
    order = np.lexsort((version_all, rows_all, day_all))
    # the final version of a record: its last in file order
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    by_record = np.lexsort((rank, rows_all))
    last = np.append(rows_all[by_record][1:] != rows_all[by_record][:-1], True)
    final = by_record[last]  # one version per base row, in base row order
    final_deleted = np.concatenate([np.zeros(m, dtype=bool), *(np.full(len(v[0]), v[2]) for v in later)])[final]
    final_updated = np.concatenate([updated, *(v[1] for v in later)])[final]
    versions = Versions(_concat_columns(tables), order)
    del tables, base, later, rank, by_record, last, final
    records = pd.DataFrame({
        "record_id": record_ids,
        "person_id": persons.person_id.to_numpy()[pidx],
        "vaccine_code": code,
        "dose_number": dose_number,
        "vaccinated_at": _aware(vaccinated),
        "first_visible_day": visible_day,
        "entered_in_error": err,
        "late_commit": late,
        "corrected": hist_corr | corrected_daily,
        "is_deleted": final_deleted,
        "updated_at": _aware(final_updated.astype("datetime64[ns]")),  # ns, as it has always been written
    })
    return versions, records


# identity defects are planted this many records at a time: Python str objects exist for one
# chunk only, and each chunk's result is kept as Arrow strings
IDENTITY_CHUNK_ROWS = 500_000


def _plant_identities(persons: pd.DataFrame, pidx: np.ndarray, record_ids: np.ndarray, age_at: np.ndarray,
                      rates, rng: np.random.Generator, log: DefectLog) -> tuple[pa.ChunkedArray, ...]:
    """Name, ID number and phone of each record as the site typed them (NULL where missing)."""
    text = {c: _arrow_strings(persons[c]) for c in ("name", "id_number", "mobile", "landline")}
    nflags = name_flags(persons["name"])
    iflags = id_flags(persons["id_number"])
    birth_years = persons.birth_date.dt.year.to_numpy()
    names, ids, phones = [], [], []
    for start in range(0, len(pidx), IDENTITY_CHUNK_ROWS):
        p = pidx[start:start + IDENTITY_CHUNK_ROWS]
        keys = record_ids[start:start + IDENTITY_CHUNK_ROWS]
        take = pa.array(p)

        def gathered(c: str, take: pa.Array = take) -> np.ndarray:
            return text[c].take(take).to_numpy(zero_copy_only=False)

        true_names = gathered("name")
        out, hits = plant_names(true_names, rates, rng, gather(nflags, p))
        log.add_hits(SOURCE, TABLE, keys, "recipient_name", hits, true_names, out)
        names.append(pa.array(out, type=pa.string(), from_pandas=True))
        del true_names, out
        true_ids = gathered("id_number")
        out, hits = plant_id_numbers(true_ids, birth_years[p], rates, rng, gather(iflags, p))
        log.add_hits(SOURCE, TABLE, keys, "id_number", hits, true_ids, out)
        child_blank = ((age_at[start:start + IDENTITY_CHUNK_ROWS] < 7) & (true_ids != "")
                       & (rng.random(len(p)) < rates.health_child_id_blank))
        log.add(SOURCE, TABLE, keys[child_blank], "id_number", "blank_child", true_ids[child_blank], "")
        # the immunization system stores a missing document number as NULL, not as an empty string
        out[child_blank | (out == "")] = None
        ids.append(pa.array(out, type=pa.string(), from_pandas=True))
        del true_ids, out
        canonical, out, hits = plant_phones(gathered("mobile"), gathered("landline"), rates, rng)
        log.add_hits(SOURCE, TABLE, keys, "phone", hits, canonical, out)
        out[out == ""] = None
        phones.append(pa.array(out, type=pa.string(), from_pandas=True))
        del canonical, out
    return tuple(pa.chunked_array(x, type=pa.string()) for x in (names, ids, phones))


def _arrow_strings(values: pd.Series) -> pa.Array:
    """A text column as Arrow strings (the column's own data when it is Arrow-backed already)."""
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        arr = pa.array(values.array)
    else:
        arr = pa.array(values.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _dictionary(values: pd.Series, index: np.ndarray) -> pa.DictionaryArray:
    """A low-cardinality person column gathered per record, dictionary-encoded (sorted dictionary)."""
    cat = pd.Categorical(values.to_numpy(dtype=object))
    return pa.array(pd.Categorical.from_codes(cat.codes[index], categories=cat.categories))


def _concat_columns(tables: list[pa.Table]) -> pa.Table:
    """The tables one under the other, each column one contiguous array (a `take` from a chunked
    column concatenates it first, which for every row group would copy all versions again).

    Column by column, dropping the source columns as it goes: never two copies of the whole table.
    """
    names = tables[0].column_names
    arrays = []
    for name in names:
        parts = [chunk for t in tables for chunk in t.column(name).chunks]
        arrays.append(pa.concat_arrays(parts) if len(parts) != 1 else parts[0])
        del parts
        tables = [t.drop_columns([name]) for t in tables]
    return pa.Table.from_arrays(arrays, names=names)


def _instants(local: np.ndarray) -> pa.Array:
    """Naive Asia/Shanghai wall times as the instants they are (UTC values typed Asia/Shanghai)."""
    utc = np.asarray(local).astype("datetime64[s]") - np.timedelta64(8, "h")
    return pa.array(utc, type=pa.timestamp("s", tz=TZ))


def _set(table: pa.Table, name: str, values) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _decoded(table: pa.Table) -> pa.Table:
    """Dictionary-encoded text decoded, large strings as strings: the types the file holds."""
    arrays = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_large_string(col.type):
            col = col.cast(pa.string())
        arrays.append(col)
    return pa.Table.from_arrays(arrays, names=table.column_names)


def _arrow_text(values) -> pd.Series:
    """Arrow-backed text (nulls kept) without materialising a pandas object column."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string(), from_pandas=True)
    return pd.Series(pd.arrays.ArrowExtensionArray(arr))


def _aware(local: np.ndarray) -> pd.DatetimeIndex:
    """Naive Asia/Shanghai wall times -> tz-aware (vectorized; Shanghai has had no DST since 1991)."""
    return pd.DatetimeIndex(local).tz_localize(TZ)


DOSES_REQUIRED = {"COVID-INACT": 2, "FLU": 1, "PPSV23": 1, "HEPB": 3, "MMR": 2, "HPV": 3}


def vaccination_status(persons: pd.DataFrame, records: pd.DataFrame, cfg: SimConfig) -> pd.DataFrame:
    """True status per person and vaccine as of the last day: doses and whether the series is complete.

    One row per present person per vaccine they are eligible for (catalogue in SOURCES.md), plus any
    other person-vaccine pair with a dose. FLU counts the current season (1 Sep - 31 Aug) only.

    Pairs are keyed by one integer, person_id * 8 + the vaccine's index in sorted order, so the
    union is an integer set operation and its order is (person_id, vaccine_code): a pandas outer
    merge on the text column cost over a gigabyte at a million residents.
    """
    last = pd.Timestamp(cfg.day_date(cfg.days))
    season_start = pd.Timestamp(year=last.year if last.month >= 9 else last.year - 1, month=9, day=1, tz=TZ)
    codes = sorted(DOSES_REQUIRED)
    code_index = {c: i for i, c in enumerate(codes)}
    real = records[~records.entered_in_error]
    is_flu = real.vaccine_code == "FLU"
    real = real[~is_flu | (real.vaccinated_at >= season_start)]
    agg = real.groupby(["person_id", "vaccine_code"], observed=True).agg(
        doses=("dose_number", "nunique"), last_dose_at=("vaccinated_at", "max")).reset_index()
    agg_keys = agg.person_id.to_numpy() * 8 + agg.vaccine_code.map(code_index).to_numpy(dtype=np.int64)
    agg_order = np.argsort(agg_keys, kind="stable")
    agg_keys = agg_keys[agg_order]

    present = (persons.status == "present").to_numpy()
    person_id = persons.person_id.to_numpy()
    birth = persons.birth_date.to_numpy()
    age = ((last - pd.DatetimeIndex(birth[present])).days / 365.25).to_numpy()
    female = (persons.sex == "女").to_numpy()[present]
    eligible = {
        "COVID-INACT": age >= 3, "FLU": age >= 0.5, "PPSV23": age >= 60, "HEPB": np.ones(len(age), bool),
        "MMR": (age >= 8 / 12) & (age < 18), "HPV": female & (age >= 9) & (age <= 45),
    }
    pids = person_id[present]
    keys = np.union1d(np.concatenate([pids[m] * 8 + code_index[c] for c, m in eligible.items()]), agg_keys)
    pos = np.searchsorted(agg_keys, keys)
    found = pos < len(agg_keys)
    found[found] = agg_keys[pos[found]] == keys[found]
    src = np.where(found, agg_order[np.minimum(pos, len(agg_keys) - 1)], -1)
    doses = np.where(found, agg.doses.to_numpy()[np.maximum(src, 0)], 0).astype(np.int64)
    out_pid = keys // 8
    out_code = np.array(codes, dtype=object)[keys % 8]

    # HPV needs three doses when the series started at 15 or later
    first_hpv = records[(records.vaccine_code == "HPV") & (records.dose_number == 1) & ~records.entered_in_error]
    bd = pd.Series(birth, index=person_id)
    start_age = ((first_hpv.vaccinated_at.dt.tz_localize(None) - bd.reindex(first_hpv.person_id).to_numpy()).dt.days
                 / 365.25)
    hpv_needed = pd.Series(np.where(start_age.to_numpy() < 15, 2, 3), index=first_hpv.person_id.to_numpy())
    needed = np.array([DOSES_REQUIRED[c] for c in codes], dtype=np.int64)[keys % 8]
    is_hpv = out_code == "HPV"
    needed[is_hpv] = hpv_needed.reindex(out_pid[is_hpv]).fillna(3).to_numpy()
    return pd.DataFrame({
        "person_id": out_pid,
        "vaccine_code": pd.Series(out_code, dtype=object),  # object, as the truth file has always had it
        "doses": doses,
        "last_dose_at": agg.last_dose_at.array.take(src, allow_fill=True),
        "doses_required": needed,
        "complete": doses >= needed,
    })


# ---------------------------------------------------------------------------------------------------
# the database


def ensure_database(url: str) -> None:
    """Create the database named in `url` if the server does not have it yet."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.exec_driver_sql("select 1 from pg_database where datname = %s", (target.database,)).first()
            if not exists:
                conn.exec_driver_sql(f'create database "{target.database}"')
    finally:
        admin.dispose()


def _connect(url: str):
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg2.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database)


def arrow_table(frame: pd.DataFrame, columns: list[str] | None = None):
    """The versions frame as an Arrow table of the source's types: dates, tz-aware timestamps."""
    import pyarrow as pa

    cols = columns or list(frame.columns)
    arrays, names = [], []
    for c in cols:
        values = frame[c]
        if c == "birth_date":
            arr = pa.array(values.to_numpy().astype("datetime64[D]"), type=pa.date32())
        elif c in ("vaccinated_at", "updated_at") and values.dt.tz is None:
            # naive local wall time -> the UTC instant, typed as Asia/Shanghai
            utc = values.to_numpy().astype("datetime64[s]") - np.timedelta64(8, "h")
            arr = pa.array(utc, type=pa.timestamp("s", tz=TZ))
        else:
            arr = pa.array(values, from_pandas=True)
            if pa.types.is_dictionary(arr.type):
                arr = arr.dictionary_decode()
            if pa.types.is_large_string(arr.type):
                arr = arr.cast(pa.string())
        arrays.append(arr)
        names.append(c)
    return pa.Table.from_arrays(arrays, names=names)


# COPY streams the versions in slices of this many rows: the loader thread never holds more than a
# slice (plus the parquet row group it comes from), where one COPY of all 3.4M day-1 rows of a
# million-resident city held ~1 GB of CSV and frames while the main thread generated other departments.
BATCH_ROWS = 200_000


def _version_batches(data_dir: Path, versions: pd.DataFrame | None = None) -> Iterator[pa.Table]:
    """COLUMNS + visible_day in file order (visible_day, record_id, version), a slice at a time."""
    cols = [*COLUMNS, "visible_day"]
    if versions is not None:
        for start in range(0, len(versions), BATCH_ROWS):
            yield arrow_table(versions.iloc[start:start + BATCH_ROWS], cols)
        return
    import pyarrow.parquet as pq

    with pq.ParquetFile(Path(data_dir) / VERSIONS_PATH) as pf:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
            yield pa.Table.from_batches([batch])


def _latest_batches(batches: Iterator[pa.Table], day: int, through: bool) -> Iterator[pa.Table]:
    """The last version of each record visible on `day` (`through`: on any day up to it).

    Versions of one record are adjacent in file order, so "last of each run of record_id" is the
    latest; the last row of each slice waits for the next one in case its run continues there.
    """
    carry: pa.Table | None = None
    for t in batches:
        vd = t.column("visible_day")
        if through and pc.min(vd).as_py() > day:
            break  # the file is sorted by visible_day: nothing further qualifies
        t = t.filter(pc.less_equal(vd, day) if through else pc.equal(vd, day))
        if carry is not None:
            t = pa.concat_tables([carry, t])
        if t.num_rows == 0:
            continue
        rid = t.column("record_id").to_numpy()
        carry = t.slice(t.num_rows - 1)
        yield t.slice(0, t.num_rows - 1).filter(pa.array(rid[1:] != rid[:-1]))
    if carry is not None:
        yield carry


class _CsvStream(io.RawIOBase):
    """A file-like COPY source: CSV of each slice, produced only when PostgreSQL asks for more."""

    def __init__(self, tables: Iterator[pa.Table]) -> None:
        self._tables = tables
        self._chunk = memoryview(b"")
        self._pos = 0
        self.rows = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        import pyarrow.csv as pacsv

        while self._pos >= len(self._chunk):
            table = next(self._tables, None)
            if table is None:
                return b""
            self.rows += table.num_rows
            buf = io.BytesIO()
            pacsv.write_csv(_naive_utc(table.select(COLUMNS)), buf,
                            pacsv.WriteOptions(include_header=False, quoting_style="needed"))
            self._chunk, self._pos = buf.getbuffer(), 0
        end = len(self._chunk) if size is None or size < 0 else self._pos + size
        # a memoryview slice: only what is returned gets copied, not the rest of the chunk
        out = bytes(self._chunk[self._pos:end])
        self._pos += len(out)
        return out


def _naive_utc(table: pa.Table) -> pa.Table:
    """Time-zone-aware timestamps as naive UTC: Arrow's CSV writer formats an aware timestamp ~20x
    slower (it was most of the health load's time); `_copy` reads them as UTC."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp(field.type.unit)))
    return table


def _copy(cur, table: str, tables: Iterator[pa.Table]) -> int:
    # the CSV carries timestamps as naive UTC (`_naive_utc`): read them in UTC, for this transaction only
    cur.execute("set local time zone 'UTC'")
    stream = _CsvStream(tables)
    cur.copy_expert(f"copy {table} ({', '.join(COLUMNS)}) from stdin with (format csv)", stream, size=1 << 20)
    return stream.rows


def load_health_db(url: str, data_dir: Path, through_day: int | None = None, versions: pd.DataFrame | None = None) -> int:
    """(Re)create `vaccination_record` in the database at `url` as it stands after `through_day`.

    Day 1 is bulk-loaded with COPY; later days are replayed with `apply_health_day`. Versions are
    read from the parquet file under `data_dir` a slice at a time (or from `versions` if given).
    Returns the number of rows in the table.
    """
    last_day = _last_day(data_dir, versions)
    through_day = last_day if through_day is None else through_day
    ensure_database(url)
    conn = _connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"drop table if exists {TABLE}")
            cur.execute(DDL)
            _copy(cur, TABLE, _latest_batches(_version_batches(data_dir, versions), 1, through=True))
            # keys and the watermark index after the bulk load: faster than maintaining them row by row
            cur.execute(f"alter table {TABLE} add primary key (record_id)")
            cur.execute(f"create index {TABLE}_updated_at_idx on {TABLE} (updated_at)")
        for day in range(2, through_day + 1):
            _apply(conn, data_dir, versions, day)
        with conn.cursor() as cur:
            cur.execute(f"select count(*) from {TABLE}")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def _last_day(data_dir: Path, versions: pd.DataFrame | None) -> int:
    if versions is not None:
        return int(versions.visible_day.max())
    import pyarrow.parquet as pq

    # the file is sorted by visible_day: the last row group's statistics hold the maximum
    with pq.ParquetFile(Path(data_dir) / VERSIONS_PATH) as pf:
        md = pf.metadata
        col = pf.schema_arrow.get_field_index("visible_day")
        return max(int(md.row_group(i).column(col).statistics.max) for i in range(md.num_row_groups))


def apply_health_day(url: str, data_dir: Path, day: int) -> int:
    """Commit day `day`'s versions (new rows, corrections, revocations, late rows); returns rows changed."""
    conn = _connect(url)
    try:
        return _apply(conn, data_dir, None, day)
    finally:
        conn.close()


def _apply(conn, data_dir: Path, versions: pd.DataFrame | None, day: int) -> int:
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "record_id")
    with conn, conn.cursor() as cur:
        cur.execute(f"create temp table _incoming (like {TABLE}) on commit drop")
        rows = _copy(cur, "_incoming", _latest_batches(_version_batches(data_dir, versions), day, through=False))
        if rows:
            cur.execute(f"insert into {TABLE} select * from _incoming on conflict (record_id) do update set {updates}")
    return rows


def write_versions(health: HealthData, data_dir: Path) -> Path:
    path = Path(data_dir) / VERSIONS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    import pyarrow.parquet as pq

    # one row group at a time, taken in file order: no sorted copy of all 3.4M versions at once
    versions = health.versions
    # dictionary pages only for the low-cardinality columns: names, ID numbers, phones and times
    # fall back to plain pages anyway, after first building a dictionary (~30% of the write's time)
    low = [f.name for f in versions.table.schema
           if pa.types.is_dictionary(f.type) or f.name in ("dose_number", "is_deleted", "version", "visible_day")]
    with pq.ParquetWriter(path, _decoded(versions.table.slice(0, 0)).schema, compression="zstd",
                          use_dictionary=low) as writer:
        for table in versions.slices(ROW_GROUP_ROWS):
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            del table
            pa.default_memory_pool().release_unused()
    return path

"""Civil affairs data behind the API: facilities of every category and the service-recipient roster.

Written as JSON under `<dir>/_api/civil_affairs/` for `serve-api`: each file holds every *version*
of every record (`updated_at` ordered); the server shows, for its `as_of` time, the latest version
of each record, so an API started "as of day 2" answers as the department did on day 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from community_dw.simulate.config import SimConfig
from community_dw.simulate.defects import DefectLog, plant_id_numbers, plant_names
from community_dw.simulate.reference import CITY_CODE, FACILITY_CATEGORIES, FACILITY_NAME_SUFFIX

SOURCE = "civil_affairs"
API_DIR = Path("_api") / "civil_affairs"
FACILITIES_FILE = "facilities.json"
RECIPIENTS_FILE = "service_recipients.json"
META_FILE = "meta.json"
CAPACITY_RANGE = {"养老服务": (10, 80), "儿童关爱": (20, 60), "医疗卫生": (5, 30), "文化体育": (50, 300),
                  "党群服务": (50, 200), "便民服务": (0, 0)}


@dataclass
class CivilAffairsData:
    facilities: pd.DataFrame        # all versions, API columns
    recipients: pd.DataFrame        # all versions, API columns
    facility_truth: pd.DataFrame
    recipient_truth: pd.DataFrame


def _iso(ts: pd.Series) -> np.ndarray:
    return (pd.to_datetime(ts).dt.strftime("%Y-%m-%dT%H:%M:%S") + "+08:00").to_numpy(dtype=object)


def _random_times(rng: np.random.Generator, start: str, end: pd.Timestamp, k: int) -> pd.Series:
    lo = pd.Timestamp(start)
    span = int((end - lo).total_seconds())
    return pd.Series(lo + pd.to_timedelta(rng.integers(0, max(span, 1), k), unit="s"))


def build_facilities(buildings: pd.DataFrame, persons: pd.DataFrame, cfg: SimConfig, rng: np.random.Generator,
                     log: DefectLog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Facilities per community: each category at least once, more where more people live."""
    rates = cfg.defects
    day1 = pd.Timestamp(cfg.start_date)
    pop = persons.groupby("community_code").size()
    rows = []
    for comm, group in buildings.groupby("community_code", sort=True):
        count = max(len(FACILITY_CATEGORIES), round(pop.get(comm, 0) / 10000 * cfg.facilities_per_10k))
        cats = FACILITY_CATEGORIES + list(rng.choice(["养老服务", "儿童关爱", "医疗卫生", "文化体育", "便民服务"],
                                                     size=count - len(FACILITY_CATEGORIES),
                                                     p=[0.3, 0.15, 0.15, 0.15, 0.25]))
        at = group.iloc[rng.integers(0, len(group), len(cats))]
        rows.append(pd.DataFrame({
            "category": cats, "community_code": comm, "community": at.community.to_numpy(),
            "subdistrict": at.subdistrict.to_numpy(), "address": at.address.to_numpy(),
            "true_longitude": at.longitude.to_numpy() + rng.normal(0, 0.0002, len(cats)),
            "true_latitude": at.latitude.to_numpy() + rng.normal(0, 0.0002, len(cats)),
        }))
    f = pd.concat(rows, ignore_index=True)
    n = len(f)
    f["facility_id"] = [f"MZ-{CITY_CODE}-{i:06d}" for i in range(1, n + 1)]
    suffix = np.array([rng.choice(FACILITY_NAME_SUFFIX[c]) for c in f.category], dtype=object)
    f["name"] = f.community.to_numpy(dtype=object) + suffix
    lo = np.array([CAPACITY_RANGE[c][0] for c in f.category])
    hi = np.array([CAPACITY_RANGE[c][1] for c in f.category])
    cap = (lo + rng.random(n) * (hi - lo)).round().astype(np.int64).astype(object)
    cap[(hi == 0) | (rng.random(n) < rates.facility_capacity_null)] = None
    f["capacity"] = cap
    f["status"] = rng.choice(["运营", "停业", "筹建"], size=n, p=[0.85, 0.07, 0.08])
    lon = f.true_longitude.round(6).to_numpy()
    lat = f.true_latitude.round(6).to_numpy()
    u = rng.random(n)
    zero = u < rates.facility_coords_zero
    swapped = (u >= rates.facility_coords_zero) & (u < rates.facility_coords_zero + rates.facility_coords_swapped)
    out_lon = np.where(zero, 0.0, np.where(swapped, lat, lon))
    out_lat = np.where(zero, 0.0, np.where(swapped, lon, lat))
    f["longitude"], f["latitude"] = out_lon, out_lat
    f["coordinate_defect"] = np.where(zero, "zero", np.where(swapped, "swapped", ""))
    ids = f.facility_id.to_numpy()
    log.add(SOURCE, "facilities", ids[zero], "longitude,latitude", "coords_zero")
    log.add(SOURCE, "facilities", ids[swapped], "longitude,latitude", "coords_swapped")
    f["updated_at"] = _random_times(rng, "2024-01-01", day1, n).sort_values().to_numpy()
    api_cols = ["facility_id", "name", "category", "address", "longitude", "latitude", "capacity", "status",
                "community", "subdistrict", "updated_at"]
    versions = [f[api_cols]]
    # on each later day a few facilities change status or capacity
    for d in range(2, cfg.days + 1):
        pick = rng.choice(n, size=max(1, rng.binomial(n, 0.03)), replace=False)  # at least one a day
        v = f.iloc[np.sort(pick)][api_cols].copy()
        v["status"] = np.where(v.status == "筹建", "运营", v.status)
        v["updated_at"] = (pd.Timestamp(cfg.day_date(d)) + pd.to_timedelta(rng.integers(9 * 3600, 18 * 3600, len(v)),
                                                                            unit="s")).to_numpy()
        versions.append(v)
    all_v = pd.concat(versions, ignore_index=True).sort_values(["updated_at", "facility_id"], kind="stable")
    final = all_v.drop_duplicates("facility_id", keep="last").set_index("facility_id").reindex(f.facility_id)
    truth = f[["facility_id", "name", "category", "community_code", "community", "subdistrict", "address",
               "true_longitude", "true_latitude", "coordinate_defect"]].assign(
        status=final.status.to_numpy(), capacity=final.capacity.to_numpy())
    return all_v.reset_index(drop=True), truth


def build_recipients(persons: pd.DataFrame, events: pd.DataFrame, cfg: SimConfig, rng: np.random.Generator,
                     log: DefectLog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The roster civil affairs keeps, with validity periods that close when a recipient dies."""
    rates = cfg.defects
    day1 = pd.Timestamp(cfg.start_date)
    initial = persons[persons.present_from_day == 1]
    age = ((day1 - initial.birth_date).dt.days / 365.25).to_numpy()
    local = (initial.population_type == "户籍人口").to_numpy()
    hh_size = initial.groupby("household_no").person_id.transform("size").to_numpy()
    n = len(initial)
    u = rng.random(n)
    picks = {
        "特困人员": local & (age >= 50) & (u < 0.012),
        "残疾人": (u >= 0.02) & (u < 0.02 + np.clip(0.01 + age / 2500, 0, 0.06)) & (age >= 3),
        "高龄独居": (age >= 80) & (hh_size == 1) & (rng.random(n) < 0.9),
        "困境儿童": (age < 18) & (rng.random(n) < 0.002),
    }
    low_hh = initial.household_no[local & (initial.relation_to_head == "户主").to_numpy()]
    low_hh = set(low_hh[rng.random(len(low_hh)) < 0.006])
    picks["低保"] = initial.household_no.isin(low_hh).to_numpy()
    frames = [pd.DataFrame({"pidx": np.flatnonzero(m), "category": c}) for c, m in picks.items()]
    r = pd.concat(frames, ignore_index=True).sort_values(["pidx", "category"]).reset_index(drop=True)
    p = initial.iloc[r.pidx.to_numpy()]
    k = len(r)
    r["person_id"] = p.person_id.to_numpy()
    r["recipient_id"] = [f"MZR{CITY_CODE}{i:07d}" for i in range(1, k + 1)]
    keys = r.recipient_id.to_numpy()
    true_names = p.name.to_numpy(dtype=object)
    names, hits = plant_names(true_names, rates, rng)
    log.add_hits(SOURCE, "service_recipients", keys, "name", hits, true_names, names)
    true_ids = p.id_number.to_numpy(dtype=object)
    ids, hits = plant_id_numbers(true_ids, p.birth_date.dt.year.to_numpy(), rates, rng)
    log.add_hits(SOURCE, "service_recipients", keys, "id_number", hits, true_ids, ids)
    r["name"] = names
    r["id_number"] = np.where(ids == "", None, ids)
    r["community"] = p.community.to_numpy()
    valid_from = _random_times(rng, "2015-01-01", day1 - pd.Timedelta(days=1), k).dt.normalize()
    r["valid_from"] = valid_from.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    ended = rng.random(k) < 0.08
    ended_at = valid_from + pd.to_timedelta(rng.integers(30, 2000, k), unit="D")
    ended &= (ended_at < day1).to_numpy()
    r["valid_to"] = np.where(ended, ended_at.dt.strftime("%Y-%m-%d").to_numpy(dtype=object), None)
    r["updated_at"] = np.maximum(valid_from.to_numpy(), np.where(ended, ended_at.to_numpy(), valid_from.to_numpy())) \
        + pd.to_timedelta(rng.integers(9 * 3600, 18 * 3600, k), unit="s").to_numpy()
    cols = ["recipient_id", "name", "id_number", "category", "community", "valid_from", "valid_to", "updated_at"]
    versions = [r[cols]]
    # deaths close the validity on the day the death is reported
    deaths = events[events.change_type == "死亡"]
    dead = r[r.person_id.isin(deaths.person_id) & r.valid_to.isna()].copy()
    if len(dead):
        ev = deaths.set_index("person_id").reindex(dead.person_id)
        dead["valid_to"] = ev.change_date.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
        report_day = pd.to_datetime([cfg.day_date(int(d)) for d in ev.day.to_numpy()])
        dead["updated_at"] = (report_day + pd.to_timedelta(rng.integers(10 * 3600, 18 * 3600, len(dead)), unit="s")).to_numpy()
        versions.append(dead[cols])
    all_v = pd.concat(versions, ignore_index=True).sort_values(["updated_at", "recipient_id"], kind="stable")
    final = all_v.drop_duplicates("recipient_id", keep="last").set_index("recipient_id").reindex(r.recipient_id)
    truth = pd.DataFrame({"recipient_id": r.recipient_id.to_numpy(), "person_id": r.person_id.to_numpy(),
                          "category": r.category.to_numpy(), "valid_from": r.valid_from.to_numpy(),
                          "valid_to": final.valid_to.to_numpy()})
    return all_v.reset_index(drop=True), truth


def build_civil_affairs(persons: pd.DataFrame, events: pd.DataFrame, buildings: pd.DataFrame, cfg: SimConfig,
                        rng: np.random.Generator, log: DefectLog) -> CivilAffairsData:
    fac, fac_truth = build_facilities(buildings, persons, cfg, rng, log)
    rec, rec_truth = build_recipients(persons, events, cfg, rng, log)
    return CivilAffairsData(fac, rec, fac_truth, rec_truth)


def write_api_data(data: CivilAffairsData, out_dir: Path, cfg: SimConfig) -> Path:
    """JSON files the API server reads: every version of every record, plus the default as-of time."""
    folder = Path(out_dir) / API_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in ((FACILITIES_FILE, data.facilities), (RECIPIENTS_FILE, data.recipients)):
        f = frame.copy()
        f["updated_at"] = _iso(f.updated_at)
        records = f.astype(object).where(f.notna(), None).to_dict(orient="records")
        (folder / name).write_text(json.dumps(records, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    last = pd.Timestamp(cfg.day_date(cfg.days)) + pd.Timedelta(hours=23, minutes=59, seconds=59)
    meta = {"as_of": last.strftime("%Y-%m-%dT%H:%M:%S") + "+08:00", "start_date": cfg.start_date.isoformat(),
            "days": cfg.days, "seed": cfg.seed}
    (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder

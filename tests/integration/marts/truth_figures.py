"""Mart figures recomputed from the simulator's ground truth (`_truth/`), never from the warehouse.

Definitions are SOURCES.md's and core.vaccine_catalogue's, written out again here in pandas so the
SQL is checked against an independent reading of them:

- a resident is a truth person with status `present` on the last simulated day (the as-of date);
- age is whole calendar years (and months) at the as-of date; bands 0-17, 18-59, 60-79, 80+;
- a dose is a health record that is not revoked (`is_deleted`) and visible by the as-of date; two
  records of one person, vaccine and day are one dose; FLU counts doses of the current season
  (1 Sep - 31 Aug) only; HPV is complete at 2 doses when the first was given before 15, else 3;
- eligibility is the catalogue's row: minimum age in months, maximum age in years, sex.

The only bridge to the warehouse is `person_map`: which truth person each warehouse person_key
stands for, read from core.person_link and the truth's record identities (so a test can say where
resolution was wrong instead of hiding it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from community_dw.simulate.truth import read_summary, read_truth

AGE_BANDS = ((0, 17, "0-17"), (18, 59, "18-59"), (60, 79, "60-79"), (80, 200, "80+"))

#: SOURCES.md's vaccine catalogue, read independently of core.vaccine_catalogue: doses for a complete
#: series (HPV: 2 when started before 15), seasonal, minimum age (months), maximum age (years), sex.
#: FLU "all" starts at 6 months (no flu vaccine is licensed younger); MMR "children" ends at 17.
CATALOGUE = pd.DataFrame.from_records([
    ("COVID-INACT", 2, None, False, 36, None, None),
    ("FLU", 1, None, True, 6, None, None),
    ("PPSV23", 1, None, False, 720, None, None),
    ("HEPB", 3, None, False, 0, None, None),
    ("MMR", 2, None, False, 8, 17, None),
    ("HPV", 3, 2, False, 108, 45, "F"),
], columns=["vaccine_code", "doses_for_complete", "doses_for_complete_if_started_before_15", "seasonal",
            "min_age_months", "max_age_years", "sex"])


def age_band(age_years: pd.Series) -> pd.Series:
    bins = [-1, 17, 59, 79, 10_000]
    return pd.cut(age_years, bins=bins, labels=[b[2] for b in AGE_BANDS]).astype(str)


def calendar_age(birth: pd.Series, as_of: date) -> tuple[pd.Series, pd.Series]:
    """Whole years and whole months at `as_of`, the way PostgreSQL's age() counts them."""
    birth = pd.to_datetime(birth)
    months = (as_of.year - birth.dt.year) * 12 + (as_of.month - birth.dt.month) - (as_of.day < birth.dt.day)
    return months // 12, months


@dataclass
class Truth:
    """The truth tables a mart test needs, with the as-of date they describe."""

    city: Path
    as_of: date
    persons: pd.DataFrame
    residents: pd.DataFrame
    health: pd.DataFrame
    recipients: pd.DataFrame
    buildings: pd.DataFrame
    grids: pd.DataFrame
    facilities: pd.DataFrame

    @classmethod
    def load(cls, city: Path) -> Truth:
        summary = read_summary(city)
        config = summary["config"]
        as_of = date.fromisoformat(config["start_date"]) + pd.Timedelta(days=int(config["days"]) - 1)
        persons = read_truth(city, "persons")
        residents = persons[persons.status == "present"].copy()
        residents["age_years"], residents["age_months"] = calendar_age(residents.birth_date, as_of)
        residents["age_band"] = age_band(residents.age_years)
        residents["sex_code"] = residents.sex.map({"男": "M", "女": "F"})
        return cls(city, as_of, persons, residents, read_truth(city, "health_records"),
                   read_truth(city, "civil_affairs_recipients"), read_truth(city, "buildings"),
                   read_truth(city, "grids"), read_truth(city, "facilities"))


# ----------------------------------------------------------------------------------------------
# vaccination


def doses(truth: Truth) -> pd.DataFrame:
    """One row per real dose known at the as-of date: person_id, vaccine_code, vaccinated_date."""
    h = truth.health
    days = (truth.as_of - date.fromisoformat(str(read_summary(truth.city)["config"]["start_date"]))).days + 1
    live = h[~h.is_deleted & (h.first_visible_day <= days)].copy()
    live["vaccinated_date"] = live.vaccinated_at.dt.tz_convert("Asia/Shanghai").dt.date
    live["vaccine_code"] = live.vaccine_code.astype(str)
    return live[["person_id", "vaccine_code", "vaccinated_date"]].drop_duplicates()


def vaccination_status(truth: Truth, catalogue: pd.DataFrame = CATALOGUE) -> pd.DataFrame:
    """One row per resident x eligible vaccine: doses_counted, doses_required, has_any_dose, is_complete."""
    r = truth.residents
    season_start = date(truth.as_of.year - (truth.as_of.month < 9), 9, 1)
    rows = []
    for c in catalogue.itertuples():
        ok = r.age_months >= (0 if pd.isna(c.min_age_months) else c.min_age_months)
        if not pd.isna(c.max_age_years):
            ok &= r.age_years <= c.max_age_years
        if c.sex is not None and not (isinstance(c.sex, float) and math.isnan(c.sex)):
            ok &= r.sex_code == c.sex
        rows.append(r.loc[ok, ["person_id", "birth_date", "community", "subdistrict", "grid_code", "age_band"]]
                    .assign(vaccine_code=c.vaccine_code, doses_for_complete=c.doses_for_complete,
                            before_15=c.doses_for_complete_if_started_before_15, seasonal=c.seasonal))
    eligible = pd.concat(rows, ignore_index=True)
    d = doses(truth)
    d["this_season"] = d.vaccinated_date >= season_start
    per = d.groupby(["person_id", "vaccine_code"]).agg(
        doses=("vaccinated_date", "size"), doses_this_season=("this_season", "sum"),
        first_dose_date=("vaccinated_date", "min")).reset_index()
    out = eligible.merge(per, on=["person_id", "vaccine_code"], how="left")
    out["doses_counted"] = np.where(out.seasonal, out.doses_this_season, out.doses)
    out["doses_counted"] = out.doses_counted.fillna(0).astype(int)
    first = pd.to_datetime(out.first_dose_date)
    birth = pd.to_datetime(out.birth_date)
    months_at_first = ((first.dt.year - birth.dt.year) * 12 + (first.dt.month - birth.dt.month)
                       - (first.dt.day < birth.dt.day))
    started_before_15 = months_at_first.notna() & (months_at_first // 12 < 15)
    out["doses_required"] = np.where(out.before_15.notna() & started_before_15, out.before_15,
                                     out.doses_for_complete).astype(int)
    out["has_any_dose"] = out.doses_counted >= 1
    out["is_complete"] = out.doses_counted >= out.doses_required
    return out


def coverage(status: pd.DataFrame, level: str) -> pd.DataFrame:
    """people / vaccinated_any_dose / vaccinated_complete per vaccine x area x age band."""
    area = {"grid": "grid_code", "community": "community", "subdistrict": "subdistrict"}[level]
    g = status.assign(area_code=status[area].fillna("(unplaced)")).groupby(
        ["vaccine_code", "area_code", "age_band"])
    return g.agg(people=("person_id", "size"), vaccinated_any_dose=("has_any_dose", "sum"),
                 vaccinated_complete=("is_complete", "sum")).reset_index()


# ----------------------------------------------------------------------------------------------
# key populations and workload


def key_population(truth: Truth) -> pd.DataFrame:
    """Per grid: residents, 60+, 80+, 80+ living alone (a household of one), floating, recipients."""
    r = truth.residents.copy()
    members = r.groupby("household_no").person_id.size()
    r["alone"] = r.household_no.map(members).fillna(1) == 1
    rec = truth.recipients
    valid_from = pd.to_datetime(rec.valid_from)
    valid_to = pd.to_datetime(rec.valid_to)
    as_of = pd.Timestamp(truth.as_of)
    current = rec[(valid_from.isna() | (valid_from <= as_of)) & (valid_to.isna() | (valid_to >= as_of))]
    categories = {"特困人员": "extreme_poverty", "低保": "minimum_allowance", "残疾人": "disability",
                  "高龄独居": "aged_80_plus_alone_recipients", "困境儿童": "children_in_difficulty"}
    for category, column in categories.items():
        r[column] = r.person_id.isin(current.person_id[current.category == category])
    r["aged_60_plus"] = r.age_years >= 60
    r["aged_80_plus"] = r.age_years >= 80
    r["aged_80_plus_living_alone"] = r.aged_80_plus & r.alone
    r["floating_population"] = r.population_type == "流动人口"
    columns = ["aged_60_plus", "aged_80_plus", "aged_80_plus_living_alone", "floating_population",
               *categories.values()]
    out = r.groupby("grid_code")[columns].sum()
    out.insert(0, "residents", r.groupby("grid_code").size())
    return out.astype(int).sort_index()


def grid_workload(truth: Truth) -> pd.DataFrame:
    """Per grid (every grid, zero where nobody lives): residents and households."""
    r = truth.residents
    out = pd.DataFrame(index=pd.Index(truth.grids.grid_code, name="grid_code"))
    out["residents"] = r.groupby("grid_code").size()
    out["households"] = r.groupby("grid_code").household_no.nunique()
    return out.fillna(0).astype(int).sort_index()


# ----------------------------------------------------------------------------------------------
# facility access


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


def facility_access(truth: Truth, usable: pd.Series | None = None) -> pd.DataFrame:
    """Per building x category: the nearest open facility (true coordinates) and its distance in metres.

    `usable` (bool per facility row) limits the facilities to those the pipeline can locate.
    """
    f = truth.facilities[truth.facilities.status == "运营"]
    if usable is not None:
        f = f[usable.reindex(f.index).fillna(False).to_numpy()]
    b = truth.buildings
    rows = []
    for category, group in f.groupby("category"):
        dist = haversine_m(b.longitude.to_numpy()[:, None], b.latitude.to_numpy()[:, None],
                           group.true_longitude.to_numpy()[None, :], group.true_latitude.to_numpy()[None, :])
        nearest = dist.argmin(axis=1)
        rows.append(pd.DataFrame({"building_code": b.building_code.to_numpy(), "category": category,
                                  "nearest_facility_id": group.facility_id.to_numpy()[nearest],
                                  "distance_m": dist[np.arange(len(b)), nearest],
                                  "second_m": np.sort(dist, axis=1)[:, 1] if dist.shape[1] > 1 else np.inf}))
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# the bridge: warehouse person_key -> truth person_id


def person_map(engine: sa.Engine, truth: Truth) -> pd.DataFrame:
    """Every linked record with the truth person behind it: source, record_ref, person_key, person_id.

    Public-security records are identified by (delivery file, sheet row = staging source_row), health records by
    record_id, service recipients by recipient_id.
    """
    with engine.connect() as conn:
        links = pd.read_sql(sa.text(
            "select l.source, l.record_ref, l.person_key, r.delivery_name "
            "from core.person_link l left join audit.load_run r "
            "  on l.source = 'public_security.residents' and r.load_id::text = split_part(l.record_ref, ':', 1)"),
            conn)
    ps_truth = read_truth(truth.city, "public_security_records")
    ps_truth = ps_truth.assign(key=ps_truth.file + ":" + ps_truth.sheet_row.astype(str))[["key", "person_id"]]
    is_ps = links.source == "public_security.residents"
    links.loc[is_ps, "key"] = links.delivery_name[is_ps] + ":" + links.record_ref[is_ps].str.split(":").str[1]
    by_key = dict(zip(ps_truth.key, ps_truth.person_id, strict=True))
    health = dict(zip(truth.health.record_id.astype(str), truth.health.person_id, strict=True))
    recipients = dict(zip(truth.recipients.recipient_id, truth.recipients.person_id, strict=True))
    links["person_id"] = np.where(
        is_ps, links.key.map(by_key),
        np.where(links.source == "health.vaccination_record", links.record_ref.map(health),
                 links.record_ref.map(recipients)))
    return links[["source", "record_ref", "person_key", "person_id"]]


def resolution_errors(links: pd.DataFrame) -> tuple[set[int], set[int]]:
    """(person_keys holding more than one truth person, person_ids split over several keys)."""
    keys_per_person = links.groupby("person_id").person_key.nunique()
    persons_per_key = links.groupby("person_key").person_id.nunique()
    return set(persons_per_key[persons_per_key > 1].index), set(keys_per_person[keys_per_person > 1].index)

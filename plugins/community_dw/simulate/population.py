"""The people: households with a head and related members, their identities, and daily life events.

Everything is vectorized over persons; loops run over household positions (≤ 7) or simulated days.
Person attributes here are the *truth*; departments see them only through `defects`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from community_dw.simulate.config import SimConfig
from community_dw.simulate.geography import Geography
from community_dw.simulate.identity import check_digits, draw_regions, id_numbers, landlines, mobiles
from community_dw.simulate.names import foreign_names, given_names, han_names, surnames, uyghur_given
from community_dw.simulate.reference import (
    CITY_NAME,
    ETHNICITIES,
    HK_MACAU_CODES,
    REGIONS,
    ROADS,
    SUBDISTRICTS,
    TIBETAN_GIVEN,
    TRANSLITERATED_FOREIGN,
)

HOUSEHOLD_SIZE_P = np.array([0.18, 0.27, 0.24, 0.17, 0.08, 0.04, 0.02])  # sizes 1..7, mean ≈ 2.9
POP_TYPES = np.array(["户籍人口", "流动人口", "境外人员"], dtype=object)
FOREIGN_ID_TYPES = np.array(["护照", "港澳居民居住证", "外国人永久居留身份证"], dtype=object)
FOREIGN_ID_P = [0.6, 0.3, 0.1]
COUNTRY_CODES = np.array([840, 392, 410, 704, 76, 276, 356, 826], dtype=np.int64)  # ISO 3166 numeric
REGION_NAME = {r.code: r.name for r in REGIONS} | {"810000": "香港特别行政区", "820000": "澳门特别行政区"}
PERSON_COLUMNS = [
    "person_id", "household_no", "relation_to_head", "name", "sex", "birth_date", "ethnicity", "id_type",
    "id_number", "passport_no", "population_type", "residence_permit_no", "mobile", "landline",
    "registered_address", "current_address", "building_code", "grid_code", "community_code", "community",
    "subdistrict", "present_from_day", "left_day", "status",
]


@dataclass
class Population:
    persons: pd.DataFrame   # one row per person ever present, final state (truth)
    events: pd.DataFrame    # one row per life event on days 2..D: day, change_date, person_id, change_type, ...
    n_initial: int          # the first n_initial rows of persons are the day-1 residents

    @property
    def initial(self) -> pd.DataFrame:
        """Persons as they stood on day 1 (the full snapshot's truth), rebuilt on demand.

        Day-1 residents are the first rows of `persons`; since then only their status, left_day
        and (information changes) mobile moved, and the events keep the old mobile. Rebuilding
        beats holding a second copy of a million-row frame through every department.
        """
        first = self.persons.iloc[:self.n_initial]
        ev = self.events
        changed = ev[(ev.change_type == "信息变更") & (ev.changed_column == "phone")]
        # a number changed twice: the first event's old value is the day-1 number
        changed = changed.drop_duplicates("person_id", keep="first")
        at = pd.Index(first.person_id).get_indexer(changed.person_id.to_numpy())
        mobile = first.mobile.to_numpy(dtype=object).copy()
        mobile[at[at >= 0]] = changed.old_value.to_numpy(dtype=object)[at >= 0]
        return first.assign(mobile=mobile, status="present", left_day=np.zeros(len(first), dtype=np.int64))


def household_sizes(n_residents: int, rng: np.random.Generator) -> np.ndarray:
    """Household sizes summing to exactly `n_residents`."""
    draws = rng.choice(np.arange(1, 8), size=int(n_residents / 2.5) + 16, p=HOUSEHOLD_SIZE_P)
    csum = np.cumsum(draws)
    k = int(np.searchsorted(csum, n_residents)) + 1
    sizes = draws[:k].copy()
    sizes[-1] -= int(csum[k - 1] - n_residents)
    return sizes[sizes > 0]


def household_types(n: int, cfg: SimConfig, rng: np.random.Generator) -> np.ndarray:
    foreign = max(0.0, 1 - cfg.registered_share - cfg.floating_share)
    return rng.choice(POP_TYPES, size=n, p=[cfg.registered_share, cfg.floating_share, foreign])


def _household_numbers(first: int, n: int) -> np.ndarray:
    # A multiplicative hash of the running index: unique, stable, and not in building order.
    idx = (np.arange(first, first + n, dtype=np.int64) * 7919 + 1234567) % 10**8
    return ("4420" + pd.Series(idx).astype(str).str.zfill(8)).to_numpy(dtype=object)


def make_households(sizes: np.ndarray, types: np.ndarray, building_idx: np.ndarray, buildings: pd.DataFrame,
                    first_person: int, first_household: int, ref_date: pd.Timestamp, day: int,
                    rng: np.random.Generator) -> pd.DataFrame:
    """Persons of new households (size, population type, building) as of `ref_date`."""
    n_h = len(sizes)
    hh_no = _household_numbers(first_household, n_h)
    hh_of = np.repeat(np.arange(n_h), sizes)
    n = len(hh_of)
    starts = np.cumsum(sizes) - sizes
    pos = np.arange(n) - starts[hh_of]
    ptype = types[hh_of]
    foreign_hh = types == "境外人员"

    # head's age and sex by household type; members relative to the head
    u = rng.random(n_h)
    head_age = np.where(types == "户籍人口",
                        np.where(u < 0.6, rng.normal(45, 12, n_h), rng.normal(66, 10, n_h)),
                        np.where(types == "流动人口", rng.normal(35, 9, n_h), rng.normal(40, 10, n_h)))
    head_age = np.clip(head_age, 20, 96)
    head_male = rng.random(n_h) < 0.62
    role = np.full(n, "户主", dtype=object)
    draw = rng.random(n)
    spouse = (pos == 1) & (draw < 0.85)
    other = (pos >= 1) & (ptype == "流动人口") & (rng.random(n) < 0.10) & ~spouse
    role[spouse] = "配偶"
    role[(pos >= 1) & ~spouse] = "child"
    role[(pos >= 2) & (draw >= 0.70) & (draw < 0.88)] = "parent"
    role[(pos >= 2) & (draw >= 0.88)] = "grandchild"
    role[other] = "其他"
    ha = head_age[hh_of]
    age = ha.copy()
    age[spouse] = ha[spouse] + np.where(head_male[hh_of][spouse], -2, 2) + rng.normal(0, 3, int(spouse.sum()))
    is_child = role == "child"
    age[is_child] = ha[is_child] - rng.uniform(22, 38, int(is_child.sum()))
    is_parent = role == "parent"
    age[is_parent] = ha[is_parent] + rng.uniform(22, 34, int(is_parent.sum()))
    too_old = is_parent & (age > 99)
    role[too_old] = "child"
    age[too_old] = ha[too_old] - rng.uniform(22, 38, int(too_old.sum()))
    is_gc = role == "grandchild"
    age[is_gc] = ha[is_gc] - rng.uniform(44, 60, int(is_gc.sum()))
    young_gc = is_gc & (age < 0)
    role[young_gc] = "child"
    age[young_gc] = ha[young_gc] - rng.uniform(22, 38, int(young_gc.sum()))
    age[role == "其他"] = rng.normal(30, 8, int((role == "其他").sum()))
    # children of a young head are babies rather than unborn
    age = np.where(age < 0, rng.uniform(0, 3, n), age)
    age = np.clip(age, 0, 100)

    male = rng.random(n) < 0.51
    male[pos == 0] = head_male
    male[spouse] = ~head_male[hh_of][spouse]
    sex = np.where(male, "男", "女").astype(object)
    role[role == "child"] = np.where(male[role == "child"], "子", "女")
    role[role == "parent"] = np.where(pos[role == "parent"] % 2 == 0, "父亲", "母亲")
    sex[role == "父亲"], sex[role == "母亲"] = "男", "女"
    male = sex == "男"
    role[role == "grandchild"] = np.where(male[role == "grandchild"], "孙子", "孙女")

    days_old = np.floor(age * 365.25).astype(np.int64) + rng.integers(0, 365, n)
    days_old = np.maximum(days_old, 1)
    birth = pd.Series(ref_date - pd.to_timedelta(days_old, unit="D")).dt.normalize()
    birth_year = birth.dt.year.to_numpy()

    # ethnicity and names
    eth_names = np.array(list(ETHNICITIES), dtype=object)
    eth_p = np.array(list(ETHNICITIES.values()), dtype=float)
    hh_eth = rng.choice(eth_names, size=n_h, p=eth_p / eth_p.sum())
    hh_eth = np.where((types == "户籍人口") & (rng.random(n_h) < 0.8), "汉族", hh_eth)
    ethnicity = hh_eth[hh_of].copy()
    mixed = spouse & (rng.random(n) < 0.1)
    ethnicity[mixed] = "汉族"
    hh_surname = surnames(n_h, rng)
    surname = surnames(n, rng)
    inherit = np.isin(role, ["户主", "子", "女", "父亲", "孙子", "孙女"]) & (rng.random(n) < 0.92)
    surname[inherit] = hh_surname[hh_of][inherit]
    name = surname + given_names(sex, birth_year, rng)
    uy = ethnicity == "维吾尔族"
    if uy.any():
        name[uy] = uyghur_given(int(uy.sum()), rng) + "·" + uyghur_given(int(uy.sum()), rng)
    tb = ethnicity == "藏族"
    if tb.any():
        pool = np.array(TIBETAN_GIVEN, dtype=object)
        name[tb] = pool[rng.integers(0, len(pool), int(tb.sum()))] + pool[rng.integers(0, len(pool), int(tb.sum()))]

    # identity documents
    hh_id_type = np.where(foreign_hh, rng.choice(FOREIGN_ID_TYPES, size=n_h, p=FOREIGN_ID_P), "居民身份证")
    id_type = hh_id_type[hh_of].astype(object)
    group = np.where(ptype == "户籍人口", "local",
                     np.where(rng.random(n_h) < 0.3, "guangdong", "other")[hh_of]).astype(object)
    region = draw_regions(group, birth_year, rng)
    hkm = id_type == "港澳居民居住证"
    region[hkm] = np.array(HK_MACAU_CODES, dtype=object)[(rng.random(int(hkm.sum())) < 0.3).astype(int)]
    id_number = id_numbers(region, birth, male, rng)
    pr = id_type == "外国人永久居留身份证"
    if pr.any():
        ymd = (birth.dt.year * 10000 + birth.dt.month * 100 + birth.dt.day).to_numpy()[pr].astype(np.int64)
        body = (9 * 10**16 + 44 * 10**14 + rng.choice(COUNTRY_CODES, int(pr.sum())) * 10**11 + ymd * 1000
                + rng.integers(0, 500, int(pr.sum())) * 2 + male[pr])
        id_number[pr] = pd.Series(body).astype(str).to_numpy(dtype=object) + check_digits(body).astype(object)
    passport = id_type == "护照"
    id_number[passport] = ""
    passport_no = np.full(n, "", dtype=object)
    passport_no[passport] = ("E" + pd.Series(rng.integers(10**7, 10**8, int(passport.sum()))).astype(str)).to_numpy(dtype=object)
    latin = passport | pr
    name[latin] = foreign_names(sex[latin], rng)
    translit = latin & (rng.random(n) < 0.2)
    name[translit] = np.array(TRANSLITERATED_FOREIGN, dtype=object)[rng.integers(0, len(TRANSLITERATED_FOREIGN), int(translit.sum()))]
    ethnicity[latin] = ""
    ethnicity[hkm] = "汉族"

    permit = np.full(n, "", dtype=object)
    floating = ptype == "流动人口"
    permit_idx = (np.arange(first_person, first_person + n, dtype=np.int64) * 104729 + 7) % 10**10
    permit[floating] = ("442000" + ref_date.strftime("%y") + pd.Series(permit_idx[floating]).astype(str).str.zfill(10)).to_numpy(dtype=object)

    # phones: own mobile from age 14, else (and for some elderly) the head's as the contact number
    mob = mobiles(n, rng)
    own = (age >= 14) & (rng.random(n) < np.where(age >= 75, 0.6, 0.97))
    head_mobile = mob[starts][hh_of]
    mob = np.where(own, mob, np.where(pos == 0, "", head_mobile)).astype(object)
    hh_land = np.where(rng.random(n_h) < np.where(types == "户籍人口", 0.25, 0.03), landlines(n_h, rng), "")
    land = hh_land[hh_of].astype(object)

    # places
    b = buildings.iloc[building_idx]
    floors = b.floors.to_numpy()
    room = (rng.integers(1, 10**6, n_h) % floors + 1) * 100 + rng.integers(1, 9, n_h)
    cur = (b.address.to_numpy(dtype=object) + pd.Series(room).astype(str).to_numpy(dtype=object) + "房")[hh_of]
    reg_addr = np.empty(n, dtype=object)
    local = ptype == "户籍人口"
    same = local & (rng.random(n) < 0.7)
    reg_addr[same] = cur[same]
    elsewhere = local & ~same
    k = int(elsewhere.sum())
    reg_addr[elsewhere] = (f"广东省{CITY_NAME}" + np.array(SUBDISTRICTS[:6], dtype=object)[rng.integers(0, 6, k)]
                           + np.array(ROADS, dtype=object)[rng.integers(0, len(ROADS), k)]
                           + pd.Series(rng.integers(1, 300, k)).astype(str).to_numpy(dtype=object) + "号")
    away = ~local
    k = int(away.sum())
    region_text = pd.Series(region[away]).map(REGION_NAME).fillna("").to_numpy(dtype=object)
    reg_addr[away] = (region_text + np.array(["城关镇", "新华街道", "石门镇", "龙岗村", "和平路"], dtype=object)[rng.integers(0, 5, k)]
                      + pd.Series(rng.integers(1, 200, k)).astype(str).to_numpy(dtype=object) + "号")
    reg_addr[passport] = ""

    return pd.DataFrame({c: _text(v) for c, v in {
        "person_id": np.arange(first_person, first_person + n, dtype=np.int64),
        "household_no": hh_no[hh_of],
        "relation_to_head": role,
        "name": name,
        "sex": sex,
        "birth_date": birth.to_numpy(),
        "ethnicity": ethnicity,
        "id_type": id_type,
        "id_number": id_number,
        "passport_no": passport_no,
        "population_type": ptype,
        "residence_permit_no": permit,
        "mobile": mob,
        "landline": land,
        "registered_address": reg_addr,
        "current_address": cur,
        "building_code": b.building_code.to_numpy(dtype=object)[hh_of],
        "grid_code": b.grid_code.to_numpy(dtype=object)[hh_of],
        "community_code": b.community_code.to_numpy(dtype=object)[hh_of],
        "community": b.community.to_numpy(dtype=object)[hh_of],
        "subdistrict": b.subdistrict.to_numpy(dtype=object)[hh_of],
        "present_from_day": np.full(n, day, dtype=np.int64),
        "left_day": np.full(n, 0, dtype=np.int64),
        "status": np.full(n, "present", dtype=object),
    }.items()})


# pandas' default text dtype (Arrow-backed "str" from pandas 3; object where strings are not inferred)
_TEXT_DTYPE = pd.Series(["x"]).dtype


def _text(values: np.ndarray):
    """An object array of str as pandas' default text column, converted by Arrow in one pass (the
    same column pandas infers, ~5x faster: a million-resident city has 17 such columns)."""
    if values.dtype != object or not isinstance(_TEXT_DTYPE, pd.StringDtype):
        return values
    try:
        return pd.array(pa.array(values, type=pa.large_string(), from_pandas=True), dtype=_TEXT_DTYPE)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all str: let pandas decide
        return values


def initial_population(cfg: SimConfig, sizes: np.ndarray, geo: Geography, rng: np.random.Generator) -> pd.DataFrame:
    """Day-1 residents: households filled into buildings in order (building household counts sum up)."""
    building_idx = np.repeat(np.arange(len(geo.buildings)), geo.buildings.households.to_numpy())
    types = household_types(len(sizes), cfg, rng)
    return make_households(sizes, types, building_idx, geo.buildings, 1, 0, pd.Timestamp(cfg.start_date), 1, rng)


def simulate_days(cfg: SimConfig, persons: pd.DataFrame, geo: Geography,
                  rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Births, deaths, moves and information changes on days 2..D; returns (persons, events)."""
    events: list[pd.DataFrame] = []
    next_household = persons.household_no.nunique()
    for day in range(2, cfg.days + 1):
        date = pd.Timestamp(cfg.day_date(day))
        present = (persons.status == "present").to_numpy()
        n_present = int(present.sum())
        idx_present = np.flatnonzero(present)
        age = ((date - persons.birth_date).dt.days / 365.25).to_numpy()

        # deaths, weighted towards the old (Gompertz-like hazard)
        k = rng.binomial(n_present, cfg.death_rate)
        w = np.exp(age[idx_present] / 9.0)
        dead = rng.choice(idx_present, size=min(k, n_present), replace=False, p=w / w.sum())
        change_date = date - pd.to_timedelta(rng.integers(0, 2, len(dead)), unit="D")
        persons.loc[dead, ["status", "left_day"]] = ["died", day]
        events.append(pd.DataFrame({"day": day, "change_date": change_date, "person_id": persons.person_id.to_numpy()[dead],
                                    "change_type": "死亡"}))

        # whole households move out; floating households three times as likely
        present = (persons.status == "present").to_numpy()
        hh_present = persons.loc[present, ["household_no", "population_type"]].drop_duplicates("household_no")
        k_hh = rng.binomial(len(hh_present), min(1.0, cfg.move_out_rate))
        hw = np.where(hh_present.population_type.to_numpy() == "户籍人口", 1.0, 3.0)
        leaving = rng.choice(hh_present.household_no.to_numpy(), size=min(k_hh, len(hh_present)), replace=False,
                             p=hw / hw.sum())
        out = np.flatnonzero(present & persons.household_no.isin(leaving).to_numpy())
        persons.loc[out, ["status", "left_day"]] = ["moved_out", day]
        events.append(pd.DataFrame({"day": day, "change_date": date, "person_id": persons.person_id.to_numpy()[out],
                                    "change_type": "迁出"}))

        # births to women 20-42 of present households
        present = (persons.status == "present").to_numpy()
        mothers = np.flatnonzero(present & (persons.sex == "女").to_numpy() & (age >= 20) & (age <= 42)
                                 & (persons.population_type != "境外人员").to_numpy())
        k = min(rng.binomial(n_present, cfg.birth_rate), len(mothers))
        if k:
            mom = persons.iloc[rng.choice(mothers, size=k, replace=False)]
            newborn = _newborns(mom, persons, date, day, int(persons.person_id.max()) + 1, rng)
            persons = pd.concat([persons, newborn], ignore_index=True)
            events.append(pd.DataFrame({"day": day, "change_date": newborn.birth_date.to_numpy(),
                                        "person_id": newborn.person_id.to_numpy(), "change_type": "新增"}))

        # new households move in, mostly floating
        k = rng.binomial(n_present, cfg.move_in_rate)
        if k:
            sizes = household_sizes(k, rng)
            sizes = np.minimum(sizes, 3)
            types = rng.choice(POP_TYPES, size=len(sizes), p=[0.15, 0.82, 0.03])
            bidx = rng.integers(0, len(geo.buildings), len(sizes))
            movers = make_households(sizes, types, bidx, geo.buildings, int(persons.person_id.max()) + 1,
                                     next_household, date, day, rng)
            next_household += len(sizes)
            persons = pd.concat([persons, movers], ignore_index=True)
            events.append(pd.DataFrame({"day": day, "change_date": date, "person_id": movers.person_id.to_numpy(),
                                        "change_type": "迁入"}))

        # information changes: a new mobile number
        present = (persons.status == "present").to_numpy() & (persons.present_from_day < day).to_numpy()
        adults = np.flatnonzero(present & (persons.mobile != "").to_numpy()
                                & (((date - persons.birth_date).dt.days / 365.25).to_numpy() >= 16))
        k = min(rng.binomial(n_present, cfg.info_change_rate), len(adults))
        changed = rng.choice(adults, size=k, replace=False)
        old = persons.mobile.to_numpy()[changed]
        new = mobiles(k, rng)
        persons.loc[changed, "mobile"] = new
        events.append(pd.DataFrame({"day": day, "change_date": date, "person_id": persons.person_id.to_numpy()[changed],
                                    "change_type": "信息变更", "changed_column": "phone", "old_value": old,
                                    "new_value": new}))
    if not events:
        return persons, pd.DataFrame(columns=["day", "change_date", "person_id", "change_type", "changed_column",
                                              "old_value", "new_value"])
    ev = pd.concat(events, ignore_index=True)
    for c in ("changed_column", "old_value", "new_value"):
        if c not in ev:
            ev[c] = None
    ev["change_date"] = pd.to_datetime(ev.change_date).dt.normalize()
    return persons, ev


def _newborns(mothers: pd.DataFrame, persons: pd.DataFrame, date: pd.Timestamp, day: int, first_id: int,
              rng: np.random.Generator) -> pd.DataFrame:
    """Babies registered today, born in the last three weeks into their mother's household."""
    k = len(mothers)
    male = rng.random(k) < 0.51
    sex = np.where(male, "男", "女").astype(object)
    birth = pd.Series(date - pd.to_timedelta(rng.integers(0, 21, k), unit="D"))
    heads = persons[persons.relation_to_head == "户主"].drop_duplicates("household_no").set_index("household_no")
    head = heads.reindex(mothers.household_no.to_numpy())
    head_name = head.name.fillna(mothers.name.to_numpy()[0] if k else "").to_numpy(dtype=object)
    latin_or_dot = pd.Series(head_name).str.contains(r"[A-Za-z·]", regex=True).to_numpy()
    surname = np.where(latin_or_dot, surnames(k, rng), pd.Series(head_name).str.slice(0, 1).to_numpy(dtype=object))
    name = surname.astype(object) + given_names(sex, np.full(k, date.year), rng)
    mother_role = mothers.relation_to_head.to_numpy()
    grandchild = ~np.isin(mother_role, ["户主", "配偶"])
    role = np.where(grandchild, np.where(male, "孙子", "孙女"), np.where(male, "子", "女")).astype(object)
    region = np.where(mothers.population_type.to_numpy() == "户籍人口", "442000",
                      mothers.id_number.str.slice(0, 6).to_numpy(dtype=object))
    region = np.where(pd.Series(region).str.fullmatch(r"\d{6}").to_numpy(), region, "442000")
    ids = id_numbers(region.astype(object), birth, male, rng)
    head_mobile = head.mobile.fillna("").to_numpy(dtype=object)
    out = mothers.copy()
    out["person_id"] = np.arange(first_id, first_id + k, dtype=np.int64)
    out["relation_to_head"] = role
    out["name"] = name
    out["sex"] = sex
    out["birth_date"] = birth.dt.normalize().to_numpy()
    out["id_type"] = "居民身份证"
    out["id_number"] = ids
    out["passport_no"] = ""
    out["residence_permit_no"] = ""
    out["mobile"] = np.where(head_mobile != "", head_mobile, mothers.mobile.to_numpy(dtype=object))
    out["present_from_day"] = day
    out["left_day"] = 0
    out["status"] = "present"
    return out.reset_index(drop=True)[PERSON_COLUMNS]


def build_population(cfg: SimConfig, sizes: np.ndarray, geo: Geography, rng: np.random.Generator) -> Population:
    """Day-1 residents, then `cfg.days - 1` days of life events."""
    initial = initial_population(cfg, sizes, geo, rng)
    n_initial = len(initial)
    persons, events = simulate_days(cfg, initial, geo, rng)
    return Population(persons=persons, events=events, n_initial=n_initial)


__all__ = ["Population", "build_population", "household_sizes", "han_names"]

"""Each mart's figures against the same figures recomputed in pandas from the simulator's truth.

Exact equality, cell by cell. The one thing the pipeline cannot know is who is who where person
resolution went wrong (a record linked to a new person instead of its owner, or two people merged):
such a person is listed as `affected`, and a differing cell must be explained by affected people in
it (the difference no larger than their number). Every other cell must match exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.integration.marts import truth_figures as tf
from tests.integration.marts.city import BuiltCity

KEY_COLUMNS = ["residents", "aged_60_plus", "aged_80_plus", "aged_80_plus_living_alone", "floating_population",
               "extreme_poverty", "minimum_allowance", "disability", "aged_80_plus_alone_recipients",
               "children_in_difficulty"]


def _read(engine: sa.Engine, query: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn)


@pytest.fixture(scope="module")
def affected(city: BuiltCity, truth: tf.Truth) -> set[int]:
    """Truth persons whose records the resolver split over several keys or merged with someone else's."""
    links = tf.person_map(city.engine, truth)
    assert links.person_id.notna().all(), "every linked record has a truth person behind it"
    merged_keys, split_persons = tf.resolution_errors(links)
    merged_persons = set(links.person_id[links.person_key.isin(merged_keys)])
    found = {int(p) for p in split_persons | merged_persons}
    print(f"\nresolution: {len(split_persons)} persons split, {len(merged_keys)} keys merging persons")
    return found


def _explained(diff: pd.DataFrame, counts: pd.Series, what: str) -> None:
    """Every non-zero difference is at most the number of affected people in its cell."""
    bad = []
    for cell, row in diff.iterrows():
        worst = int(np.abs(row.to_numpy()).max())
        if worst and worst > int(counts.get(cell, 0)):
            bad.append((cell, row[row != 0].to_dict(), int(counts.get(cell, 0))))
    assert not bad, f"{what}: differences not explained by resolution errors (cell, diff, affected): {bad[:10]}"


def test_resolution_errors_are_rare(truth: tf.Truth, affected: set[int]) -> None:
    assert len(affected) <= 0.005 * len(truth.residents), sorted(affected)[:20]


def test_residents_are_the_present_persons(city: BuiltCity, truth: tf.Truth, affected: set[int]) -> None:
    links = tf.person_map(city.engine, truth)
    people = _read(city.engine, "select person_key, residency_status from core.person")
    owner = links.drop_duplicates("person_key").set_index("person_key").person_id
    residents = set(owner.reindex(people.person_key[people.residency_status == "resident"]).dropna().astype(int))
    present = set(truth.residents.person_id)
    assert (residents ^ present) <= affected, sorted(residents ^ present)[:20]


@pytest.mark.parametrize("level", ["grid", "community", "subdistrict"])
def test_vaccination_coverage(city: BuiltCity, truth: tf.Truth, affected: set[int], level: str) -> None:
    status = tf.vaccination_status(truth)
    expected = tf.coverage(status, level).set_index(["vaccine_code", "area_code", "age_band"])
    got = _read(city.engine, "select vaccine_code, area_code, age_band, people, vaccinated_any_dose, "
                             f"vaccinated_complete from mart.vaccination_coverage where area_level = '{level}'")
    # MMR is for children (SOURCES.md); the adult bands are test_mmr_is_for_children's business.
    got = got[~((got.vaccine_code == "MMR") & (got.age_band != "0-17"))]
    got = got.set_index(["vaccine_code", "area_code", "age_band"])
    columns = ["people", "vaccinated_any_dose", "vaccinated_complete"]
    both = got[columns].join(expected[columns], how="outer", lsuffix="_mart", rsuffix="_truth").fillna(0)
    diff = pd.DataFrame({c: both[f"{c}_mart"] - both[f"{c}_truth"] for c in columns})
    area = {"grid": "grid_code", "community": "community", "subdistrict": "subdistrict"}[level]
    hit = status[status.person_id.isin(affected)].assign(area_code=lambda s: s[area].fillna("(unplaced)"))
    counts = hit.groupby(["vaccine_code", "area_code", "age_band"]).size()
    _explained(diff, counts, f"vaccination_coverage ({level})")
    exact = int((diff.abs().sum(axis=1) == 0).sum())
    print(f"\nvaccination_coverage {level}: {exact}/{len(diff)} cells exact, rest explained by resolution")
    # rates are the counts' quotients
    rates = _read(city.engine, "select people, vaccinated_any_dose, vaccinated_complete, any_dose_rate, complete_rate "
                               "from mart.vaccination_coverage")
    # (rounded half away from zero in SQL: compare with the exact quotient, not numpy's half-even round)
    assert (rates.any_dose_rate - rates.vaccinated_any_dose / rates.people).abs().max() <= 0.00005 + 1e-12
    assert (rates.complete_rate - rates.vaccinated_complete / rates.people).abs().max() <= 0.00005 + 1e-12


def test_mmr_is_for_children(city: BuiltCity) -> None:
    adults = _read(city.engine, "select count(*) as n from mart.vaccination_coverage "
                                "where vaccine_code = 'MMR' and age_band <> '0-17'").n.iloc[0]
    assert adults == 0


def test_key_population(city: BuiltCity, truth: tf.Truth, affected: set[int]) -> None:
    expected = tf.key_population(truth)
    got = _read(city.engine, "select * from mart.key_population").set_index("grid_code")
    assert "(unplaced)" not in got.index, "every resident is placed in a grid"
    both = got[KEY_COLUMNS].join(expected[KEY_COLUMNS], how="outer", lsuffix="_mart", rsuffix="_truth").fillna(0)
    diff = pd.DataFrame({c: both[f"{c}_mart"] - both[f"{c}_truth"] for c in KEY_COLUMNS})
    counts = truth.residents[truth.residents.person_id.isin(affected)].groupby("grid_code").size()
    _explained(diff, counts, "key_population")


def test_grid_workload(city: BuiltCity, truth: tf.Truth, affected: set[int]) -> None:
    expected = tf.grid_workload(truth)
    got = _read(city.engine, "select grid_code, residents, households, over_target from mart.grid_workload")
    got = got.set_index("grid_code").sort_index()
    assert list(got.index) == list(expected.index), "one row per grid of the register"
    diff = got[["residents", "households"]] - expected[["residents", "households"]]
    counts = truth.residents[truth.residents.person_id.isin(affected)].groupby("grid_code").size()
    _explained(diff, counts, "grid_workload")
    assert (got.over_target == (got.residents > 1000)).all()


@pytest.fixture(scope="module")
def access(city: BuiltCity, truth: tf.Truth) -> pd.DataFrame:
    """Pipeline distances beside haversine distances over the true coordinates of locatable facilities."""
    facilities = truth.facilities
    # A facility delivered at (0, 0) cannot be located by anyone; swapped coordinates are repairable.
    usable = facilities.coordinate_defect.fillna("").isin(["", "swapped"])
    expected = tf.facility_access(truth, usable)
    got = _read(city.engine, "select building_code, category, nearest_facility_id, distance_m::float as distance_m, "
                             "within_1km from mart.facility_access")
    merged = expected.merge(got, on=["building_code", "category"], how="outer", suffixes=("_truth", "_mart"),
                            indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"].head()
    return merged


def test_facility_access_distances(access: pd.DataFrame) -> None:
    tolerance = 0.005 * access.distance_m_truth + 2.0  # equirectangular vs haversine, and rounding
    off = access[(access.distance_m_mart - access.distance_m_truth).abs() > tolerance]
    assert off.empty, off.head(10).to_string()
    # the nearest facility is the true nearest unless the runner-up is as close within the tolerance
    other = access[access.nearest_facility_id_mart != access.nearest_facility_id_truth]
    assert (other.second_m - other.distance_m_truth <= 0.005 * other.distance_m_truth + 2.0).all()


def test_facility_access_by_grid(city: BuiltCity, truth: tf.Truth, access: pd.DataFrame, affected: set[int]) -> None:
    within = access.assign(within=access.distance_m_truth <= 1000).pivot(
        index="building_code", columns="category", values="within")
    residents = truth.residents.assign(
        elderly=truth.residents.building_code.map(within.get("养老服务", pd.Series(dtype=bool))).fillna(False),
        health=truth.residents.building_code.map(within.get("医疗卫生", pd.Series(dtype=bool))).fillna(False))
    grouped = residents.groupby("grid_code")
    expected = pd.DataFrame({"residents": grouped.size(),
                             "elderly": grouped.elderly.sum(), "health": grouped.health.sum()})
    got = _read(city.engine, "select * from mart.facility_access_by_grid").set_index("grid_code")
    counts = truth.residents[truth.residents.person_id.isin(affected)].groupby("grid_code").size()
    near_1km = set(access.building_code[(access.distance_m_truth - 1000).abs() < 10])
    for grid, row in expected.iterrows():
        if grid in counts.index or truth.residents.building_code[truth.residents.grid_code == grid].isin(near_1km).any():
            tol = 0.01  # a resolution error or a building within 10 m of the 1 km line
        else:
            tol = 1e-9
        assert got.loc[grid, "residents"] == row.residents or grid in counts.index
        assert abs(got.loc[grid, "elderly_care_within_1km_rate"] - round(row.elderly / row.residents, 4)) <= tol
        assert abs(got.loc[grid, "health_within_1km_rate"] - round(row.health / row.residents, 4)) <= tol

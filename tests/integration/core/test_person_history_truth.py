"""core.person_history on a simulated city: the current version agrees with core.resident and with the
truth's status; every phone change the truth recorded is a version, and no other phone change is."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from tests.integration.marts import truth_figures as tf
from tests.integration.marts.city import BuiltCity


def _read(engine: sa.Engine, query: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn)


def test_versions_are_contiguous_with_one_current(city: BuiltCity) -> None:
    h = _read(city.engine, "select * from core.person_history order by person_key, version_no")
    assert (h.groupby("person_key").is_current.sum() == 1).all()
    following = h.groupby("person_key").valid_from.shift(-1)
    assert (h.valid_to.dropna() == following.dropna()).all()
    assert (h.valid_to.isna() == h.is_current).all()


def test_current_version_is_core_resident(city: BuiltCity) -> None:
    mismatch = _read(city.engine, """
        select h.person_key from core.person_history h
        join core.resident r using (person_key)
        where h.is_current and (h.residency_status, h.household_no, h.building_code, h.community)
              is distinct from (r.residency_status, r.household_no, r.building_code, r.community)""")
    assert mismatch.empty, mismatch.person_key.tolist()[:10]


def test_statuses_and_phone_changes_match_truth(city: BuiltCity, truth: tf.Truth) -> None:
    links = tf.person_map(city.engine, truth)
    merged, split = tf.resolution_errors(links)
    owner = (links[~links.person_key.isin(merged)].drop_duplicates("person_key")
             .set_index("person_key").person_id.astype(int))
    h = _read(city.engine, "select * from core.person_history")
    h = h[h.person_key.isin(owner.index)].assign(person_id=lambda f: f.person_key.map(owner))
    h = h[~h.person_id.isin(split)]
    current = h[h.is_current].set_index("person_id").residency_status
    expected = truth.persons.set_index("person_id").status.map(
        {"present": "resident", "died": "deceased", "moved_out": "moved_out"})
    assert (current == expected.reindex(current.index)).all()
    changes = h[h.changed_columns.map(lambda c: "phone_mobile" in c)]
    events = pd.read_parquet(truth.city / "_truth" / "events.parquet")
    phone_events = events[(events.changed_column == "phone") & events.person_id.isin(h.person_id)]
    assert set(changes.person_id) == set(phone_events.person_id)
    got = changes.set_index("person_id").phone_mobile
    assert (got == phone_events.set_index("person_id").new_value.reindex(got.index)).all()

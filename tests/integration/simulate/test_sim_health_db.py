"""The health replica in a real PostgreSQL: contract columns, COPY load, and day-by-day evolution."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from community_dw.simulate.city import generate_city
from community_dw.simulate.config import SimConfig
from community_dw.simulate.health import COLUMNS, apply_health_day
from community_dw.simulate.truth import read_truth


@pytest.fixture(scope="module")
def health_city(tmp_path_factory, pg_server_url):
    from tests.conftest import create_database, drop_database

    url = create_database(pg_server_url, "cdw_sim_health")
    cfg = SimConfig(residents=3000, seed=9, days=3)
    cfg.defects = cfg.defects.override(health_late_commit=0.4, health_daily_correction=0.01,
                                       health_daily_deletion=0.003)
    city = generate_city(tmp_path_factory.mktemp("health_city"), cfg, health_db_url=url, through_day=1)
    yield city, url
    drop_database(pg_server_url, url)


def test_table_has_the_contract_columns(health_city) -> None:
    city, url = health_city
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        cols = conn.exec_driver_sql(
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'vaccination_record' order by ordinal_position").all()
    engine.dispose()
    assert [c for c, _ in cols] == COLUMNS
    types = dict(cols)
    assert types["record_id"] == "bigint" and types["updated_at"] == "timestamp with time zone"
    assert types["birth_date"] == "date" and types["is_deleted"] == "boolean"


def test_days_evolve_with_corrections_deletes_and_late_commits(health_city) -> None:
    city, url = health_city
    engine = sa.create_engine(url)
    records = read_truth(city.out_dir, "health_records")
    with engine.connect() as conn:
        day1 = conn.exec_driver_sql("select count(*), max(updated_at) from vaccination_record").one()
        assert day1[0] == (records.first_visible_day == 1).sum()
        watermark = day1[1]
    assert apply_health_day(url, city.out_dir, 2) > 0
    with engine.connect() as conn:
        late = conn.exec_driver_sql(
            "select count(*) from vaccination_record where updated_at <= %s and record_id in "
            "(select record_id from vaccination_record) and record_id = any(%s)",
            (watermark, [int(r) for r in records.record_id[records.late_commit & (records.first_visible_day == 2)]]),
        ).scalar()
        # rows that became visible on day 2 with an updated_at a naive watermark pull has already passed
        assert late > 0
        deleted = conn.exec_driver_sql("select count(*) from vaccination_record where is_deleted").scalar()
        assert deleted > 0
    apply_health_day(url, city.out_dir, 3)
    with engine.connect() as conn:
        final = dict(conn.exec_driver_sql("select record_id, is_deleted from vaccination_record").all())
        stamps = pd.DataFrame(conn.exec_driver_sql(
            "select record_id, vaccinated_at, updated_at from vaccination_record").all(),
            columns=["record_id", "vaccinated_at", "updated_at"]).set_index("record_id")
    engine.dispose()
    assert len(final) == len(records)
    truth = dict(zip(records.record_id, records.is_deleted, strict=True))
    assert final == truth
    # the same instants as the truth (the load writes them as UTC text, whatever the server's zone)
    by_id = records.set_index("record_id").reindex(stamps.index)
    for column in ("vaccinated_at", "updated_at"):
        assert (pd.to_datetime(stamps[column], utc=True) == by_id[column].dt.tz_convert("UTC")).all()
    assert records[records.entered_in_error].is_deleted.all()


def test_blank_ids_for_children_and_passport_holders(health_city) -> None:
    city, url = health_city
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "select id_type, birth_date, vaccinated_at from vaccination_record where id_number is null").all()
    engine.dispose()
    assert rows
    assert any(t == "护照" for t, _, _ in rows) or any(
        (v.date() - b).days < 7 * 366 for t, b, v in rows if t == "居民身份证")


def test_uptake_is_believable_by_age_and_vaccine(health_city) -> None:
    city, _ = health_city
    status = read_truth(city.out_dir, "vaccination_status")
    persons = read_truth(city.out_dir, "persons").set_index("person_id")
    share = status.groupby("vaccine_code").complete.mean()
    assert share["HEPB"] > 0.1 and share["COVID-INACT"] > 0.5 and share["PPSV23"] < 0.4
    flu = status[status.vaccine_code == "FLU"].copy()
    age = (2026 - persons.loc[flu.person_id, "birth_date"].dt.year).to_numpy()
    assert flu.doses[age >= 60].mean() > flu.doses[(age >= 18) & (age < 60)].mean()

"""core.person_history (SCD type 2) on hand-written deliveries: each rule of sql/core/person_history.sql."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

BUILDINGS = """
create table if not exists core.building (building_code text primary key, address_key text);
delete from core.building;
insert into core.building values ('B1', '悦来路1号1栋'), ('B2', '悦来路2号1栋'), ('B3', '悦来路3号1栋');
"""
#: (load_id, kind, delivery date) of each delivery
LOADS = {1: ("full", date(2026, 11, 1)), 2: ("delta", date(2026, 11, 3)), 3: ("delta", date(2026, 11, 5)),
         4: ("full", date(2026, 12, 1))}


def _row(person: int, load: int, row: int, *, building: str | None = "B1", address: str = "悦来路1号1栋101房",
         phone: str | None = "13800000001", phone_type: str | None = "mobile", household: str = "H1",
         relation: str = "户主", change: str | None = None, change_date: date | None = None) -> dict:
    kind, delivered = LOADS[load]
    return dict(load_id=load, source_row=row, delivery_kind=kind, delivery_date=delivered, name=f"人{person}",
                id_valid=True, phone_primary=phone, phone_primary_type=phone_type, household_no=household,
                relation_to_head=relation, current_address=f"中山市石岐街道{address}", address_key=address,
                building_code=building, population_type="户籍人口", subdistrict="石岐街道", community="悦来社区",
                change_type=change, change_date=change_date, person=person)


ROWS = [
    # 1: phone change, then a move out
    _row(1, 1, 2),
    _row(1, 2, 2, phone="13900000009", change="信息变更", change_date=date(2026, 11, 2)),
    _row(1, 3, 2, phone="13900000009", change="迁出", change_date=date(2026, 11, 4)),
    # 2: delivery noise only: a blank code (placed by address), a blank phone, a landline-only phone
    _row(2, 1, 3, building=None, address="悦来路2号1栋202房", phone="13800000002", household="H2"),
    _row(2, 2, 3, building=None, address="悦来路2号1栋202房", phone=None, phone_type=None, household="H2",
         change="信息变更", change_date=date(2026, 11, 3)),
    _row(2, 3, 3, building="B2", address="悦来路2号1栋202房", phone="0760-88123456", phone_type="landline",
         household="H2", change="信息变更", change_date=date(2026, 11, 5)),
    _row(2, 4, 3, building="B2", address="悦来路2号1栋202房", phone="13800000002", household="H2"),
    # 3: in the first snapshot, missing from the next one
    _row(3, 1, 4, household="H3"),
    # 4: listed twice in one snapshot (re-registration), then in the next snapshot unchanged
    _row(4, 1, 5, household="H4"), _row(4, 1, 6, household="H4"), _row(4, 4, 2, household="H4"),
    # 5: moves to another building and household; the delta arrives with a change date before
    #    the person's previous change (clamped: versions never run backwards)
    _row(5, 1, 7, household="H5"),
    _row(5, 2, 4, household="H5", phone="13800000055", change="信息变更", change_date=date(2026, 11, 3)),
    _row(5, 3, 4, building="B3", address="悦来路3号1栋303房", household="H6", relation="子", change="迁入",
         change_date=date(2026, 11, 2), phone="13800000055"),
    _row(5, 4, 4, building="B3", address="悦来路3号1栋303房", household="H6", relation="子", phone="13800000055"),
    # 6: a death reported on the day of the snapshot
    _row(6, 1, 8, household="H7"),
    _row(6, 2, 5, household="H7", change="死亡", change_date=date(2026, 11, 1)),
]
COLUMNS = [c for c in ROWS[0] if c != "person"]


@pytest.fixture
def history(fresh_warehouse: sa.Engine) -> sa.Engine:
    from community_dw.warehouse.sql_runner import run_sql

    with fresh_warehouse.begin() as conn:
        conn.exec_driver_sql(BUILDINGS)
        conn.execute(sa.text(f"insert into staging.stg_public_security__resident ({', '.join(COLUMNS)}) "
                             f"values ({', '.join(':' + c for c in COLUMNS)})"), [{c: r[c] for c in COLUMNS} for r in ROWS])
        conn.execute(sa.text("insert into core.person_link (source, record_ref, person_key, method, rule_version) "
                             "values ('public_security.residents', :ref, :person, 'id_number', 'test')"),
                     [{"ref": f"{r['load_id']}:{r['source_row']}", "person": r["person"]} for r in ROWS])
        run_sql(conn, "core/person_history")
    return fresh_warehouse


def _versions(engine: sa.Engine, person: int) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "select * from core.person_history where person_key = :p order by version_no"), {"p": person}).mappings()]


def test_a_phone_change_and_a_move_out_are_versions(history: sa.Engine) -> None:
    v = _versions(history, 1)
    assert [(x["valid_from"], x["valid_to"], x["is_current"]) for x in v] == [
        (date(2026, 11, 1), date(2026, 11, 2), False), (date(2026, 11, 2), date(2026, 11, 4), False),
        (date(2026, 11, 4), None, True)]
    assert [x["changed_columns"] for x in v] == [[], ["phone_mobile"], ["residency_status"]]
    assert [x["change_type"] for x in v] == ["快照", "信息变更", "迁出"]
    assert [x["residency_status"] for x in v] == ["resident", "resident", "moved_out"]
    assert v[1]["phone_mobile"] == "13900000009" and v[1]["recorded_date"] == date(2026, 11, 3)


def test_delivery_noise_opens_no_version(history: sa.Engine) -> None:
    v = _versions(history, 2)
    assert len(v) == 1, v
    assert v[0]["building_code"] == "B2" and v[0]["phone_mobile"] == "13800000002"
    assert v[0]["records"] == 4 and v[0]["last_seen_date"] == date(2026, 12, 1)


def test_missing_from_a_later_snapshot_ends_residency(history: sa.Engine) -> None:
    v = _versions(history, 3)
    assert [(x["residency_status"], x["valid_from"], x["change_type"]) for x in v] == [
        ("resident", date(2026, 11, 1), "快照"), ("not_in_register", date(2026, 12, 1), "不在快照")]
    assert v[1]["opened_by_record_ref"] is None and v[1]["is_current"]
    # listed twice, then again: one version, three records, no absence
    v4 = _versions(history, 4)
    assert len(v4) == 1 and v4[0]["records"] == 3 and v4[0]["last_seen_date"] == date(2026, 12, 1)


def test_a_move_changes_building_household_and_address(history: sa.Engine) -> None:
    v = _versions(history, 5)
    assert len(v) == 3
    assert set(v[2]["changed_columns"]) == {"building_code", "current_address", "household_no", "relation_to_head"}
    assert v[2]["building_code"] == "B3"
    # the move's change date (2 Nov) is before the phone change's (3 Nov): clamped, never backwards
    assert v[2]["valid_from"] == v[1]["valid_from"] == date(2026, 11, 3)
    assert all(x["valid_to"] is None or x["valid_to"] >= x["valid_from"] for x in v)


def test_a_death_on_the_snapshot_day(history: sa.Engine) -> None:
    v = _versions(history, 6)
    assert [(x["residency_status"], x["valid_from"], x["valid_to"]) for x in v] == [
        ("resident", date(2026, 11, 1), date(2026, 11, 1)), ("deceased", date(2026, 11, 1), None)]


def test_rebuilding_gives_the_same_table(history: sa.Engine) -> None:
    from community_dw.warehouse.sql_runner import run_sql

    query = "select md5(string_agg(h::text, '|' order by person_key, version_no)) from core.person_history h"
    with history.begin() as conn:
        before = conn.exec_driver_sql(query).scalar()
        run_sql(conn, "core/person_history")
        assert conn.exec_driver_sql(query).scalar() == before
        assert conn.exec_driver_sql("select count(*) from core.person_history where is_current").scalar() == 6

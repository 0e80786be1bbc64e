"""The two-community warehouse the access tests run on, built through the real core and mart SQL."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from psycopg2.extensions import connection as PgConnection

COMMUNITY_A = "悦来社区"
COMMUNITY_B = "东区社区"
GRID_A = "G-A-01"
GRID_A2 = "G-A-02"
GRID_B = "G-B-01"
AS_OF = date(2026, 11, 2)


def id_number(base17: str) -> str:
    """A valid GB 11643 number: the check digit computed, so the data states its intent.

    python-stdnum's calc_check_digit wants the number with a (placeholder) check digit on the end.
    """
    from stdnum.cn import ric

    return base17 + ric.calc_check_digit(base17 + "0")


#: (name, id base 17, sex, phone, household, building, community, subdistrict)
RESIDENTS = [
    ("陈大文", "44200019850312003", "M", "13812345678", "H-A-1", "B-A-1", COMMUNITY_A, "石岐街道"),
    ("李小红", "11010519491231002", "F", "0760-88123456", "H-A-1", "B-A-1", COMMUNITY_A, "石岐街道"),
    ("赵六", "44020020100101001", "F", None, "H-A-2", "B-A-2", COMMUNITY_A, "石岐街道"),
    ("王芳", "44200019500505002", "F", "13900001111", "H-B-1", "B-B-1", COMMUNITY_B, "东区街道"),
    ("刘强", "44200019900707001", "M", "13711112222", "H-B-1", "B-B-1", COMMUNITY_B, "东区街道"),
]

GRIDS = [  # (grid, community, subdistrict, west longitude)
    (GRID_A, COMMUNITY_A, "石岐街道", 113.38),
    (GRID_A2, COMMUNITY_A, "石岐街道", 113.39),
    (GRID_B, COMMUNITY_B, "东区街道", 113.40),
]
BUILDINGS = [("B-A-1", GRID_A, 113.385), ("B-A-2", GRID_A2, 113.395), ("B-B-1", GRID_B, 113.405)]


def seed_staging(conn: sa.Connection) -> None:
    """Staging rows as the standardization step would leave them (what the core reads)."""
    for source_row, (grid, community, subdistrict, west) in enumerate(GRIDS, start=1):
        east = west + 0.01
        wkt = f"POLYGON(({west} 22.52, {east} 22.52, {east} 22.53, {west} 22.53, {west} 22.52))"
        conn.execute(sa.text(
            "insert into staging.stg_grid__grid (grid_code, load_id, source_row, grid_name, community, subdistrict, "
            "grid_worker_name, grid_worker_phone, geometry_wkt) values (:g, 1, :r, :g, :c, :s, '网格员', '13600000000', :w)"),
            {"g": grid, "r": source_row, "c": community, "s": subdistrict, "w": wkt})
    for source_row, (building, grid, lon) in enumerate(BUILDINGS, start=1):
        conn.execute(sa.text(
            "insert into staging.stg_grid__building (building_code, load_id, source_row, address, longitude, latitude, "
            "registered_grid_code, household_count) values (:b, 2, :r, :b, :lon, 22.525, :g, 1)"),
            {"b": building, "r": source_row, "lon": lon, "g": grid})
    for source_row, (name, base, sex, phone, household, building, community, subdistrict) in enumerate(RESIDENTS, 1):
        number = id_number(base)
        conn.execute(sa.text(
            "insert into staging.stg_public_security__resident (load_id, source_row, delivery_kind, delivery_date, "
            "name, id_type, id_number, id_valid, birth_date, sex, phone_primary, household_no, relation_to_head, "
            "current_address, building_code, population_type, subdistrict, community) values "
            "(3, :r, 'full', :d, :name, '居民身份证', :id, true, to_date(substr(:id, 7, 8), 'YYYYMMDD'), :sex, :phone, "
            ":household, '户主', :building || '号', :building, '户籍人口', :subdistrict, :community)"),
            {"r": source_row, "d": date(2026, 11, 1), "name": name, "id": number, "sex": sex, "phone": phone,
             "household": household, "building": building, "subdistrict": subdistrict, "community": community})
    # 李小红 and 王芳 have had a pneumococcal dose; 王芳 and 李小红 are civil-affairs recipients
    for record_id, (name, base) in enumerate([("李小红", "11010519491231002"), ("王芳", "44200019500505002")], 1):
        number = id_number(base)
        conn.execute(sa.text(
            "insert into staging.stg_health__vaccination_record (record_id, load_id, source_row, recipient_name, "
            "id_number, id_valid, birth_date, vaccine_code, dose_number, vaccinated_at, updated_at) values "
            "(:rid, 4, :rid, :name, :id, true, to_date(substr(:id, 7, 8), 'YYYYMMDD'), 'PPSV23', 1, "
            "'2026-10-01 09:00+08', '2026-10-01 09:00+08')"), {"rid": record_id, "name": name, "id": number})
    for recipient, (name, base, category, community) in enumerate(
            [("李小红", "11010519491231002", "低保", COMMUNITY_A), ("王芳", "44200019500505002", "高龄独居", COMMUNITY_B)], 1):
        conn.execute(sa.text(
            "insert into staging.stg_civil_affairs__service_recipient (recipient_id, load_id, source_row, name, "
            "id_number, id_valid, category, community, valid_from, updated_at) values "
            "(:rid, 5, :n, :name, :id, true, :category, :community, '2026-01-01', now())"),
            {"rid": f"R{recipient}", "n": recipient, "name": name, "id": id_number(base), "category": category,
             "community": community})


def seed_outreach(conn: sa.Connection) -> None:
    """One open list item per resident (outreach.list_item of V0020), as the list builder would leave them."""
    conn.execute(sa.text(
        "insert into outreach.rule (rule_id, reason, priority, vaccine_code, definition, predicate_sql) "
        "values ('test_rule', '测试', 1, 'FLU', '{}', 'true')"))
    run_id = conn.execute(sa.text(
        "insert into outreach.run (as_of_date, rules_hash) values (:d, 'test') returning run_id"), {"d": AS_OF}).scalar()
    conn.execute(sa.text(
        "insert into outreach.list_item (person_key, rule_id, vaccine_code, dose_number_due, priority, reason, name, "
        "id_number, sex, age_years, phones, household_no, building_code, community, grid_code, doses_counted, "
        "due_date, days_overdue, opened_run_id, last_seen_run_id, opened_as_of) "
        "select person_key, 'test_rule', 'FLU', 1, 1, '测试', name, id_number, sex, age_years, "
        "array_remove(array[phone_primary], null), household_no, building_code, community, grid_code, 0, "
        ":d, 0, :run, :run, :d from core.person"), {"d": AS_OF, "run": run_id})


def build(engine: sa.Engine) -> None:
    """The pipeline's build steps over staging, then the access step the way the pipeline wires it."""
    from community_dw.access import apply_access, grant_access
    from community_dw.pipeline import build_core, build_marts, publish_marts
    from community_dw.resolve.deterministic import resolve_deterministic

    resolve_deterministic(engine)
    build_core(AS_OF)
    apply_access(engine)
    build_marts()
    publish_marts()
    grant_access(engine)



def query(conn: PgConnection, sql: str, params: tuple | None = None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []

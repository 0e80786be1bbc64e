"""Access survives the pipeline: rebuilt core and swapped marts, a second access step, a re-run migration."""

from __future__ import annotations

import re
from datetime import date

import psycopg2
import pytest
import sqlalchemy as sa
from access_seed import COMMUNITY_B, build, query

from community_dw.access import apply_access, grant_access
from community_dw.config import sql_dir
from community_dw.warehouse.sql_runner import run_sql


def _add_resident_of_b(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into staging.stg_public_security__resident (load_id, source_row, delivery_kind, delivery_date, "
            "name, id_number, id_valid, birth_date, sex, phone_primary, household_no, building_code, subdistrict, "
            "community) values (3, 99, 'full', :d, '孙七', '442000199102020028', true, '1991-02-02', 'F', "
            "'13512345678', 'H-B-2', 'B-B-1', '东区街道', :c)"), {"d": date(2026, 11, 1), "c": COMMUNITY_B})


def test_every_role_still_reads_after_the_core_and_marts_are_rebuilt(warehouse_ab, login, connect_as) -> None:
    staff_b = connect_as(login("cdw_community_staff", communities=(COMMUNITY_B,)))
    health = connect_as(login("cdw_reader_health"))
    analyst = connect_as(login("cdw_analyst"))
    refs_before = {row[0] for row in query(health, "select person_ref from published.health__vaccination_status")}

    _add_resident_of_b(warehouse_ab)
    build(warehouse_ab)  # drop/create core, swap marts in, with the access step wired as the pipeline does

    assert sorted(row[0] for row in query(staff_b, "select name from access.read_person_contacts()")) == [
        "刘强", "孙七", "王芳"]
    refs_after = {row[0] for row in query(health, "select person_ref from published.health__vaccination_status")}
    assert refs_before <= refs_after  # pseudonyms are stable across builds
    assert query(analyst, "select sum(residents) from mart.resident_population") == [(6,)]


def test_swapped_marts_have_no_grants_until_grant_access(warehouse_ab, login, connect_as) -> None:
    """Why grant_access belongs in the transaction that swaps the marts in (publish_marts does it)."""
    from community_dw.pipeline import build_marts, publish_marts

    analyst = connect_as(login("cdw_analyst"))
    build_marts()
    with warehouse_ab.begin() as conn:  # a swap without the grant step: the new table is unreadable
        conn.exec_driver_sql("drop table mart.resident_population cascade")
        conn.exec_driver_sql("alter table mart_build.resident_population set schema mart")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(analyst, "select count(*) from mart.resident_population")
    grant_access(warehouse_ab)
    assert query(analyst, "select sum(residents) from mart.resident_population") == [(5,)]
    build_marts()
    publish_marts()  # the pipeline's swap re-grants in the same transaction: readable at once
    assert query(analyst, "select sum(residents) from mart.resident_population") == [(5,)]


def test_the_access_step_runs_inside_the_callers_transaction(warehouse_ab, login, connect_as) -> None:
    staff_b = connect_as(login("cdw_community_staff", communities=(COMMUNITY_B,)))
    _add_resident_of_b(warehouse_ab)
    from community_dw.resolve.deterministic import resolve_deterministic

    resolve_deterministic(warehouse_ab)
    with pytest.raises(RuntimeError, match="rolled back"), warehouse_ab.begin() as conn:
        for table in ("resident", "person"):
            run_sql(conn, f"core/{table}")
        apply_access(conn)
        raise RuntimeError("the build failed later: everything rolled back")
    assert len(query(staff_b, "select * from access.read_person_contacts()")) == 2


def test_applying_access_twice_changes_nothing(warehouse_ab) -> None:
    first = apply_access(warehouse_ab)
    second = apply_access(warehouse_ab)
    assert first.published == second.published
    assert first.published == {"public_security__resident": 5, "health__vaccination_status": second.published[
        "health__vaccination_status"], "civil_affairs__service_recipient": 2, "grid__resident": 5, "person_contact": 5}


def test_access_on_a_warehouse_with_no_core_yet_skips_the_refresh(fresh_warehouse) -> None:
    report = apply_access(fresh_warehouse)
    assert report.published == {}
    assert "person_contact" in report.skipped


def test_the_roles_block_of_the_migration_is_idempotent(fresh_warehouse) -> None:
    """Roles are cluster-wide: the block must pass when every role exists (another database made them)."""
    migration = sql_dir().joinpath("migrations/V0030__access.sql").read_text(encoding="utf-8")
    roles_block = re.search(r"do \$roles\$.*?\$roles\$;", migration, re.S).group(0)
    with fresh_warehouse.begin() as conn:
        conn.exec_driver_sql(roles_block)
        conn.exec_driver_sql(roles_block)
        roles = conn.execute(sa.text(
            "select rolname, rolcanlogin from pg_roles where rolname like 'cdw\\_%' and rolname not like 'cdw\\_t\\_%' "
            "order by 1")).all()
    assert [tuple(row) for row in roles] == [(name, False) for name in sorted([
        "cdw_access_broker", "cdw_analyst", "cdw_community_staff", "cdw_engineer", "cdw_loader",
        "cdw_reader_civil_affairs", "cdw_reader_grid", "cdw_reader_health", "cdw_reader_public_security"])]


def test_the_engineer_reads_every_layer_but_not_the_pseudonym_secret(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login("cdw_engineer"))
    for relation in ["raw.public_security__resident", "staging.stg_public_security__resident", "core.person",
                     "mart.resident_population", "audit.access_log", "access.person_contact", "outreach.list_item",
                     "published.grid__resident"]:
        query(conn, f"select * from {relation} limit 1")
    assert query(conn, "select count(*) from access.person_contact") == [(5,)]  # the engineer policy: every row
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(conn, "select * from access.pseudonym_key")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(conn, "delete from core.person")


def test_a_loader_login_can_run_the_access_step(warehouse_ab, login) -> None:
    """In production the pipeline is a login in cdw_loader, not a superuser: the access step must still run."""
    name = login("cdw_loader")
    url = warehouse_ab.url.set(username=name)
    engine = sa.create_engine(url)
    try:
        report = apply_access(engine)
    finally:
        engine.dispose()
    assert report.published["person_contact"] == 5

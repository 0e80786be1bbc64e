"""Community staff, connected as their own logins: their own community's rows only, and every read logged."""

from __future__ import annotations

import psycopg2
import pytest
import sqlalchemy as sa
from access_seed import COMMUNITY_A, COMMUNITY_B, GRID_A2, GRID_B, query

STAFF = "cdw_community_staff"


def _contacts(conn, grid: str | None = None) -> list[tuple]:
    return query(conn, "select name, community, grid_code, phone, id_number_masked "
                       "from access.read_person_contacts(%s) order by name", (grid,))


def test_staff_of_a_see_contacts_of_a_only(warehouse_ab, login, connect_as) -> None:
    rows = _contacts(connect_as(login(STAFF, communities=(COMMUNITY_A,))))
    assert {row[1] for row in rows} == {COMMUNITY_A}
    assert sorted(row[0] for row in rows) == sorted(["陈大文", "李小红", "赵六"])
    # staff dial the number, so it is whole; the ID number stays masked
    assert {row[3] for row in rows} == {"13812345678", "0760-88123456", None}
    assert all(row[4] is None or "********" in row[4] for row in rows)


def test_staff_of_a_asking_for_a_grid_of_b_get_nothing(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login(STAFF, communities=(COMMUNITY_A,)))
    assert _contacts(conn, GRID_B) == []
    assert query(conn, "select count(*) from access.read_outreach_list(%s)", (GRID_B,)) == [(0,)]
    assert [row[0] for row in _contacts(conn, GRID_A2)] == ["赵六"]


def test_staff_of_b_see_b_and_unmapped_staff_see_nothing(warehouse_ab, login, connect_as) -> None:
    b = connect_as(login(STAFF, communities=(COMMUNITY_B,)))
    assert sorted(row[0] for row in _contacts(b)) == sorted(["王芳", "刘强"])
    nobody = connect_as(login(STAFF))
    assert _contacts(nobody) == []
    assert query(nobody, "select count(*) from access.read_outreach_list()") == [(0,)]


def test_staff_of_two_communities_see_both(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login(STAFF, communities=(COMMUNITY_A, COMMUNITY_B)))
    assert len(_contacts(conn)) == 5


def test_the_outreach_list_is_scoped_to_the_community_and_masks_id_numbers(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login(STAFF, communities=(COMMUNITY_B,)))
    rows = query(conn, "select name, community, id_number_masked, phones from access.read_outreach_list() order by name")
    assert [(name, community) for name, community, *_ in rows] == [("刘强", COMMUNITY_B), ("王芳", COMMUNITY_B)]
    assert [row[2] for row in rows] == ["442000********0015", "442000********0020"]
    assert rows[1][3] == ["13900001111"]


def test_taking_the_mapping_away_takes_the_rows_away(warehouse_ab, login, connect_as) -> None:
    name = login(STAFF, communities=(COMMUNITY_A,))
    conn = connect_as(name)
    assert len(_contacts(conn)) == 3
    with warehouse_ab.begin() as admin:
        admin.execute(sa.text("delete from access.staff_community where login_name = :l"), {"l": name})
    assert _contacts(conn) == []


@pytest.mark.parametrize("relation", ["access.person_contact", "outreach.list_item", "core.person",
                                      "access.staff_community", "audit.access_log", "published.grid__resident",
                                      "mart.resident_population"])
def test_staff_have_no_direct_read_of_any_table(warehouse_ab, login, connect_as, relation: str) -> None:
    conn = connect_as(login(STAFF, communities=(COMMUNITY_A,)))
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(conn, f"select * from {relation} limit 1")


def test_staff_cannot_write_or_erase_the_access_log(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login(STAFF, communities=(COMMUNITY_A,)))
    for statement in ["delete from audit.access_log",
                      "insert into audit.access_log (login_name, read_path, source_table, communities, rows_returned) "
                      "values ('someone', 'x', 'x', '{}', 0)",
                      "update access.staff_community set community = 'x'"]:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            query(conn, statement)


def test_every_read_is_logged_with_who_when_which_community_and_grid(warehouse_ab, login, connect_as) -> None:
    name = login(STAFF, communities=(COMMUNITY_A,))
    conn = connect_as(name)
    _contacts(conn)
    _contacts(conn, GRID_A2)
    query(conn, "select * from access.read_outreach_list(%s)", (GRID_B,))
    with warehouse_ab.connect() as admin:
        logged = admin.execute(sa.text(
            "select read_path, source_table, communities, grid_code, rows_returned, read_at is not null, "
            "application_name from audit.access_log where login_name = :l order by access_log_id"), {"l": name}).all()
    assert [tuple(row) for row in logged] == [
        ("access.read_person_contacts", "access.person_contact", [COMMUNITY_A], None, 3, True, "cdw-access-test"),
        ("access.read_person_contacts", "access.person_contact", [COMMUNITY_A], GRID_A2, 1, True, "cdw-access-test"),
        ("access.read_outreach_list", "outreach.list_item", [COMMUNITY_A], GRID_B, 0, True, "cdw-access-test"),
    ]


def test_a_read_in_a_rolled_back_transaction_still_reaches_the_server_log(warehouse_ab, login, connect_as) -> None:
    """The audit row rolls back with the caller's transaction; the LOG line in the server log does not."""
    with warehouse_ab.connect() as admin:
        log_file = admin.execute(sa.text(
            "select coalesce(pg_current_logfile(), 'server.log') where exists "
            "(select 1 from pg_ls_dir('.') as f where f = coalesce(pg_current_logfile(), 'server.log'))")).scalar()
        if log_file is None:
            pytest.skip("the server's log is not a file in its data directory (an external test server)")
        start = admin.execute(sa.text("select (pg_stat_file(:f)).size"), {"f": log_file}).scalar()
    name = login(STAFF, communities=(COMMUNITY_A,))
    conn = connect_as(name, autocommit=False)
    _contacts(conn)
    conn.rollback()
    with warehouse_ab.connect() as admin:
        assert admin.execute(sa.text("select count(*) from audit.access_log where login_name = :l"),
                             {"l": name}).scalar() == 0
        tail = admin.execute(sa.text("select pg_read_file(:f, :start, 1000000)"),
                             {"f": log_file, "start": start}).scalar()
    assert f"cdw access: login={name} read=access.read_person_contacts communities={{{COMMUNITY_A}}}" in tail

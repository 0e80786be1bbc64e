"""The ways around row-level security, each shown to leak, then shown closed by what the project does.

The leaks are built on a scratch table of the test's own, `scratch.visit` (community, note), protected by
access.protect_community_table() exactly as access.person_contact and outreach.list_item are; the
checks then run against the real warehouse objects too.
"""

from __future__ import annotations

import psycopg2
import pytest
import sqlalchemy as sa
from access_seed import COMMUNITY_A, COMMUNITY_B, query

from community_dw.access import AccessPitfall, apply_access, pitfalls

STAFF = "cdw_community_staff"
LEAKY = """
create function pg_temp.leak(value text) returns boolean language plpgsql cost 0.0000001 as $$
begin
    raise notice 'leaked: %', value;
    return true;
end $$"""


@pytest.fixture
def scratch(warehouse_ab: sa.Engine) -> sa.Engine:
    """scratch.visit: two rows of community A, two of B; RLS enabled (not forced) with the staff policy."""
    with warehouse_ab.begin() as conn:
        conn.exec_driver_sql(f"""
            create schema scratch;
            create table scratch.visit (community text not null, note text not null);
            insert into scratch.visit values ('{COMMUNITY_A}', 'a-1'), ('{COMMUNITY_A}', 'a-2'),
                                             ('{COMMUNITY_B}', 'b-1'), ('{COMMUNITY_B}', 'b-2');
            alter table scratch.visit enable row level security;
            create policy own on scratch.visit for select using (community = any (access.my_communities()));
            grant usage on schema scratch to cdw_community_staff;
        """)
    return warehouse_ab


def _notes(conn, sql: str) -> set[str]:
    return {row[0] for row in query(conn, sql)}


def _leaked(conn) -> set[str]:
    leaked = {notice.split("leaked: ", 1)[1].strip() for notice in conn.notices if "leaked: " in notice}
    conn.notices.clear()
    return leaked


def _admin(engine: sa.Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(sql)


def test_the_table_owner_bypasses_rls_unless_it_is_forced(scratch, login, connect_as) -> None:
    owner = login(STAFF, communities=(COMMUNITY_A,))
    _admin(scratch, f'alter table scratch.visit owner to "{owner}"')
    conn = connect_as(owner)
    assert _notes(conn, "select note from scratch.visit") == {"a-1", "a-2", "b-1", "b-2"}  # the pitfall
    assert ("scratch.visit", "row-level security is not forced: the table owner reads every row") in pitfalls(scratch)

    with scratch.begin() as admin:
        admin.exec_driver_sql("select access.protect_community_table('scratch.visit', 'read_visits')")
    assert _notes(conn, "select note from scratch.visit") == {"a-1", "a-2"}
    assert not [p for p in pitfalls(scratch) if p[0] == "scratch.visit"]


def test_a_view_owned_by_a_superuser_reads_past_rls_a_security_invoker_view_does_not(scratch, login,
                                                                                    connect_as) -> None:
    _admin(scratch, """
        alter table scratch.visit force row level security;
        grant select on scratch.visit to cdw_community_staff;
        create view scratch.visit_view as select * from scratch.visit;
        grant select on scratch.visit_view to cdw_community_staff;
    """)
    conn = connect_as(login(STAFF, communities=(COMMUNITY_A,)))
    # the view runs as its owner, the superuser postgres, who bypasses every policy
    assert _notes(conn, "select note from scratch.visit_view") == {"a-1", "a-2", "b-1", "b-2"}
    assert any(obj == "scratch.visit_view" for obj, _ in pitfalls(scratch))
    with pytest.raises(AccessPitfall, match="scratch.visit_view"):
        apply_access(scratch)

    _admin(scratch, "alter view scratch.visit_view set (security_invoker = true)")
    assert _notes(conn, "select note from scratch.visit_view") == {"a-1", "a-2"}
    assert not any(obj == "scratch.visit_view" for obj, _ in pitfalls(scratch))


def test_a_view_over_person_contacts_is_revoked_or_refused_by_the_access_step(warehouse_ab, login,
                                                                              connect_as) -> None:
    _admin(warehouse_ab, """
        create view access.all_contacts as select * from access.person_contact;
        grant select on access.all_contacts to cdw_community_staff;
    """)
    conn = connect_as(login(STAFF, communities=(COMMUNITY_A,)))
    assert query(conn, "select count(*) from access.all_contacts") == [(5,)]  # the leak, B's residents included
    assert any(obj == "access.all_contacts" for obj, _ in pitfalls(warehouse_ab))
    # in a private schema the grant matrix takes the grant back on the next build ...
    apply_access(warehouse_ab)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(conn, "select count(*) from access.all_contacts")
    # ... in a schema the matrix opens to readers (every mart goes to analysts), the build refuses to publish
    _admin(warehouse_ab, "create view mart.contacts as select name, community from access.person_contact")
    with pytest.raises(AccessPitfall, match="mart.contacts"):
        apply_access(warehouse_ab)


def test_a_security_definer_function_owned_by_a_superuser_leaks_ours_does_not(warehouse_ab, login,
                                                                              connect_as) -> None:
    _admin(warehouse_ab, """
        create function access.all_contact_names() returns setof text language sql security definer
            set search_path = pg_catalog as 'select name from access.person_contact';
        grant execute on function access.all_contact_names() to cdw_community_staff;
    """)
    conn = connect_as(login(STAFF, communities=(COMMUNITY_A,)))
    assert len(query(conn, "select * from access.all_contact_names()")) == 5  # runs as postgres: every row
    assert ("access.all_contact_names()",
            "SECURITY DEFINER function owned by postgres, which bypasses row-level security") in pitfalls(warehouse_ab)
    # ours is a definer function too, but owned by the broker, to whom the policy applies
    assert len(query(conn, "select * from access.read_person_contacts()")) == 3
    _admin(warehouse_ab, "drop function access.all_contact_names()")
    assert pitfalls(warehouse_ab) == []


def test_a_definer_function_without_a_pinned_search_path_is_reported(warehouse_ab) -> None:
    _admin(warehouse_ab, """
        create function access.contact_count() returns bigint language sql security definer
            as 'select count(*) from access.person_contact';
        alter function access.contact_count() owner to cdw_access_broker;
        grant execute on function access.contact_count() to cdw_community_staff;
    """)
    assert ("access.contact_count()", "SECURITY DEFINER function without a pinned search_path") in pitfalls(warehouse_ab)


def test_a_leaky_function_sees_rows_a_plain_view_filters_out_not_those_rls_or_a_barrier_filters(scratch, login,
                                                                                             connect_as) -> None:
    _admin(scratch, f"""
        create table scratch.plain (community text, note text);
        insert into scratch.plain select * from scratch.visit;
        create view scratch.plain_a as select * from scratch.plain where community = '{COMMUNITY_A}';
        create view scratch.plain_a_barrier with (security_barrier) as
            select * from scratch.plain where community = '{COMMUNITY_A}';
        grant select on scratch.plain_a, scratch.plain_a_barrier to cdw_community_staff;
        alter table scratch.visit force row level security;
        grant select on scratch.visit to cdw_community_staff;
    """)
    conn = connect_as(login(STAFF, communities=(COMMUNITY_A,)))
    query(conn, LEAKY)  # anyone with TEMP on the database may define a function in pg_temp

    # an application's WHERE in a plain view: the cheap leaky function runs first and sees B's rows
    assert _notes(conn, "select note from scratch.plain_a where pg_temp.leak(note)") == {"a-1", "a-2"}
    assert {"b-1", "b-2"} <= _leaked(conn)
    # a security_barrier view applies its own WHERE first
    assert _notes(conn, "select note from scratch.plain_a_barrier where pg_temp.leak(note)") == {"a-1", "a-2"}
    assert _leaked(conn) == {"a-1", "a-2"}
    # row-level security policies are barriers too
    assert _notes(conn, "select note from scratch.visit where pg_temp.leak(note)") == {"a-1", "a-2"}
    assert _leaked(conn) == {"a-1", "a-2"}
    # and the staff read functions hand over rows the policy has already filtered
    names = _notes(conn, "select name from access.read_person_contacts() where pg_temp.leak(name)")
    assert names == {"陈大文", "李小红", "赵六"}
    assert _leaked(conn) == names


def test_the_warehouse_has_no_way_around_rls(warehouse_ab) -> None:
    assert pitfalls(warehouse_ab) == []
    with warehouse_ab.connect() as conn:
        protected = conn.execute(sa.text(
            "select c.oid::regclass::text, c.relforcerowsecurity from pg_class c where c.relrowsecurity "
            "order by 1")).all()
        readers = conn.execute(sa.text(
            "select p.proname, p.prosecdef, pg_get_userbyid(p.proowner), p.proconfig from pg_proc p "
            "where p.pronamespace = 'access'::regnamespace and p.proname like 'read\\_%' order by 1")).all()
    assert [tuple(row) for row in protected] == [("access.person_contact", True), ("outreach.list_item", True)]
    assert [tuple(row) for row in readers] == [
        ("read_outreach_list", True, "cdw_access_broker", ["search_path=pg_catalog, pg_temp"]),
        ("read_person_contacts", True, "cdw_access_broker", ["search_path=pg_catalog, pg_temp"]),
    ]


def test_the_broker_is_no_superuser_and_cannot_log_in(warehouse_ab) -> None:
    with warehouse_ab.connect() as conn:
        row = conn.execute(sa.text("select rolsuper, rolbypassrls, rolcanlogin from pg_roles "
                                   "where rolname = 'cdw_access_broker'")).one()
    assert tuple(row) == (False, False, False)


def test_staff_cannot_create_objects_outside_their_session(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login(STAFF, communities=(COMMUNITY_A,)))
    for schema in ["access", "public", "published", "outreach"]:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            query(conn, f"create table {schema}.mine (x int)")

"""Department readers and analysts, connected as themselves: what they see, and what they are refused."""

from __future__ import annotations

import hashlib
import hmac
import re

import psycopg2
import pytest
import sqlalchemy as sa
from access_seed import RESIDENTS, id_number, query

READERS = {
    "cdw_reader_public_security": "published.public_security__resident",
    "cdw_reader_health": "published.health__vaccination_status",
    "cdw_reader_civil_affairs": "published.civil_affairs__service_recipient",
    "cdw_reader_grid": "published.grid__resident",
}
#: Everything personal and unpublished: no outside role may read any of it.
SENSITIVE = ["core.person", "core.resident", "core.vaccination_dose", "core.person_link", "core.person_id_number",
             "raw.public_security__resident", "staging.stg_public_security__resident",
             "quarantine.public_security__resident", "review.person_match", "audit.load_run", "audit.access_log",
             "outreach.list_item", "access.person_contact", "access.staff_community", "access.pseudonym_key"]
FULL_ID = re.compile(r"\d{17}[\dX]|\d{15}")
FULL_MOBILE = re.compile(r"1[3-9]\d{9}")


def _denied(conn, sql: str) -> bool:
    try:
        query(conn, sql)
    except psycopg2.errors.InsufficientPrivilege:
        return True
    return False


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_department_reads_its_published_table_and_marts(warehouse_ab, login, connect_as, reader: str) -> None:
    conn = connect_as(login(reader))
    assert query(conn, f"select count(*) from {READERS[reader]}")[0][0] > 0
    assert query(conn, "select sum(residents) from mart.resident_population")[0][0] == 5


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_department_is_refused_core_raw_staging_and_other_departments(warehouse_ab, login, connect_as,
                                                                         reader: str) -> None:
    conn = connect_as(login(reader))
    for relation in SENSITIVE:
        assert _denied(conn, f"select * from {relation} limit 1"), f"{reader} read {relation}"
    for other, table in READERS.items():
        if other != reader:
            assert _denied(conn, f"select * from {table} limit 1"), f"{reader} read {table}"


def test_the_analyst_reads_marts_but_no_person(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login("cdw_analyst"))
    assert query(conn, "select sum(residents) from mart.resident_population")[0][0] == 5
    assert query(conn, "select count(*) from mart.key_population")[0][0] > 0
    for relation in [*SENSITIVE, *READERS.values()]:
        assert _denied(conn, f"select * from {relation} limit 1"), f"the analyst read {relation}"


def test_a_login_without_a_role_reads_nothing(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login())
    for relation in [*SENSITIVE, *READERS.values(), "mart.resident_population"]:
        assert _denied(conn, f"select * from {relation} limit 1"), f"a bare login read {relation}"


def test_published_tables_never_hold_a_full_id_number_or_mobile(warehouse_ab, login, connect_as) -> None:
    full_ids = {id_number(base) for _, base, *_ in RESIDENTS}
    for reader, table in READERS.items():
        conn = connect_as(login(reader))
        with conn.cursor() as cur:
            cur.execute(f"select * from {table}")
            rows = cur.fetchall()
        values = [str(value) for row in rows for value in row if value is not None]
        assert values
        assert not [v for v in values if FULL_ID.fullmatch(v) or v in full_ids], table
        assert not [v for v in values if FULL_MOBILE.fullmatch(v)], table


def test_id_numbers_and_phones_are_masked_first_6_last_4(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login("cdw_reader_health"))
    masked = dict(query(conn, "select id_number_masked, phone_masked from published.health__vaccination_status "
                              "where vaccine_code = 'PPSV23' and has_any_dose"))
    assert masked == {"110105********002X": "0760-****3456", "442000********0020": "139****1111"}
    conn = connect_as(login("cdw_reader_grid"))
    phones = {row[0] for row in query(conn, "select phone_masked from published.grid__resident")}
    assert phones == {"138****5678", "0760-****3456", None, "139****1111", "137****2222"}


def test_person_refs_are_keyed_hashes_distinct_per_department(warehouse_ab, login, connect_as) -> None:
    with warehouse_ab.connect() as conn:
        secret = conn.execute(sa.text("select secret from access.pseudonym_key")).scalar()
        key = conn.execute(sa.text("select person_key from core.person where name = '王芳'")).scalar()

    def expected(domain: str) -> str:
        return hmac.new(bytes(secret), f"{domain}:{key}".encode(), hashlib.sha256).hexdigest()[:16]

    ps = connect_as(login("cdw_reader_public_security"))
    grid = connect_as(login("cdw_reader_grid"))
    ps_refs = {row[0] for row in query(ps, "select person_ref from published.public_security__resident")}
    grid_refs = {row[0] for row in query(grid, "select person_ref from published.grid__resident")}
    assert expected("public_security") in ps_refs and expected("grid") in grid_refs
    # the raw key is never the reference, and two departments cannot join on it
    assert str(key) not in ps_refs
    assert not ps_refs & grid_refs


def test_readers_cannot_compute_pseudonyms_or_read_the_secret(warehouse_ab, login, connect_as) -> None:
    conn = connect_as(login("cdw_reader_health"))
    assert _denied(conn, "select access.pseudonym(1, 'health')")
    assert _denied(conn, "select secret from access.pseudonym_key")


def test_masks_are_inlined_and_keep_nulls(fresh_warehouse: sa.Engine) -> None:
    """The mask functions are plain expressions PostgreSQL inlines (V0044), with the same answers."""
    with fresh_warehouse.connect() as conn:
        masked = conn.execute(sa.text(
            "select access.mask_id_number('11010519850312002X'), access.mask_id_number('12345'),"
            " access.mask_id_number(null), access.mask_phone('13812345678'), access.mask_phone('0760-88123456'),"
            " access.mask_phone(null)")).one()
        assert tuple(masked) == ("110105********002X", "*****", None, "138****5678", "0760-****3456", None)
        # From a column (a constant would be folded at plan time whether inlined or not).
        conn.execute(sa.text("create temp table numbers as select '11010519850312002X'::text as n"))
        plan = "\n".join(row[0] for row in conn.execute(sa.text(
            "explain verbose select access.mask_id_number(n), access.mask_phone(n) from numbers")))
        assert "mask_" not in plan, plan  # inlined: the plan shows the expressions, not the calls

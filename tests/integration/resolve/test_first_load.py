"""Whether a resolution run is a first load (link indexes dropped and rebuilt around the bulk insert)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from community_dw.resolve.deterministic import _is_first_load

STAGING = ("staging.stg_public_security__resident", "staging.stg_health__vaccination_record",
           "staging.stg_civil_affairs__service_recipient")


def _estimate_records(conn, records: int) -> None:
    """Set the planner's row estimates of the staging tables (what _is_first_load reads) to `records`."""
    for table, estimate in zip(STAGING, (records, 0, 0), strict=True):
        conn.exec_driver_sql("update pg_class set reltuples = %s where oid = %s::regclass", (estimate, table))


def test_a_warehouse_with_every_record_linked_is_not_a_first_load(fresh_warehouse: Engine) -> None:
    with fresh_warehouse.connect() as conn, conn.begin() as transaction:
        conn.exec_driver_sql(
            "insert into core.person_link (source, record_ref, person_key, method, rule_version) "
            "select 'public_security.residents', '1:' || n, n, 'id_number', 'test' from generate_series(1, 3) n")
        # Three links for three records: half the records is 1.5; the count stops at 1, which is not fewer.
        _estimate_records(conn, 3)
        assert not _is_first_load(conn)
        _estimate_records(conn, 5)
        assert not _is_first_load(conn)
        # Three links for nine records: fewer than half are linked, a first load's bulk path.
        _estimate_records(conn, 9)
        assert _is_first_load(conn)
        transaction.rollback()

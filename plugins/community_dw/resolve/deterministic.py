"""Deterministic person resolution: valid ID numbers first, then unambiguous name + birth date."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from community_dw.warehouse.sql_runner import run_sql


@dataclass
class ResolveCounts:
    by_id_number: int
    by_name_birth_date: int
    new_persons: int


def resolve_deterministic(engine: Engine, *, create_new: bool = True) -> ResolveCounts:
    """Link every unlinked person-bearing record, in one transaction.

    With create_new=False the records nothing matched stay unlinked, for the probabilistic linker.
    """
    with engine.begin() as conn:
        return link_deterministic(conn, create_new=create_new)


#: A first load (core.person_link holding fewer rows than this share of the records) inserts its
#: millions of links with the table's indexes dropped, and builds them again once: about twice as
#: fast as maintaining them row by row. Daily deltas insert into the indexed table.
BULK_SHARE = 0.5


#: Where the passes that look for unlinked records read them once a core build has taken loads in:
#: views of the same shape over the staged records of newer loads only (sql/resolve/new_records.sql).
NEW_RECORD_MAP = {
    **{f"staging.stg_{name}": f"pg_temp.new_stg_{name}"
       for name in ("public_security__resident", "health__vaccination_record", "civil_affairs__service_recipient")},
    "core.person_record": "pg_temp.new_person_record",
    "core.person_resolve_record": "pg_temp.new_person_resolve_record",
}


def _unlinked_record_views(conn: Connection) -> dict[str, str] | None:
    """The table map for the passes over unlinked records: None (all of staging) until a core build has
    taken loads in, then views over the records of the loads no build has taken in (every run links all
    it is given, so older records are linked already; a day's records instead of a city's)."""
    if not conn.exec_driver_sql("select exists (select 1 from audit.core_build_load)").scalar():
        return None
    run_sql(conn, "resolve/new_records")
    run_sql(conn, "resolve/person_record", table_map=NEW_RECORD_MAP)
    run_sql(conn, "resolve/person_resolve_record", table_map=NEW_RECORD_MAP)
    return NEW_RECORD_MAP


def link_deterministic(conn: Connection, *, create_new: bool = True) -> ResolveCounts:
    """The deterministic passes in the caller's transaction (resolve_all runs them with the others).

    Leaves the records still unlinked in the temporary table resolve_pending for the later passes.
    """
    run_sql(conn, "resolve/person_record")
    run_sql(conn, "resolve/person_resolve_record")
    unlinked_views = _unlinked_record_views(conn)
    if _is_first_load(conn):
        with _indexes_dropped(conn, "core", "person_link"), _indexes_dropped(conn, "core", "person_id_number"):
            by_id = run_sql(conn, "resolve/link_by_id_number", table_map=unlinked_views)
    else:
        by_id = run_sql(conn, "resolve/link_by_id_number", table_map=unlinked_views)
    run_sql(conn, "resolve/resolve_pending", table_map=unlinked_views)
    by_name = run_sql(conn, "resolve/link_by_name_birth_date")
    # most pending rows are gone now: fresh statistics keep the later anti-joins off nested loops
    conn.exec_driver_sql("analyze resolve_pending")
    new = run_sql(conn, "resolve/link_new_persons") if create_new else 0
    return ResolveCounts(int(by_id), int(by_name), int(new or 0))


def _is_first_load(conn: Connection) -> bool:
    """Fewer links than BULK_SHARE of the records (estimates from the statistics are enough)."""
    links, records = conn.exec_driver_sql(
        "select (select greatest(reltuples, 0) from pg_class where oid = 'core.person_link'::regclass), "
        "(select sum(greatest(reltuples, 0)) from pg_class where oid in ("
        "'staging.stg_public_security__resident'::regclass, 'staging.stg_health__vaccination_record'::regclass, "
        "'staging.stg_civil_affairs__service_recipient'::regclass))").one()
    if not records:
        return False
    # Counted up to the bound itself, compared with that whole number: against the fraction, a count that
    # stopped at the bound of 2,193,910 looked "fewer than 2,193,910.5", and a daily run of a million
    # residents dropped and rebuilt the link indexes whenever the estimated records were odd.
    bound = int(records * BULK_SHARE)
    exact = conn.exec_driver_sql("select count(*) from (select 1 from core.person_link limit %s) l",
                                 (bound,)).scalar()
    return int(exact or links or 0) < bound


@contextmanager
def _indexes_dropped(conn: Connection, schema: str, table: str) -> Iterator[None]:
    """Drop the table's indexes (and primary key), run the block, build them again as they were.

    In the caller's transaction: a failure restores them with everything else. Readers of the table
    wait for the transaction (the drop takes an exclusive lock), which only a first load does.
    """
    rows = conn.exec_driver_sql(
        "select i.indexname, i.indexdef, c.conname is not null "
        "from pg_indexes i left join pg_constraint c "
        "  on c.conname = i.indexname and c.conrelid = (i.schemaname || '.' || i.tablename)::regclass "
        "  and c.contype = 'p' "
        "where i.schemaname = %s and i.tablename = %s", (schema, table)).all()
    for name, _, is_primary in rows:
        if is_primary:
            conn.exec_driver_sql(f'alter table {schema}.{table} drop constraint "{name}"')
        else:
            conn.exec_driver_sql(f'drop index {schema}."{name}"')
    yield
    for name, definition, is_primary in rows:
        conn.exec_driver_sql(definition)
        if is_primary:
            conn.exec_driver_sql(f'alter table {schema}.{table} add constraint "{name}" primary key using index "{name}"')
    conn.exec_driver_sql(f"analyze {schema}.{table}")

"""Deterministic person resolution: valid ID numbers first, then unambiguous name + birth date."""

from __future__ import annotations

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


def link_deterministic(conn: Connection, *, create_new: bool = True) -> ResolveCounts:
    """The deterministic passes in the caller's transaction (resolve_all runs them with the others).

    Leaves the records still unlinked in the temporary table resolve_pending for the later passes.
    """
    run_sql(conn, "resolve/person_record")
    run_sql(conn, "resolve/person_resolve_record")
    by_id = run_sql(conn, "resolve/link_by_id_number")
    run_sql(conn, "resolve/resolve_pending")
    by_name = run_sql(conn, "resolve/link_by_name_birth_date")
    new = run_sql(conn, "resolve/link_new_persons") if create_new else 0
    return ResolveCounts(int(by_id), int(by_name), int(new or 0))

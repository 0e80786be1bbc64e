"""Least-privilege access, re-applied after every build (docs/access.md).

The core is rebuilt with `drop table; create table` and the marts are swapped in from mart_build, so
every build hands back tables with no grants. Views over them would be worse: a view over core.person
makes its `drop table` fail. So the department-facing `published.*` tables and the staff-facing
`access.person_contact` are defined once by a migration (V0030: their grants, row-level security and
the staff read functions persist) and only their rows are refreshed here from core, in the caller's
transaction; then the grant matrix is re-applied and the row-level-security pitfalls are looked for.

Call `apply_access(conn)` inside the core build's transaction, after the last core table, and
`grant_access(conn)` inside the mart publishing transaction, after the swap: readers then see the
old published rows and grants or the new ones, never a moment without.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine

from community_dw.warehouse.sql_runner import run_sql, sql_path

log = logging.getLogger(__name__)

#: Functions the steps below use; (re)defined on every run so they change without a migration.
FUNCTION_STEPS = ("person_ref", "protect_community_table")


@dataclass(frozen=True)
class RefreshStep:
    """One department-facing table, refreshed from core by sql/access/<name>.sql (skipped while a
    relation it reads is missing)."""

    name: str
    table: str
    needs: tuple[str, ...]
    #: False: refreshed whole every time. True: a scoped core build replaces only the rebuilt persons'
    #: rows, found by their pseudonym in `pseudonym_domain`, or by person_key where that is None.
    per_person: bool = True
    pseudonym_domain: str | None = None


REFRESH_STEPS: tuple[RefreshStep, ...] = (
    RefreshStep("public_security__resident", "published.public_security__resident", ("core.person",),
                pseudonym_domain="public_security"),
    RefreshStep("health__vaccination_status", "published.health__vaccination_status",
                ("core.vaccination_status", "core.person"), pseudonym_domain="health"),
    RefreshStep("civil_affairs__service_recipient", "published.civil_affairs__service_recipient",
                ("core.service_recipient", "core.person"), per_person=False),
    RefreshStep("grid__resident", "published.grid__resident", ("core.person",), pseudonym_domain="grid"),
    RefreshStep("person_contact", "access.person_contact", ("core.person", "core.resident")),
)
#: Steps that protect stateful tables of other layers (no-ops while the table does not exist).
PROTECT_STEPS = ("outreach_list_item",)
#: The grant matrix; run last so it also covers what the steps above created.
GRANTS_STEP = "grants"


class AccessPitfall(RuntimeError):
    """A path around row-level security exists (sql/access/check_pitfalls.sql names it)."""


@dataclass
class AccessReport:
    """What one access step did: rows published per table, steps skipped, seconds taken."""

    published: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _in_transaction(target: Engine | Connection | None, work):
    if isinstance(target, Connection):
        return work(target)
    if target is None:
        from community_dw.warehouse.session import warehouse_engine

        target = warehouse_engine()
    with target.begin() as conn:
        return work(conn)


def _exists(conn: Connection, relation: str) -> bool:
    return conn.exec_driver_sql("select to_regclass(%s)", (relation,)).scalar() is not None


def pitfalls(target: Engine | Connection | None = None) -> list[tuple[str, str]]:
    """(object, problem) for every way an outside role could get around row-level security."""
    query = sql_path("access/check_pitfalls").read_text(encoding="utf-8")

    def work(conn: Connection) -> list[tuple[str, str]]:
        with conn.connection.cursor() as cur:
            cur.execute(query)
            return [tuple(row) for row in cur.fetchall()]

    return _in_transaction(target, work)


def _enforce_no_pitfalls(conn: Connection) -> None:
    found = pitfalls(conn)
    if found:
        listed = "\n".join(f"  {obj}: {problem}" for obj, problem in found)
        raise AccessPitfall(f"{len(found)} way(s) around row-level security; nothing was published:\n{listed}")


def grant_access(target: Engine | Connection | None = None) -> None:
    """Re-apply the grant matrix (sql/access/grants.sql) and check the pitfalls. Cheap; idempotent.

    Call it in the transaction that swaps the marts in, after the swap, so department readers and
    analysts never meet a mart table without their grant.
    """

    def work(conn: Connection) -> None:
        run_sql(conn, f"access/{GRANTS_STEP}")
        _enforce_no_pitfalls(conn)

    _in_transaction(target, work)


def _clear(conn: Connection, step: RefreshStep, scope_table: str | None) -> None:
    """Empty the step's table, or with a scope only the rows of the persons in it."""
    if scope_table is None or not step.per_person:
        conn.exec_driver_sql(f"truncate {step.table}")
    elif step.pseudonym_domain is None:
        conn.exec_driver_sql(f"delete from {step.table} where person_key = any(array(select person_key from {scope_table}))")
    else:
        # An array of the scope's pseudonyms, each found through the table's key: a join instead hashes
        # the whole table (1.5 s rather than 0.5 s for 46,000 persons of 3.6 million rows)
        conn.exec_driver_sql(
            f"delete from {step.table} where person_ref = any(array("
            "select access.person_ref(k.inner_pad, k.outer_pad, %s, s.person_key) "
            f"from {scope_table} s cross join access.pseudonym_key k))", (step.pseudonym_domain,))


def apply_access(target: Engine | Connection | None = None, scope_table: str | None = None,
                 table_map: dict[str, str] | None = None) -> AccessReport:
    """Refresh published.* and access.person_contact from core, protect outreach.list_item, re-grant.

    With a Connection it runs in the caller's transaction (the core build's, so the published rows
    change with the core they come from); with an Engine, or nothing (the warehouse), in its own.
    A scoped core build passes `scope_table` (the person_keys it rebuilt) and `table_map` (where their
    new core rows are, e.g. core.person -> pg_temp.person): per-person tables then swap those persons'
    rows only; the rest are refreshed whole from core, which already holds the merged rows.
    Raises AccessPitfall, rolling the transaction back, if a path around row-level security exists.
    """

    def work(conn: Connection) -> AccessReport:
        started = time.perf_counter()
        report = AccessReport()
        for step in FUNCTION_STEPS:
            run_sql(conn, f"access/{step}")
        for step in REFRESH_STEPS:
            if all(_exists(conn, relation) for relation in step.needs):
                _clear(conn, step, scope_table)
                scoped = scope_table is not None and step.per_person
                report.published[step.name] = int(
                    run_sql(conn, f"access/{step.name}", table_map=table_map if scoped else None) or 0)
            else:
                report.skipped.append(step.name)
        for step in PROTECT_STEPS:
            run_sql(conn, f"access/{step}")
        run_sql(conn, f"access/{GRANTS_STEP}")
        _enforce_no_pitfalls(conn)
        report.seconds = round(time.perf_counter() - started, 2)
        log.info("access: published %s, skipped %s in %.1fs", report.published, report.skipped, report.seconds)
        return report

    return _in_transaction(target, work)

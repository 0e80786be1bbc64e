"""Load attempts that can be told alive or dead: a claimed running row, and the sweep that closes dead ones.

A loader killed with SIGKILL cannot write its own failure, so audit.load_run kept such attempts 'running'
forever. Instead of guessing from age (a big load may take an hour), the loader proves it is alive: it
inserts its running row and takes a session advisory lock on the load in one transaction, and keeps that
session open until the row is closed. PostgreSQL frees the lock when the session ends, however it ends, so
a running row whose lock is free belongs to a process that is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: First key of pg_advisory_lock(int, int) for load claims ('cdw' in ASCII); the second is the load_id.
#: The two-key form keeps these locks apart from the single-key locks of migrations and outreach builds.
CLAIM_SPACE = 0x636477
#: load_id is a bigint, the lock's second key an int: fold it (a collision only makes a dead load look alive).
KEY_MODULUS = 2_147_483_648

CLAIM = sa.text("""
    with attempt as (
        insert into audit.load_run (source, delivery_name, content_hash, logical_date, backend_pid)
        values (:source, :delivery, :hash, :logical_date, pg_backend_pid())
        returning load_id
    )
    select load_id, pg_advisory_lock(:space, (load_id % :modulus)::int) from attempt
""")

# Set-based: every running, claimed row of the source whose lock no session of this database holds.
# A row becomes visible only once its insert committed, and by then its lock is held: no window in which
# a live load looks dead.
CLOSE_ABANDONED = sa.text("""
    with held as (
        select l.objid::bigint as lock_key
        from pg_locks l
        where l.locktype = 'advisory' and l.granted and l.objsubid = 2 and l.classid = :space
          and l.database = (select oid from pg_database where datname = current_database())
    ),
    dead as (
        select r.load_id
        from audit.load_run r
        where r.source = :source and r.status = 'running' and r.backend_pid is not null
          and r.load_id % :modulus not in (select lock_key from held)
    )
    update audit.load_run r
    set status = 'failed',
        finished_at = clock_timestamp(),
        error = coalesce(r.delivery_name, 'load ' || r.load_id) || ': the loading process ended before '
             || 'finishing (killed, crashed or cut off from the warehouse; its session, backend pid '
             || r.backend_pid || ', is gone). Its transaction was rolled back, so nothing of this attempt '
             || 'was kept; the delivery loads again from the drop folder. Found by the ingest of '
             || r.source || ' at ' || to_char(clock_timestamp(), 'YYYY-MM-DD HH24:MI:SS TZ')
    from dead
    where r.load_id = dead.load_id
    returning r.load_id, r.delivery_name, r.backend_pid
""")


@dataclass(frozen=True)
class Abandoned:
    """A running attempt found dead and closed as failed."""

    load_id: int
    delivery_name: str | None
    backend_pid: int


def close_abandoned(engine: Engine, source: str) -> list[Abandoned]:
    """Mark the source's running attempts whose loading session is gone as failed; live ones stay running."""
    with engine.begin() as conn:
        rows = conn.execute(CLOSE_ABANDONED, {"source": source, "space": CLAIM_SPACE,
                                              "modulus": KEY_MODULUS}).all()
    closed = [Abandoned(int(row.load_id), row.delivery_name, int(row.backend_pid)) for row in rows]
    for attempt in closed:
        log.warning("%s: load %s (%s) was left running by a process that is gone; marked failed",
                    source, attempt.load_id, attempt.delivery_name)
    return closed


@contextmanager
def claimed_load(engine: Engine, source: str, delivery_name: str, content_hash: str | None,
                 logical_date: date | None) -> Iterator[int]:
    """Start a load attempt (its running row committed) and keep it claimed until the block ends.

    Close the row (finish_load or fail_load) inside the block: once the claim is released, a running
    row reads as abandoned. The claim's own session does no loading, so a long COPY elsewhere does not
    matter; the session only has to live as long as the process does.
    """
    conn = engine.connect()
    try:
        with conn.begin():
            load_id = int(conn.execute(CLAIM, {
                "source": source, "delivery": delivery_name, "hash": content_hash, "logical_date": logical_date,
                "space": CLAIM_SPACE, "modulus": KEY_MODULUS}).scalar_one())
        yield load_id
    finally:
        _release(conn)


def _release(conn: sa.Connection) -> None:
    """Give the session's claims up before the connection goes back to the pool (a pooled session keeps
    its advisory locks); a connection that cannot be cleaned is discarded, which frees them too."""
    try:
        conn.execute(sa.text("select pg_advisory_unlock_all()"))
        conn.commit()
    except sa.exc.DBAPIError:
        conn.invalidate()
    finally:
        conn.close()

"""Daily deltas without gaps: which days are missing before a delta, and how an operator accepts a gap.

A delta holds the changes since the previous delivery (SOURCES.md). Applied over a day whose delta never
arrived, it publishes a state that is silently wrong (a resident who moved out on the missing day stays
'resident') until the missing file turns up, if it ever does. So a delta waits for the day before it,
unless an operator records that the department issued none that day (audit.accepted_delivery_gap).
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

DATE_TEXT = re.compile(r"^\d{8}$")

# The newest delivery day the source has loaded, full snapshot or delta: day texts newest first, parsed in
# Python (a day text that is no calendar day, e.g. 20261399, cannot stop the query).
LOADED_DAYS = sa.text("""
    select day_text, max(delivery_name) as delivery_name
    from (
        select substring(delivery_name from '_(\\d{8})\\.') as day_text, delivery_name
        from audit.load_run
        where source = :source and status in ('succeeded', 'skipped_duplicate')
    ) dated
    where day_text is not null
    group by day_text
    order by day_text desc
""")

ACCEPTED_DAYS = sa.text("""
    select gap_date from audit.accepted_delivery_gap
    where source = :source and gap_date between :first and :last
""")

# One row per day of the range; a day accepted before keeps its first acknowledgement (who and why).
ACCEPT = sa.text("""
    insert into audit.accepted_delivery_gap (source, gap_date, reason, accepted_by)
    select :source, day::date, :reason, :accepted_by || ' (database login ' || session_user || ')'
    from generate_series(cast(:first as date), cast(:last as date), interval '1 day') as day
    on conflict (source, gap_date) do nothing
    returning gap_date
""")

LOADED_ON = sa.text("""
    select min(delivery_name) from audit.load_run
    where source = :source and status in ('succeeded', 'skipped_duplicate')
      and substring(delivery_name from '_(\\d{8})\\.') between :first and :last
""")


@dataclass(frozen=True)
class LastDelivery:
    """The newest dated delivery a source has loaded."""

    day: date
    delivery_name: str


def _day(text: str) -> date | None:
    if not DATE_TEXT.match(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def last_delivery(engine: Engine, source: str) -> LastDelivery | None:
    """The newest day a loaded (or already-loaded, skipped) delivery of the source is dated; None if none."""
    with engine.connect() as conn:
        for row in conn.execute(LOADED_DAYS, {"source": source}):
            if (day := _day(row.day_text)) is not None:
                return LastDelivery(day, row.delivery_name)
    return None


def missing_days(engine: Engine, source: str, delta_day: date) -> tuple[LastDelivery | None, list[date]]:
    """(the last delivery, the days between it and `delta_day` that have neither a delivery nor an accepted gap).

    No delivery loaded yet: nothing to measure a gap from, so nothing is missing (the first load of a
    source is its snapshot, and a delta before any snapshot is a question for the snapshot, not the day).
    """
    last = last_delivery(engine, source)
    if last is None or last.day >= delta_day - timedelta(days=1):
        return last, []
    first, final = last.day + timedelta(days=1), delta_day - timedelta(days=1)
    with engine.connect() as conn:
        accepted = set(conn.execute(ACCEPTED_DAYS, {"source": source, "first": first, "last": final}).scalars())
    days = [first + timedelta(days=n) for n in range((final - first).days + 1)]
    return last, [day for day in days if day not in accepted]


def describe_days(days: list[date]) -> str:
    """'2026-11-02', '2026-11-02 and 2026-11-04', or '2026-11-02 to 2026-11-09 (8 days)' when consecutive."""
    if len(days) == 1:
        return days[0].isoformat()
    if (days[-1] - days[0]).days == len(days) - 1 and len(days) > 2:
        return f"{days[0]} to {days[-1]} ({len(days)} days)"
    return ", ".join(day.isoformat() for day in days[:-1]) + f" and {days[-1]}"


def gap_message(delivery_name: str, source: str, last: LastDelivery, missing: list[date]) -> str:
    """The hold's error: the file, the missing day(s), why it waits, and the two ways out."""
    plural = len(missing) > 1
    first, final = missing[0], missing[-1]
    accept = f"cdw ingest accept-gap {source} {first}" + (f" --through {final}" if final != first else "")
    deltas, days = ("the deltas", "those days") if plural else ("the delta", "that day")
    return (f"{delivery_name}: held, {deltas} for {describe_days(missing)} {'have' if plural else 'has'} not "
            f"arrived. The last delivery loaded for {source} is {last.delivery_name} (dated {last.day}); a delta "
            f"carries only the changes since the previous delivery, so loading this one would skip the changes "
            f"of {days} and publish a stale register. Drop {deltas} for {days} into the folder and run again: "
            f"{'they load' if plural else 'it loads'} first, then this one. If the department issued no delta on "
            f"{days}, accept the gap: {accept} --reason \"...\". This file and later deliveries of {source} "
            f"wait until then")


def accept_gap(engine: Engine, source: str, first: date, last: date, reason: str,
               accepted_by: str | None = None) -> list[date]:
    """Record that `source` has no delivery from `first` to `last`; returns the days newly accepted.

    Refuses an empty reason, a range backwards, and a day a delivery was loaded for (nothing is missing
    there: accepting it would only hide a mistake in the date typed).
    """
    if not reason.strip():
        raise ValueError("say why the day has no delivery (--reason), e.g. the department's reply")
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    who = accepted_by or _operator()
    with engine.begin() as conn:
        loaded = conn.execute(LOADED_ON, {"source": source, "first": f"{first:%Y%m%d}",
                                          "last": f"{last:%Y%m%d}"}).scalar()
        if loaded is not None:
            raise ValueError(f"{source} has a delivery loaded for a day in {first} to {last} ({loaded}); "
                             "no gap to accept there")
        added = conn.execute(ACCEPT, {"source": source, "first": first, "last": last, "reason": reason.strip(),
                                      "accepted_by": who}).scalars().all()
    return sorted(added)


def _operator() -> str:
    """The person at the keyboard: the database login is recorded beside it, but a shared service
    account would hide who accepted the gap."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"

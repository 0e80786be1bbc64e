"""What the warehouse holds: tables per layer with exact row counts, for summaries and status."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

LAYERS = ("raw", "staging", "quarantine", "core", "mart", "outreach", "review", "audit")


def table_counts(engine: Engine, layers: tuple[str, ...] = LAYERS) -> list[tuple[str, str, int]]:
    with engine.connect() as conn:
        tables = conn.execute(
            sa.text(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema = any(:layers) and table_type in ('BASE TABLE', 'VIEW') "
                "order by array_position(:layers, table_schema::text), table_name"
            ),
            {"layers": list(layers)},
        ).all()
        counts = []
        for schema, name in tables:
            quoted = f'"{schema}"."{name}"'
            counts.append((schema, name, conn.execute(sa.text(f"select count(*) from {quoted}")).scalar_one()))
    return counts

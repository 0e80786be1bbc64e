"""The engine a pipeline step works on: resolved, and migrated once per process."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import Engine

from community_dw.config import resolve_warehouse_url
from community_dw.warehouse.connection import get_engine
from community_dw.warehouse.migrate import migrate


@lru_cache(maxsize=4)
def _migrated(url: str) -> Engine:
    engine = get_engine(url)
    migrate(engine)
    return engine


def warehouse_engine() -> Engine:
    """The configured warehouse, with every migration applied (cheap after the first call)."""
    return _migrated(resolve_warehouse_url().url)

"""Engines and raw connections to the warehouse, made when needed and cached per URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from community_dw.config import resolve_warehouse_url


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return sa.create_engine(url, pool_pre_ping=True, future=True)


def get_engine(url: str | None = None) -> Engine:
    """The warehouse engine: the given URL, else the resolved one (see config.resolve_warehouse_url)."""
    return _engine_for(url or resolve_warehouse_url().url)


@contextmanager
def raw_connection(engine: Engine | None = None) -> Iterator:
    """A DBAPI (psycopg2) connection in one transaction, for COPY; committed on success."""
    engine = engine or get_engine()
    conn = engine.raw_connection()
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()

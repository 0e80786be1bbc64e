"""Session fixtures: a real PostgreSQL warehouse for every test that needs one.

The embedded server is used unless CDW_TEST_DATABASE_URL names another PostgreSQL; each session
gets its own freshly migrated database so tests never see a developer's demo data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from community_dw.config import normalize_postgres_url

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _server_url() -> str:
    if url := os.environ.get("CDW_TEST_DATABASE_URL"):
        return normalize_postgres_url(url)
    from community_dw.warehouse import embedded

    return embedded.ensure_database("postgres")


def create_database(server_url: str, prefix: str = "cdw_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}"')
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
    admin.dispose()


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of a database on the test server with rights to create databases."""
    return _server_url()


@pytest.fixture
def empty_database(pg_server_url: str) -> Iterator[str]:
    """A brand-new, unmigrated database, dropped afterwards."""
    url = create_database(pg_server_url, "cdw_empty")
    yield url
    drop_database(pg_server_url, url)


@pytest.fixture(scope="session")
def warehouse_url(pg_server_url: str) -> Iterator[str]:
    """A migrated warehouse for this session; CDW_WAREHOUSE_URL points the code under test at it."""
    from community_dw.warehouse.migrate import migrate

    url = create_database(pg_server_url)
    engine = sa.create_engine(url)
    migrate(engine)
    engine.dispose()
    previous = os.environ.get("CDW_WAREHOUSE_URL")
    os.environ["CDW_WAREHOUSE_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("CDW_WAREHOUSE_URL", None)
    else:
        os.environ["CDW_WAREHOUSE_URL"] = previous
    drop_database(pg_server_url, url)


@pytest.fixture(scope="session")
def warehouse(warehouse_url: str) -> Iterator[Engine]:
    engine = sa.create_engine(warehouse_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(pg_server_url: str) -> Iterator[str]:
    """A migrated database used as a template: cloning it is much faster than migrating again."""
    from community_dw.warehouse.migrate import migrate

    url = create_database(pg_server_url, "cdw_template")
    engine = sa.create_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    drop_database(pg_server_url, url)


@pytest.fixture
def fresh_warehouse(pg_server_url: str, migrated_template: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated warehouse of this test's own; CDW_WAREHOUSE_URL points the code under test at it."""
    name = f"cdw_fresh_{uuid.uuid4().hex[:10]}"
    template = make_url(migrated_template).database
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'create database "{name}" template "{template}"')
    admin.dispose()
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("CDW_WAREHOUSE_URL", url)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()
    from community_dw.warehouse.connection import _engine_for

    _engine_for(url).dispose()
    drop_database(pg_server_url, url)

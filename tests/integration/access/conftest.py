"""Fixtures of the access tests: the two-community warehouse, and logins of each role.

Roles are cluster-wide in PostgreSQL and tests of other sessions share the server: every login made
here has a unique name (cdw_t_<hex>), is a member of the group role under test, and is dropped after
the test (its objects in the test database first). The group roles themselves come from migration V0030.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg2
import pytest
import sqlalchemy as sa
from access_seed import build, seed_outreach, seed_staging
from psycopg2.extensions import connection as PgConnection


@pytest.fixture
def warehouse_ab(fresh_warehouse: sa.Engine) -> sa.Engine:
    """Two communities (A: 3 residents in 2 grids, B: 2 residents), core, marts, outreach items, access applied."""
    with fresh_warehouse.begin() as conn:
        seed_staging(conn)
    build(fresh_warehouse)
    with fresh_warehouse.begin() as conn:
        seed_outreach(conn)
    return fresh_warehouse


@pytest.fixture
def login(fresh_warehouse: sa.Engine) -> Iterator[Callable[..., str]]:
    """make(*group_roles, communities=()) -> a new LOGIN role in those groups, mapped to those communities."""
    made: list[str] = []
    admin = sa.create_engine(fresh_warehouse.url, isolation_level="AUTOCOMMIT")

    def make(*groups: str, communities: tuple[str, ...] = ()) -> str:
        name = f"cdw_t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'create role "{name}" login' + (f" in role {', '.join(groups)}" if groups else ""))
            made.append(name)
            for community in communities:
                conn.execute(sa.text("insert into access.staff_community (login_name, community) values (:l, :c)"),
                             {"l": name, "c": community})
        return name

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.exec_driver_sql(f"select pg_terminate_backend(pid) from pg_stat_activity where usename = '{name}'")
            conn.exec_driver_sql(f'drop owned by "{name}"')
            conn.exec_driver_sql(f'drop role "{name}"')
    admin.dispose()


@pytest.fixture
def connect_as(fresh_warehouse: sa.Engine) -> Iterator[Callable[[str], PgConnection]]:
    """connect(login) -> a psycopg2 connection as that login (trust auth on 127.0.0.1), autocommit."""
    opened: list[PgConnection] = []
    url = fresh_warehouse.url

    def connect(name: str, autocommit: bool = True) -> PgConnection:
        conn = psycopg2.connect(host=url.host, port=url.port, dbname=url.database, user=name,
                                application_name="cdw-access-test")
        conn.autocommit = autocommit
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()

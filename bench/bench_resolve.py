"""Benchmark person resolution on a simulated city: pairwise P/R/F1 against the simulator's truth
(overall and per planted defect type), review-queue share, seconds and peak memory of the resolve stage.

Production's own stages build the warehouse resolution reads: the department simulator
(plugins/community_dw/simulate) writes the deliveries and the truth, then ingest (all four
departments, the civil-affairs API on loopback, the health replica in a database of its own) and
standardize run as `cdw run` runs them. That warehouse is kept as a template database
(bench_resolve_<N>_s<seed>_d<days>) and its truth under .cdw/bench/, so later runs only clone it and
time resolve_all on the clone (model training included: the clone has no stored model):

    .venv/bin/python bench/bench_resolve.py --residents 100000           # prepares once, then measures
    .venv/bin/python bench/bench_resolve.py --residents 1000000 --repeat 2
    .venv/bin/python bench/bench_resolve.py --residents 100000 --rebuild # simulate and ingest again

Targets (issue 7): F1 >= 0.995 at the default defect rates, review queue < 0.5% of records;
1,000,000 residents plus their vaccination and service records resolved in <= 3 min and 4 GB.
Peak memory is this process's RSS (pandas, DuckDB/Splink), sampled every 50 ms; the PostgreSQL
server's own memory is not counted. Wrap 1M runs in `flock /tmp/cdw-bench.lock`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import threading
import time
import uuid
from datetime import datetime
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import sqlalchemy as sa
from sqlalchemy.engine import make_url

RESULTS = Path(__file__).resolve().parent / "results"


class PeakMemory:
    """This process's peak RSS while the block runs (sampled every 50 ms)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakMemory:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _admin() -> sa.Engine:
    from community_dw.warehouse import embedded

    return sa.create_engine(embedded.ensure_database("postgres"), isolation_level="AUTOCOMMIT")


def _exists(name: str) -> bool:
    admin = _admin()
    with admin.connect() as conn:
        found = conn.execute(sa.text("select 1 from pg_database where datname = :n"), {"n": name}).first()
    admin.dispose()
    return found is not None


def _recreate(name: str, template: str | None = None) -> str:
    from community_dw.warehouse import embedded

    admin = _admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        conn.exec_driver_sql(f'create database "{name}"' + (f' template "{template}"' if template else ""))
    admin.dispose()
    return embedded.server_url(name)


def _drop(name: str) -> None:
    admin = _admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
    admin.dispose()


def prepare(template: str, landing: Path, residents: int, days: int, seed: int) -> None:
    """Simulate the city, ingest every delivery up to the last day and standardize: the warehouse
    resolution starts from, kept as database `template`; only the truth is kept of the landing folder."""
    from community_dw import pipeline
    from community_dw.ingest import ingest_all
    from community_dw.simulate.api_server import start_api
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig
    from community_dw.warehouse.connection import _engine_for
    from community_dw.warehouse.migrate import migrate

    shutil.rmtree(landing, ignore_errors=True)
    landing.mkdir(parents=True)
    url = _recreate(template)
    health_name = f"{template}_health"
    health_url = _recreate(health_name)
    engine = sa.create_engine(url)
    migrate(engine)
    engine.dispose()
    config = SimConfig(residents=residents, days=days, seed=seed)
    t = time.perf_counter()
    generate_city(landing, config, health_url)
    print(f"prepare: simulate {time.perf_counter() - t:.0f}s", flush=True)
    last = config.day_date(days)
    api = start_api(landing, "bench-token", seed=seed,
                    as_of=datetime.combine(last, clock(23, 59, 59), ZoneInfo("Asia/Shanghai")))
    saved = {k: os.environ.get(k) for k in ("CDW_WAREHOUSE_URL", "CDW_LANDING_DIR", "CDW_HEALTH_DB_URL",
                                            "CDW_CIVIL_AFFAIRS_URL", "CDW_CIVIL_AFFAIRS_TOKEN")}
    os.environ.update({"CDW_WAREHOUSE_URL": url, "CDW_LANDING_DIR": str(landing), "CDW_HEALTH_DB_URL": health_url,
                       "CDW_CIVIL_AFFAIRS_URL": api.url, "CDW_CIVIL_AFFAIRS_TOKEN": "bench-token"})
    try:
        t = time.perf_counter()
        report = ingest_all(last)
        if report.failures:
            raise RuntimeError(f"ingest failed: {report.failures}")
        print(f"prepare: ingest {time.perf_counter() - t:.0f}s", flush=True)
        t = time.perf_counter()
        staged = pipeline.standardize()
        print(f"prepare: standardize {time.perf_counter() - t:.0f}s {staged}", flush=True)
    finally:
        api.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _engine_for(url).dispose()
        _drop(health_name)
    for child in landing.iterdir():  # the deliveries are in the warehouse now; the truth is what is scored
        if child.name != "_truth":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    (landing / "_truth" / "prepared.json").write_text(json.dumps(
        {"template": template, "residents": residents, "days": days, "seed": seed,
         "prepared_at": datetime.now().isoformat(timespec="seconds")}))


class StepSeconds(logging.Handler):
    """Keeps the seconds per step resolve_all logs with its summary line."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: dict = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("resolve_all:") and isinstance(record.args, tuple):
            self.seconds = record.args[-1]


def measure(template: str, landing: Path, score: bool, keep: bool) -> dict:
    """Clone the template, run the resolve stage as the pipeline runs it, score the links."""
    from community_dw import pipeline
    from community_dw.resolve.evaluate import score as score_links
    from community_dw.warehouse.connection import _engine_for

    name = f"{template}_run_{uuid.uuid4().hex[:6]}"
    url = _recreate(name, template)
    previous = os.environ.get("CDW_WAREHOUSE_URL")
    os.environ["CDW_WAREHOUSE_URL"] = url
    load = os.getloadavg()
    steps = StepSeconds()
    logging.getLogger("community_dw.resolve.run").addHandler(steps)
    try:
        with PeakMemory() as memory:
            started = time.perf_counter()
            counts = pipeline.resolve_persons()
            seconds = time.perf_counter() - started
        result = {"seconds": round(seconds, 1), "peak_rss_gb": round(memory.peak / 2**30, 2),
                  "loadavg_before": [round(x, 2) for x in load], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                  "counts": counts, "step_seconds": steps.seconds}
        print(f"resolve: {seconds:.1f}s, peak RSS {memory.peak / 2**30:.2f} GB, load {load[0]:.2f} -> "
              f"{os.getloadavg()[0]:.2f}; seconds per step {steps.seconds}\ncounts {counts}", flush=True)
        if score:
            engine = sa.create_engine(url)
            scored = score_links(engine, landing)
            engine.dispose()
            print(scored.format(), flush=True)
            result.update(f1=float(scored.overall.f1), precision=float(scored.overall.precision),
                          recall=float(scored.overall.recall), review_share=scored.review_share,
                          metrics=json.loads(scored.metrics.to_json(orient="index")))
        if keep:
            print(f"kept warehouse: {make_url(url).render_as_string(hide_password=False)}")
        return result
    finally:
        logging.getLogger("community_dw.resolve.run").removeHandler(steps)
        if previous is None:
            os.environ.pop("CDW_WAREHOUSE_URL", None)
        else:
            os.environ["CDW_WAREHOUSE_URL"] = previous
        _engine_for(url).dispose()
        if not keep:
            _drop(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=2, help="simulated days (a full snapshot, then deltas)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rebuild", action="store_true", help="simulate, ingest and standardize again")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="resolve runs, each on a fresh clone")
    parser.add_argument("--no-score", action="store_true", help="time only")
    parser.add_argument("--keep", action="store_true", help="keep the last resolved clone for inspection")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("community_dw.resolve").setLevel(logging.INFO)
    logging.getLogger("splink").setLevel(logging.ERROR)

    from community_dw.config import state_dir

    template = f"bench_resolve_{options.residents}_s{options.seed}_d{options.days}"
    landing = state_dir() / "bench" / template
    if options.rebuild or not (landing / "_truth" / "prepared.json").exists() or not _exists(template):
        t = time.perf_counter()
        with PeakMemory() as memory:
            prepare(template, landing, options.residents, options.days, options.seed)
        print(f"prepared {template} in {time.perf_counter() - t:.0f}s (peak {memory.peak / 2**30:.2f} GB)", flush=True)
    if options.prepare_only:
        return
    runs = [measure(template, landing, not options.no_score, options.keep and i == options.repeat - 1)
            for i in range(options.repeat)]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"resolve_{options.residents}_{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"template": template, "runs": runs}, indent=2, ensure_ascii=False, default=str))
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()

"""Generate one synthetic city into a landing folder (and a health database): `generate_city`.

Each department draws from its own RNG stream spawned from the seed, so the city's people do not
change when, say, a civil-affairs rate is tuned, and every output is byte-identical for a seed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from community_dw.simulate import civil_affairs, grid_office, health, public_security
from community_dw.simulate.config import SimConfig
from community_dw.simulate.defects import DefectLog
from community_dw.simulate.geography import build_geography
from community_dw.simulate.memory import release_memory
from community_dw.simulate.population import build_population, household_sizes
from community_dw.simulate.truth import write_truth


@dataclass
class CityResult:
    out_dir: Path
    config: SimConfig
    files: list[Path]
    counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    health_rows: int | None = None


def generate_city(out_dir: Path | str, config: SimConfig | None = None, health_db_url: str | None = None,
                  through_day: int | None = None) -> CityResult:
    """Write every department's deliveries for `config` under `out_dir`, the truth under `_truth/`.

    With `health_db_url`, the health database is created (if missing) and `vaccination_record`
    loaded as it stands after `through_day` (default: the last day); later days can be applied
    with `health.apply_health_day(url, out_dir, day)`.
    """
    cfg = config or SimConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    streams = np.random.SeedSequence(cfg.seed).spawn(6)
    rng_geo, rng_pop, rng_ps, rng_health, rng_civil, rng_grid = (np.random.default_rng(s) for s in streams)
    log = DefectLog()
    timings: dict[str, float] = {}
    files: list[Path] = []

    t = time.perf_counter()
    sizes = household_sizes(cfg.residents, rng_pop)
    geo = build_geography(len(sizes), cfg.residents, cfg.residents_per_community, cfg.households_per_grid,
                          cfg.defects, rng_geo)
    pop = build_population(cfg, sizes, geo, rng_pop)
    timings["population"] = time.perf_counter() - t

    # health first: its database load runs in a thread while the other departments and the truth
    # are written (PostgreSQL parses the COPY on its own core)
    t = time.perf_counter()
    hd = health.build_health(pop.persons, cfg, rng_health, log)
    files.append(health.write_versions(hd, out))
    # the load starts as soon as the versions file is there (the health truth is written meanwhile)
    loader: threading.Thread | None = None
    load_result: dict[str, object] = {}
    if health_db_url:
        def load() -> None:
            t0 = time.perf_counter()
            try:
                # from the parquet file just written, a slice at a time
                load_result["rows"] = health.load_health_db(health_db_url, out, through_day)
            except BaseException as exc:  # re-raised in the caller's thread
                load_result["error"] = exc
            load_result["seconds"] = time.perf_counter() - t0
        loader = threading.Thread(target=load, name="health-db-load")
        loader.start()
    # the health truth is final now: write it and let the frames go rather than carry them (~1 GB
    # at a million residents) through every other department
    health_counts = {"health_records": len(hd.records), "health_versions": len(hd.versions)}
    hd.versions = None  # type: ignore[assignment]  # on disk now; the DB load reads it from there
    release_memory()
    complete_share = hd.status.groupby("vaccine_code").complete.mean().round(4).to_dict()
    write_truth(out, {"health_records": hd.records, "vaccination_status": hd.status})
    del hd
    release_memory()
    timings["health_generate"] = time.perf_counter() - t

    t = time.perf_counter()
    initial = pop.initial
    persons_day1, households_day1 = len(initial), int(initial.household_no.nunique())
    records = [public_security.deliver_full(initial, out, pd.Timestamp(cfg.start_date), cfg.seed, cfg.defects,
                                            rng_ps, log)]
    del initial
    release_memory()
    for day in range(2, cfg.days + 1):
        records += public_security.deliver_delta(pop.persons, pop.events, out, day, pd.Timestamp(cfg.day_date(day)),
                                                 cfg.seed, cfg.defects, rng_ps, log)
    files += [d.path for d in records]
    ps_records = pd.concat([d.records for d in records], ignore_index=True)[
        ["file", "row_number", "sheet_row", "person_id", "change_type", "is_duplicate"]]
    del records
    release_memory()
    timings["public_security"] = time.perf_counter() - t

    t = time.perf_counter()
    ca = civil_affairs.build_civil_affairs(pop.persons, pop.events, geo.buildings, cfg, rng_civil, log)
    files.append(civil_affairs.write_api_data(ca, out, cfg))
    timings["civil_affairs"] = time.perf_counter() - t

    t = time.perf_counter()
    day1 = pd.Timestamp(cfg.start_date)
    gpath, grid_truth = grid_office.write_grids(geo, out, day1, cfg.defects, rng_grid, log)
    bpath, building_truth = grid_office.write_buildings(geo, out, day1, cfg.defects, rng_grid, log)
    files += [gpath, bpath]
    timings["grid"] = time.perf_counter() - t

    t = time.perf_counter()
    defects = log.frame()
    del log
    counts = {
        "persons_ever": len(pop.persons),
        "persons_day1": persons_day1,
        "persons_present_last_day": int((pop.persons.status == "present").sum()),
        "households_day1": households_day1,
        "subdistricts": len(geo.subdistricts),
        "communities": len(geo.communities),
        "grids": len(geo.grids),
        "buildings": len(geo.buildings),
        "public_security_rows": len(ps_records),
        **health_counts,
        "facilities": len(ca.facility_truth),
        "service_recipients": len(ca.recipient_truth),
        "defects": len(defects),
    }
    summary = {
        "config": cfg.as_dict(),
        "counts": counts,
        "events": pop.events.groupby(["day", "change_type"]).size().rename("n").reset_index().to_dict(orient="records"),
        "deliveries": [str(p.relative_to(out)) for p in files],
        "defects_by_type": defects.groupby(["source", "column", "defect_type"]).size().rename("n").reset_index()
        .to_dict(orient="records"),
        "vaccination_complete_share": complete_share,
    }
    write_truth(out, {
        "persons": pop.persons,
        "events": pop.events,
        "public_security_records": ps_records,
        "civil_affairs_recipients": ca.recipient_truth,
        "facilities": ca.facility_truth,
        "buildings": building_truth,
        "grids": grid_truth,
        "communities": geo.communities,
        "defects": defects,
    }, summary)
    timings["truth"] = time.perf_counter() - t

    # the truth is written while the database load goes on in its thread
    health_rows = None
    if loader is not None:
        t = time.perf_counter()
        loader.join()
        if "error" in load_result:
            raise load_result["error"]  # type: ignore[misc]
        health_rows = int(load_result["rows"])  # type: ignore[arg-type]
        timings["health_db_wait"] = time.perf_counter() - t
        timings["health_db_load"] = float(load_result["seconds"])  # type: ignore[arg-type]
    return CityResult(out, cfg, files, counts, timings, health_rows)

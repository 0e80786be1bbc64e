"""The same delivery twice, and daily deltas arriving out of order, checked against the simulator's truth."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from community_dw.ingest import ingest_all
from community_dw.pipeline import build_core, resolve_persons, standardize
from community_dw.simulate.truth import read_truth
from tests.faults.conftest import ReliabilityRow
from tests.faults.support import copy_landing, fetch, loads, raw_duplicates, table_checksum

PS = "public_security"
STATUS = {"present": "resident", "moved_out": "moved_out", "died": "deceased"}


@pytest.fixture(scope="module")
def churn_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 residents, 3 days, with ten times the default churn so the deltas carry moves and deaths."""
    from community_dw.simulate.city import generate_city
    from community_dw.simulate.config import SimConfig

    root = tmp_path_factory.mktemp("churn_city")
    generate_city(root, SimConfig(residents=1000, days=3, seed=31, birth_rate=0.005, death_rate=0.01,
                                  move_in_rate=0.02, move_out_rate=0.02, info_change_rate=0.02))
    return root


@pytest.fixture
def drop(churn_city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         fresh_warehouse: sa.Engine) -> Iterator[Path]:
    landing = copy_landing(churn_city, tmp_path / "landing")
    monkeypatch.setenv("CDW_LANDING_DIR", str(landing))
    yield landing


def _build_core(day: date) -> dict[str, str]:
    """Resident register and grid through to core for a logical date (no marts: they add nothing here)."""
    report = ingest_all(day, only=[PS, "grid"])
    standardize([PS, "grid"])
    resolve_persons()
    build_core(day)
    return report.failures


def _hold(landing: Path, pattern: str, held: Path) -> list[Path]:
    held.mkdir(exist_ok=True)
    moved = []
    for path in sorted((landing / PS).glob(pattern)):
        moved.append(Path(shutil.move(path, held / path.name)))
    return moved


def _release(paths: list[Path], landing: Path) -> None:
    for path in paths:
        shutil.move(path, landing / PS / path.name)


def _status_against_truth(engine: sa.Engine, city: Path, last_day: int) -> tuple[int, int, list[str]]:
    """(residents compared, wrong, examples): core.resident's status for each person against the truth.

    core.resident names the delivery row it took its status from (record_ref = load:row); the truth names
    the person behind every delivered row, so each core row is matched to its real person.
    """
    records = read_truth(city, "public_security_records")
    persons = read_truth(city, "persons").set_index("person_id")
    core = pd.DataFrame(fetch(engine, """
        select r.person_key, l.delivery_name, split_part(r.record_ref, ':', 2)::int as source_row,
               r.residency_status
        from core.resident r join audit.load_run l on l.load_id = split_part(r.record_ref, ':', 1)::bigint"""),
        columns=["person_key", "file", "source_row", "residency_status"])
    matched = core.merge(records, left_on=["file", "source_row"], right_on=["file", "sheet_row"], how="left")
    assert matched["person_id"].notna().all(), "a core.resident row names a delivery row the truth does not know"
    truth = persons.loc[matched["person_id"]]
    gone_by = truth["left_day"].where(truth["left_day"] > 0, 10**6).to_numpy()
    expected = truth["status"].map(STATUS).where(gone_by <= last_day, "resident").to_numpy()
    wrong = matched.assign(expected=expected).query("residency_status != expected")
    examples = [f"{row.person_id}: {row.residency_status} (truth {row.expected})" for row in wrong.head(3).itertuples()]
    return len(matched), len(wrong), examples


def _core_state(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """Checksums of who lives where: core.person without age_years, which is counted at the build's date."""
    with engine.connect() as conn:
        return {"core.resident": table_checksum(conn, "core", "resident"),
                "core.person": table_checksum(conn, "core", "person", exclude={"age_years"})}


def _hold_is_clear(city: Path, drop: Path, deltas: list[Path], engine: sa.Engine,
                   reliability: ReliabilityRow) -> None:
    """Day 3's delta without day 2's: held with a message naming the missing day; nothing else moves."""
    day1_core = _core_state(engine)
    day3_files = [path for path in deltas if "20261103" in path.name]
    _release(day3_files, drop)
    regrid = drop / "grid" / "grids_20261103.geojson"  # the grid office delivers the same day (re-serialized)
    regrid.write_text(json.dumps(json.loads((city / "grid" / "grids_20261101.geojson").read_text("utf-8")),
                                 ensure_ascii=False, indent=1), encoding="utf-8")
    failures = _build_core(date(2026, 11, 3))
    assert set(failures) == {PS}, failures
    message = failures[PS]
    assert "residents_delta_20261103.xlsx: held" in message and "2026-11-02" in message
    assert "cdw ingest accept-gap public_security.residents 2026-11-02" in message
    assert all((drop / PS / path.name).exists() for path in day3_files)  # kept in the drop folder
    [held] = [a for a in loads(engine, "public_security.residents") if a["status"] == "failed"]
    assert held["delivery_name"] == "residents_delta_20261103.xlsx" and held["error"] in message
    grid = [a for a in loads(engine, "grid.grids") if a["delivery_name"] == regrid.name]
    assert [a["status"] for a in grid] == ["succeeded"] and not regrid.exists()
    assert _core_state(engine) == day1_core
    day1_total, day1_wrong, _ = _status_against_truth(engine, city, 1)
    assert day1_wrong == 0
    reliability.saw(f"day 3's delta was held, not applied: public security failed with \"{message.split(' The last')[0]}\" "
                    f"(the message names the missing day, the last loaded delivery, and the command to accept a "
                    f"day with no delta); the delta and its resent copy stayed in the drop folder, the attempt is "
                    f"in audit.load_run as failed with that text; the grid office's day-3 delivery loaded in the "
                    f"same run; core.resident and core.person kept day 1's content ({day1_total:,} residents, "
                    f"same checksums but for ages counted at the build's date; every status true for day 1)")


@pytest.mark.scenario("Same delivery twice")
def test_a_delivery_sent_twice_is_loaded_once(churn_city: Path, drop: Path, fresh_warehouse: sa.Engine,
                                              reliability: ReliabilityRow) -> None:
    resent = sorted(path.name for path in (drop / PS).glob("*resent*"))
    reliability.tried_(f"the simulator's resent deltas ({', '.join(resent)}: the same bytes under another "
                       "name) ingested with the rest; then the full snapshot dropped again under its own name "
                       "after it had been loaded, and ingested again")
    first = ingest_all(date(2026, 11, 3), only=[PS])
    assert first.failures == {}
    shutil.copyfile(churn_city / PS / "residents_full_20261101.csv", drop / PS / "residents_full_20261101.csv")
    second = ingest_all(date(2026, 11, 3), only=[PS])
    assert second.failures == {}
    assert [o.status for o in second.outcomes] == ["skipped_duplicate"]
    attempts = loads(fresh_warehouse, "public_security.residents")
    skipped = sorted(a["delivery_name"] for a in attempts if a["status"] == "skipped_duplicate")
    loaded = [a for a in attempts if a["status"] == "succeeded"]
    assert skipped == sorted([*resent, "residents_full_20261101.csv"])
    expected_rows = sum(a["rows_read"] for a in loaded)
    assert fetch(fresh_warehouse, "select count(*) from raw.public_security__resident")[0][0] == expected_rows
    assert raw_duplicates(fresh_warehouse, "raw.public_security__resident") == 0
    assert not list((drop / PS).iterdir())  # repeated deliveries leave the drop folder too
    receipts = sorted(n for (n,) in fetch(fresh_warehouse, "select times_received from audit.landing_file"))
    reliability.saw(f"{len(loaded)} deliveries loaded ({expected_rows:,} raw rows, no row twice); "
                    f"{len(skipped)} repeats recorded as skipped_duplicate naming the load that has them; "
                    f"audit.landing_file receipts per content {receipts}; the drop folder ends empty")


@pytest.mark.scenario("Deltas out of order")
@pytest.mark.parametrize("order", ["in order", "day 3 before day 2"])
def test_deltas_out_of_order_end_in_the_true_state(order: str, churn_city: Path, drop: Path, tmp_path: Path,
                                                   fresh_warehouse: sa.Engine, reliability: ReliabilityRow) -> None:
    day1, day3 = date(2026, 11, 1), date(2026, 11, 3)
    held = tmp_path / "held"
    deltas = _hold(drop, "residents_delta_*", held)
    assert not _build_core(day1)
    if order == "in order":
        reliability.tried_("full snapshot (day 1) built to core, then the day 2 and day 3 deltas together; "
                           "core.resident compared with the simulator's truth for day 3 (the control)")
        _release(deltas, drop)
        assert not _build_core(day3)
    else:
        reliability.tried_("full snapshot (day 1) built to core; day 3's delta (and its resent copy) dropped "
                           "while day 2's was held back, with a grid re-delivery dated day 3, built to core; then "
                           "day 2's delta arrived late, built again; core.resident compared with the simulator's "
                           "truth for day 3")
        _hold_is_clear(churn_city, drop, deltas, fresh_warehouse, reliability)
        _release([path for path in deltas if "20261103" not in path.name], drop)
        assert not _build_core(day3)
        order_loaded = [a["delivery_name"] for a in loads(fresh_warehouse, "public_security.residents")
                        if a["status"] == "succeeded"]
        assert order_loaded == ["residents_full_20261101.csv", "residents_delta_20261102.csv",
                                "residents_delta_20261103.xlsx"]
        reliability.saw(f"once day 2's delta arrived, the next run loaded {', '.join(order_loaded[1:])} in that "
                        "order (the resent copies skipped as duplicates)")
    total, wrong, examples = _status_against_truth(fresh_warehouse, churn_city, 3)
    events = read_truth(churn_city, "events")
    moves = events[events["change_type"].isin(["迁出", "死亡", "迁入", "新增"])]
    reliability.saw(f"final state: {total:,} residents compared ({len(moves)} moves, births and deaths in the "
                    f"deltas), {wrong} with a status different from the truth"
                    + (f" (e.g. {', '.join(examples)})" if wrong else ""))
    assert wrong == 0, examples

"""A simulated delivery with planted defects: staging's flags and repairs match the simulator's truth,
and the quality gate stops a snapshot that arrives with half its rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from community_dw.pipeline import QualityGateFailed, gate_layer, standardize
from community_dw.simulate.city import generate_city
from community_dw.simulate.config import SimConfig
from community_dw.simulate.truth import read_truth
from community_dw.sources.file_ingest import ingest_source_files

FULL = "residents_full_20261101.csv"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("truth_city")
    generate_city(out, SimConfig(residents=3000, days=1, seed=11))
    return out


@pytest.fixture
def staged(city: Path, tmp_path: Path, fresh_warehouse: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    drop = tmp_path / "public_security"
    drop.mkdir()
    (drop / FULL).write_bytes((city / "public_security" / FULL).read_bytes())
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path))
    ingest_source_files(fresh_warehouse, "public_security.residents")
    standardize(["public_security"])
    with fresh_warehouse.connect() as conn:
        return pd.read_sql("select * from staging.stg_public_security__resident", conn)


def _planted(city: Path, defect: str) -> set[int]:
    """Source rows (physical CSV lines: data row + 1 for the header) carrying a planted ID defect."""
    defects = read_truth(city, "defects")
    picked = defects[(defects.delivery == FULL) & (defects.column == "公民身份号码") & (defects.defect_type == defect)]
    return {int(key) + 1 for key in picked.record_key}


def test_id_flags_are_exactly_the_planted_defects(city: Path, staged: pd.DataFrame) -> None:
    wrong = _planted(city, "wrong_check_digit")
    legacy = _planted(city, "legacy_15_digit")
    assert wrong and legacy  # the city planted some of each
    assert set(staged.loc[staged.id_issue == "bad_check_digit", "source_row"]) == wrong
    assert set(staged.loc[staged.id_upgraded_from_15, "source_row"]) == legacy


def test_repairable_defects_are_repaired_to_the_true_values(city: Path, staged: pd.DataFrame,
                                                            fresh_warehouse: sa.Engine) -> None:
    records = read_truth(city, "public_security_records")
    persons = read_truth(city, "persons")[["person_id", "name", "id_number"]]
    truth = (records[records.file == FULL].merge(persons, on="person_id")
             .assign(source_row=lambda f: f.sheet_row.astype("int64")))
    joined = staged.merge(truth, on="source_row", suffixes=("", "_true"))
    assert len(joined) == len(staged)
    defects = read_truth(city, "defects")
    name_defects = defects[(defects.delivery == FULL) & (defects.column == "姓名")]
    repaired_rows = {int(key) + 1 for key in name_defects.record_key}
    # Chinese names only: a stray space inside a Latin name ("M ULLER") cannot be told from a real one
    names = joined[joined.source_row.isin(repaired_rows) & joined.name_true.str.contains(r"[\u4e00-\u9fff]")]
    assert len(names) > 50
    # traditional characters, full-width letters, stray spaces and dot variants all come back to the truth
    assert (names.name == names.name_true).mean() == 1.0, names.loc[names.name != names.name_true, ["name", "name_true"]]
    # every ID that is not deliberately wrong standardizes to the person's canonical number
    ids = joined[~joined.source_row.isin(_planted(city, "wrong_check_digit")) & joined.id_number_true.notna()
                 & joined.id_number.notna()]
    assert (ids.id_number == ids.id_number_true).all()
    with fresh_warehouse.connect() as conn:
        assert conn.execute(sa.text("select bool_and(rows_in = rows_out + rows_quarantined) from audit.load_step")).scalar()


def test_a_snapshot_with_half_its_rows_fails_the_gate(city: Path, staged: pd.DataFrame, tmp_path: Path,
                                                     fresh_warehouse: sa.Engine) -> None:
    gate_layer("staging")  # the first snapshot passes and becomes the baseline
    lines = (city / "public_security" / FULL).read_bytes().split(b"\r\n")
    half = b"\r\n".join(lines[: len(lines) // 2]) + b"\r\n"
    (tmp_path / "public_security" / "residents_full_20261201.csv").write_bytes(half)
    ingest_source_files(fresh_warehouse, "public_security.residents")
    standardize(["public_security"])
    with pytest.raises(QualityGateFailed, match=r"(?s)stg_public_security__resident.*\(volume\): \d+ rows, the previous load had \d+"):
        gate_layer("staging")

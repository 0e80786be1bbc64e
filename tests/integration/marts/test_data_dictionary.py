"""docs/data-dictionary.md is generated from the warehouse, every core/mart column is commented, and the
committed file is what the code generates today."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PROJECT_ROOT
from tests.integration.marts.city import BuiltCity

COMMITTED = PROJECT_ROOT / "docs" / "data-dictionary.md"


def _sql_built_tables() -> set[str]:
    """Tables the core and mart SQL files build (`create table <schema>.<name>`)."""
    import re

    found: set[str] = set()
    for layer in ("core", "mart"):
        for path in (PROJECT_ROOT / "sql" / layer).glob("*.sql"):
            found |= set(re.findall(rf"create table ({layer}\.\w+)", path.read_text(encoding="utf-8")))
    return found


def test_every_core_and_mart_column_has_a_comment(city: BuiltCity) -> None:
    from community_dw.dictionary import read_catalogue

    tables = {t.qualified: t for t in read_catalogue(city.engine, ("core", "mart"))}
    built = _sql_built_tables()
    assert built <= set(tables), built - set(tables)
    missing = [f"{name}.{c.name}" for name in sorted(built) for c in tables[name].columns if not c.comment.strip()]
    assert not missing, missing
    assert all(tables[name].comment.strip() for name in built)


def test_the_committed_dictionary_is_up_to_date(city: BuiltCity, tmp_path: Path) -> None:
    from community_dw.dictionary import render_data_dictionary, write_data_dictionary

    written = write_data_dictionary(city.engine, tmp_path / "dd.md")
    assert written.read_text(encoding="utf-8") == render_data_dictionary(city.engine)
    assert COMMITTED.exists(), "run `cdw docs data-dictionary` and commit docs/data-dictionary.md"
    assert COMMITTED.read_text(encoding="utf-8") == render_data_dictionary(city.engine), (
        "docs/data-dictionary.md is out of date: run `cdw docs data-dictionary` on a built warehouse")


def test_the_command_writes_and_checks(city: BuiltCity, tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from community_dw.dictionary import dictionary_app

    monkeypatch.setenv("CDW_WAREHOUSE_URL", city.url)
    out = tmp_path / "data-dictionary.md"
    runner = CliRunner()
    assert runner.invoke(dictionary_app, ["data-dictionary", "--out", str(out)]).exit_code == 0
    assert "### core.person_history" in out.read_text(encoding="utf-8")
    assert runner.invoke(dictionary_app, ["data-dictionary", "--out", str(out), "--check"]).exit_code == 0
    out.write_text("stale", encoding="utf-8")
    assert runner.invoke(dictionary_app, ["data-dictionary", "--out", str(out), "--check"]).exit_code == 1


"""`cdw outreach` (the typer app the main CLI registers): build, export and feedback end to end."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from community_dw.outreach.cli import outreach_app


def test_build_export_feedback_from_the_command_line(small_core, output_dir: Path, tmp_path: Path) -> None:
    small_core.person(1, date(1950, 3, 1))
    small_core.build()
    runner = CliRunner()

    built = runner.invoke(outreach_app, ["build"])
    assert built.exit_code == 0, built.output
    assert "opened 3" in built.output

    both = runner.invoke(outreach_app, ["export", "--grid", "G001", "--worker", "张网格"])
    assert both.exit_code != 0

    exported = runner.invoke(outreach_app, ["export", "--worker", "张网格", "--out", str(tmp_path / "lists")])
    assert exported.exit_code == 0, exported.output
    [csv_file] = (tmp_path / "lists").glob("*.csv")
    lines = csv_file.read_text(encoding="utf-8-sig").splitlines()
    lines[1] = lines[1].replace(",,,", ",已故,,", 1) if lines[1].endswith(",,,") else lines[1]
    returned = tmp_path / "outreach_return.csv"
    returned.write_text("\n".join(lines) + "\n", encoding="utf-8")

    applied = runner.invoke(outreach_app, ["feedback", str(returned)])
    assert applied.exit_code == 0, applied.output
    assert "1 applied" in applied.output

    bad = tmp_path / "outreach_bad.csv"
    bad.write_text(lines[0] + "\n" + lines[2].rsplit(",", 3)[0] + ",打过了,,\n", encoding="utf-8")
    rejected = runner.invoke(outreach_app, ["feedback", str(bad)])
    assert rejected.exit_code == 1
    assert "outreach_bad.csv, row 2, column 走访结果: unknown outcome '打过了'" in rejected.output

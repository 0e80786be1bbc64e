"""Offline HTML reports per community and for the whole city: grid map, charts, tables, data freshness."""

from __future__ import annotations

from typing import Any

__all__ = ["build_reports", "report_command"]


def __getattr__(name: str) -> Any:
    """Imported on first use, so `cdw --help` does not pay for pandas, altair and shapely."""
    if name == "build_reports":
        from community_dw.report.build import build_reports

        return build_reports
    if name == "report_command":
        from community_dw.report.cli import report_command

        return report_command
    raise AttributeError(name)

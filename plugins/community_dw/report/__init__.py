"""Offline HTML reports per community and for the whole city: grid map, charts, tables, data freshness."""

from __future__ import annotations

from community_dw.report.build import build_reports
from community_dw.report.cli import report_command

__all__ = ["build_reports", "report_command"]

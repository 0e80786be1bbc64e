"""Outreach: list rules, exports, feedback and staff list matching."""

from __future__ import annotations

from typing import Any

__all__ = ["build_outreach_lists", "export_lists", "ingest_feedback"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import community_dw.outreach` (e.g. from a DAG file) stays cheap.
    if name == "build_outreach_lists":
        from community_dw.outreach.lists import build_outreach_lists

        return build_outreach_lists
    if name == "export_lists":
        from community_dw.outreach.export import export_lists

        return export_lists
    if name == "ingest_feedback":
        from community_dw.outreach.feedback import ingest_feedback

        return ingest_feedback
    raise AttributeError(name)

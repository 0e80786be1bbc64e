"""Outreach: list rules, exports, feedback and staff list matching."""

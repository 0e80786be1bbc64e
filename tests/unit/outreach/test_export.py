"""Export helpers: ID masking, and headers the feedback mapping reads back without drift."""

from __future__ import annotations

import pytest

from community_dw.outreach.export import COLUMNS, mask_id_number
from community_dw.sources.mapping import load_mapping


@pytest.mark.parametrize(("value", "masked"), [
    ("44200019500301123X", "442000********123X"),
    ("442000500301123", "442000*****1123"),  # legacy 15-digit
    ("E12345678", "*****5678"),  # a passport: too short to keep both ends
    ("1234", "****"),
    ("", ""),
    (None, None),
])
def test_id_numbers_keep_the_first_6_and_last_4(value, masked) -> None:
    assert mask_id_number(value) == masked


def test_every_exported_header_is_read_back_by_the_feedback_mapping() -> None:
    mapping = load_mapping("outreach_feedback")
    headers = [header for header, _, _ in COLUMNS]
    match = mapping.match_headers_positional(headers, "outreach_20261102_G001_张网格.xlsx")
    assert match.unknown == [] and match.missing_optional == []
    assert match.positions[0] == "item_id" and "outcome" in match.positions.values()
    assert mapping.matches_file("outreach_20261102_G001_张网格.xlsx")

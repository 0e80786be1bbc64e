"""Pure, vectorized standardizers: ID numbers, names, phones, dates, sex, addresses, coordinates.

Each takes a pandas Series of raw department text and returns a Series or DataFrame on the same
index, with an ``*_issue`` column whose codes are catalogued in ``reasons``.
"""

from community_dw.standardize.addresses import address_key, standardize_addresses
from community_dw.standardize.codes import (
    standardize_change_type,
    standardize_ethnicity,
    standardize_id_type,
    standardize_population_type,
)
from community_dw.standardize.coordinates import CHINA_BBOX, BBox, standardize_coordinates
from community_dw.standardize.dates import parse_dates, parse_timestamps
from community_dw.standardize.id_number import id_conflicts, standardize_id_numbers
from community_dw.standardize.names import standardize_names
from community_dw.standardize.phones import standardize_phones
from community_dw.standardize.reasons import REASONS, describe
from community_dw.standardize.sex import standardize_sex, standardize_sex_frame

__all__ = [
    "BBox",
    "CHINA_BBOX",
    "REASONS",
    "address_key",
    "describe",
    "id_conflicts",
    "parse_dates",
    "parse_timestamps",
    "standardize_addresses",
    "standardize_change_type",
    "standardize_coordinates",
    "standardize_ethnicity",
    "standardize_id_numbers",
    "standardize_id_type",
    "standardize_names",
    "standardize_phones",
    "standardize_population_type",
    "standardize_sex",
    "standardize_sex_frame",
]

"""The quirks SOURCES.md lists, planted at configurable rates, each one logged for the ground truth.

Every rate is a probability per *applicable* value: `name_traditional` applies only to names that
contain a character with a traditional form, `id_lowercase_x` only to ID numbers ending in X, and
so on; a test measures each rate against the same denominator. At most one ID-number defect is
planted per value so the truth names exactly what went wrong.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from community_dw.simulate.reference import TRADITIONAL

FULLWIDTH_DIGITS = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
FULLWIDTH_LATIN = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "".join(chr(0xFF21 + i) for i in range(26)) + "".join(chr(0xFF41 + i) for i in range(26)),
)
TRADITIONAL_TABLE = str.maketrans(TRADITIONAL)
TRADITIONAL_PATTERN = "[" + "".join(TRADITIONAL) + "]"
DOT_VARIANTS = ["•", "‧", ".", ""]  # the canonical middle dot is U+00B7 "·"
PHONE_SEPARATORS = ["；", ";", "/", "、"]


@dataclass
class DefectRates:
    """Planting rates, each a probability per applicable value (see the module docstring)."""

    # names (all person-bearing sources)
    name_stray_space: float = 0.02        # leading/trailing/inner ASCII or ideographic space
    name_traditional: float = 0.03        # 陳 for 陈 (names with a convertible character)
    name_fullwidth_latin: float = 0.30    # ＳＭＩＴＨ (names with Latin letters)
    name_dot_variant: float = 0.40        # `•‧.` or nothing instead of `·` (names with a middle dot)
    # ID numbers (18-character ones; passport holders are blank by design, not by defect)
    id_wrong_check: float = 0.002         # last character replaced by a wrong check digit
    id_legacy15: float = 0.02             # 15-digit legacy number (people born before 1985)
    id_fullwidth: float = 0.003           # full-width digits
    id_separator: float = 0.003           # spaces or dashes inside
    id_lowercase_x: float = 0.30          # lowercase x (numbers ending in X)
    # sex
    sex_numeric: float = 0.04             # 1/2
    sex_letter: float = 0.01              # M/F
    sex_blank: float = 0.005
    # birth date (public security text; canonical form YYYYMMDD)
    birth_date_dash: float = 0.15         # 1985-03-12
    birth_date_slash: float = 0.05        # 1985/3/12
    birth_date_chinese: float = 0.03      # 1985年3月12日
    birth_date_blank: float = 0.005
    # phone (canonical: the mobile, else the landline)
    phone_blank: float = 0.02             # blank though the person has a number
    phone_plus86: float = 0.02            # +86 prefix
    phone_86: float = 0.01                # 86 prefix
    phone_multi: float = 0.03             # two numbers joined by ；;/、
    phone_landline_only: float = 0.05     # the household landline instead of the mobile
    ethnicity_short: float = 0.05         # 汉 for 汉族, 回 for 回族
    # public security deliveries
    building_code_blank: float = 0.10     # 楼栋编码 left blank (only 现住址 places the person)
    duplicate_row: float = 0.005          # a person re-registered: a second row in the same file
    delivery_resent: float = 0.5          # a delta file delivered a second time (per delta file)
    # health database
    health_child_id_blank: float = 0.30   # children under 7 recorded without an ID number
    health_corrected: float = 0.02        # historical rows corrected after entry (updated_at later)
    health_deleted: float = 0.003         # historical rows revoked (is_deleted)
    health_daily_correction: float = 0.001  # share of visible rows corrected on each later day
    health_daily_deletion: float = 0.0003   # share of visible rows revoked on each later day
    health_late_commit: float = 0.05      # share of a day's rows that become visible only the next day
    # civil affairs
    facility_coords_zero: float = 0.02    # longitude and latitude 0
    facility_coords_swapped: float = 0.02  # longitude and latitude swapped
    facility_capacity_null: float = 0.15
    # grid office
    grid_unclosed_ring: float = 0.10      # last ring position not equal to the first
    grid_multipolygon: float = 0.05       # a grid split by a road into two parts (MultiPolygon)
    building_grid_blank: float = 0.03     # 所属网格 blank
    building_grid_stale: float = 0.03     # 所属网格 names a neighbouring grid
    building_merged_cells: float = 0.20   # share of grids whose 所属网格 cells are merged vertically

    def override(self, **values: float) -> DefectRates:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown defect rate(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        return dataclasses.replace(self, **{k: float(v) for k, v in values.items()})

    @classmethod
    def scaled(cls, factor: float) -> DefectRates:
        """All rates multiplied by `factor` (capped at 1), for stress tests."""
        base = cls()
        return dataclasses.replace(base, **{f.name: min(1.0, getattr(base, f.name) * factor) for f in fields(base)})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class DefectLog:
    """Collects planted defects: (source, delivery, record_key, column, defect_type, true, delivered)."""

    COLUMNS = ["source", "delivery", "record_key", "column", "defect_type", "true_value", "delivered_value"]

    def __init__(self) -> None:
        self._frames: list[pd.DataFrame] = []

    def add(self, source: str, delivery: str, keys: Any, column: str, defect_type: str,
            true_values: Any = None, delivered_values: Any = None) -> None:
        keys = np.asarray(keys)
        if len(keys) == 0:
            return
        n = len(keys)
        self._frames.append(pd.DataFrame({
            "source": source, "delivery": delivery, "record_key": keys.astype(str), "column": column,
            "defect_type": defect_type,
            "true_value": _text(true_values, n), "delivered_value": _text(delivered_values, n),
        }))

    def add_hits(self, source: str, delivery: str, keys: np.ndarray, column: str, hits: list[tuple[str, np.ndarray]],
                 true_values: np.ndarray, delivered: np.ndarray) -> None:
        for defect_type, mask in hits:
            if mask.any():
                self.add(source, delivery, keys[mask], column, defect_type, true_values[mask], delivered[mask])

    def frame(self) -> pd.DataFrame:
        if not self._frames:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in self.COLUMNS})
        return pd.concat(self._frames, ignore_index=True)


def _text(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, None, dtype=object)
    if np.ndim(values) == 0:
        return np.full(n, str(values), dtype=object)
    return pd.Series(np.asarray(values, dtype=object)).astype(str).to_numpy(dtype=object)


Hits = list[tuple[str, np.ndarray]]


def _draw(rng: np.random.Generator, applicable: np.ndarray, rate: float) -> np.ndarray:
    return applicable & (rng.random(len(applicable)) < rate)


def plant_names(names: np.ndarray, rates: DefectRates, rng: np.random.Generator) -> tuple[np.ndarray, Hits]:
    """Names as a clerk types them: traditional forms, full-width letters, dot variants, stray spaces."""
    s = pd.Series(names, dtype=object)
    out = s.copy()
    hits: Hits = []
    trad = _draw(rng, s.str.contains(TRADITIONAL_PATTERN, regex=True).to_numpy(dtype=bool), rates.name_traditional)
    out[trad] = out[trad].str.translate(TRADITIONAL_TABLE)
    hits.append(("traditional_chars", trad))
    latin = _draw(rng, s.str.contains("[A-Za-z]", regex=True).to_numpy(dtype=bool), rates.name_fullwidth_latin)
    out[latin] = out[latin].str.translate(FULLWIDTH_LATIN)
    hits.append(("fullwidth_letters", latin))
    dotted = _draw(rng, s.str.contains("·", regex=False).to_numpy(dtype=bool), rates.name_dot_variant)
    variant = rng.integers(0, len(DOT_VARIANTS), len(s))
    for i, dot in enumerate(DOT_VARIANTS):
        m = dotted & (variant == i)
        out[m] = out[m].str.replace("·", dot, regex=False)
    hits.append(("middle_dot_variant", dotted))
    space = _draw(rng, np.ones(len(s), dtype=bool), rates.name_stray_space)
    kind = rng.integers(0, 4, len(s))
    out[space & (kind == 0)] = " " + out[space & (kind == 0)]
    out[space & (kind == 1)] = out[space & (kind == 1)] + " "
    inner = space & (kind >= 2)
    sep = np.where(kind[inner] == 2, " ", "\u3000")
    out[inner] = out[inner].str.slice(0, 1) + sep + out[inner].str.slice(1)
    hits.append(("stray_space", space))
    return out.to_numpy(dtype=object), hits


def plant_id_numbers(ids: np.ndarray, birth_years: np.ndarray, rates: DefectRates,
                     rng: np.random.Generator) -> tuple[np.ndarray, Hits]:
    """ID numbers with one defect at most: wrong check, legacy 15, full-width, separators, lowercase x."""
    s = pd.Series(ids, dtype=object).fillna("")
    out = s.copy()
    applicable = (s.str.len() == 18).to_numpy(dtype=bool)
    taken = np.zeros(len(s), dtype=bool)
    hits: Hits = []

    wrong = _draw(rng, applicable, rates.id_wrong_check)
    if wrong.any():
        last = out[wrong].str.slice(17, 18).to_numpy(dtype=object)
        shift = rng.integers(1, 11, int(wrong.sum()))
        chars = np.array(list("0123456789X"))
        pos = np.array(["0123456789X".index(c) for c in last])
        out[wrong] = out[wrong].str.slice(0, 17) + chars[(pos + shift) % 11].astype(object)
    taken |= wrong
    hits.append(("wrong_check_digit", wrong))

    legacy = _draw(rng, applicable & ~taken & (birth_years < 1985), rates.id_legacy15)
    out[legacy] = out[legacy].str.slice(0, 6) + out[legacy].str.slice(8, 17)
    taken |= legacy
    hits.append(("legacy_15_digit", legacy))

    full = _draw(rng, applicable & ~taken, rates.id_fullwidth)
    out[full] = out[full].str.translate(FULLWIDTH_DIGITS)
    taken |= full
    hits.append(("fullwidth_digits", full))

    sep = _draw(rng, applicable & ~taken, rates.id_separator)
    if sep.any():
        joiner = np.where(rng.random(len(s)) < 0.5, " ", "-")[sep].astype(object)
        v = out[sep]
        out[sep] = v.str.slice(0, 6) + joiner + v.str.slice(6, 14) + joiner + v.str.slice(14)
    taken |= sep
    hits.append(("separators", sep))

    lower = _draw(rng, applicable & ~taken & s.str.endswith("X").to_numpy(dtype=bool), rates.id_lowercase_x)
    out[lower] = out[lower].str.slice(0, 17) + "x"
    hits.append(("lowercase_x", lower))
    return out.to_numpy(dtype=object), hits


def plant_sex(sex: np.ndarray, rates: DefectRates, rng: np.random.Generator) -> tuple[np.ndarray, Hits]:
    """男/女 as 1/2, M/F or blank."""
    out = np.asarray(sex, dtype=object).copy()
    male = out == "男"
    u = rng.random(len(out))
    numeric = u < rates.sex_numeric
    letter = (u >= rates.sex_numeric) & (u < rates.sex_numeric + rates.sex_letter)
    blank = (u >= rates.sex_numeric + rates.sex_letter) & (u < rates.sex_numeric + rates.sex_letter + rates.sex_blank)
    out[numeric] = np.where(male[numeric], "1", "2")
    out[letter] = np.where(male[letter], "M", "F")
    out[blank] = ""
    return out, [("sex_code_numeric", numeric), ("sex_code_letter", letter), ("blank", blank)]


def plant_birth_dates(birth: pd.Series, rates: DefectRates, rng: np.random.Generator) -> tuple[np.ndarray, Hits]:
    """Birth dates as text: canonical YYYYMMDD, else dashed, slashed, Chinese or blank."""
    y = birth.dt.year.astype(str).to_numpy(dtype=object)
    m = birth.dt.month.to_numpy()
    d = birth.dt.day.to_numpy()
    mm = pd.Series(m).astype(str).str.zfill(2).to_numpy(dtype=object)
    dd = pd.Series(d).astype(str).str.zfill(2).to_numpy(dtype=object)
    out = y + mm + dd
    u = rng.random(len(out))
    edges = np.cumsum([rates.birth_date_dash, rates.birth_date_slash, rates.birth_date_chinese, rates.birth_date_blank])
    dash = u < edges[0]
    slash = (u >= edges[0]) & (u < edges[1])
    chinese = (u >= edges[1]) & (u < edges[2])
    blank = (u >= edges[2]) & (u < edges[3])
    ms = m.astype(str).astype(object)
    ds = d.astype(str).astype(object)
    out[dash] = y[dash] + "-" + mm[dash] + "-" + dd[dash]
    out[slash] = y[slash] + "/" + ms[slash] + "/" + ds[slash]
    out[chinese] = y[chinese] + "年" + ms[chinese] + "月" + ds[chinese] + "日"
    out[blank] = ""
    return out, [("date_format_dash", dash), ("date_format_slash", slash), ("date_format_chinese", chinese),
                 ("blank", blank)]


def plant_phones(mobile: np.ndarray, landline: np.ndarray, rates: DefectRates, rng: np.random.Generator,
                 extra_mobile: np.ndarray) -> tuple[np.ndarray, np.ndarray, Hits]:
    """Contact numbers in every shape: +86/86 prefixes, joined pairs, landline only, blank.

    Returns (canonical, delivered, hits); canonical is the mobile, else the landline, else blank.
    """
    mobile = np.asarray(mobile, dtype=object)
    landline = np.asarray(landline, dtype=object)
    has_mobile = mobile != ""
    has_land = landline != ""
    canonical = np.where(has_mobile, mobile, landline).astype(object)
    out = canonical.copy()
    n = len(out)
    taken = np.zeros(n, dtype=bool)
    blank = _draw(rng, canonical != "", rates.phone_blank)
    out[blank] = ""
    taken |= blank
    land_only = _draw(rng, has_mobile & has_land & ~taken, rates.phone_landline_only)
    out[land_only] = landline[land_only]
    taken |= land_only
    multi = _draw(rng, has_mobile & ~taken, rates.phone_multi)
    if multi.any():
        seps = np.array(PHONE_SEPARATORS, dtype=object)[rng.integers(0, len(PHONE_SEPARATORS), n)]
        second = np.where(has_land, landline, extra_mobile).astype(object)
        out[multi] = mobile[multi] + seps[multi] + second[multi]
    taken |= multi
    plus = _draw(rng, has_mobile & ~taken, rates.phone_plus86)
    spaced = rng.random(n) < 0.3
    out[plus] = np.where(spaced[plus], "+86 ", "+86").astype(object) + mobile[plus]
    taken |= plus
    p86 = _draw(rng, has_mobile & ~taken, rates.phone_86)
    out[p86] = "86" + mobile[p86]
    return canonical, out, [("blank", blank), ("landline_only", land_only), ("multiple_numbers", multi),
                            ("prefix_plus86", plus), ("prefix_86", p86)]

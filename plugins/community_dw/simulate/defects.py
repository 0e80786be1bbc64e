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

from community_dw.simulate.identity import mobiles
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


def _str(values: np.ndarray) -> pd.core.strings.accessor.StringMethods:
    """`.str` over an object array; used only on the (small) defective subsets."""
    return pd.Series(values, dtype=object).str


def _obj(values) -> np.ndarray:
    return np.asarray(values, dtype=object)


def _text_series(values: Any) -> pd.Series:
    """A Series of text to run `.str` on: an Arrow-backed column as it is (no str objects), else objects."""
    if isinstance(values, pd.Series) and isinstance(values.array, pd.arrays.ArrowStringArray):
        return values.reset_index(drop=True)
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def name_flags(names: Any) -> dict[str, np.ndarray]:
    """Which names each name quirk applies to; compute once per person and gather per record."""
    s = _text_series(names)
    return {
        "traditional": s.str.contains(TRADITIONAL_PATTERN, regex=True).to_numpy(dtype=bool),
        "latin": s.str.contains("[A-Za-z]", regex=True).to_numpy(dtype=bool),
        "dot": s.str.contains("·", regex=False).to_numpy(dtype=bool),
    }


def id_flags(ids: Any) -> dict[str, np.ndarray]:
    s = _text_series(ids).fillna("")
    return {"len18": (s.str.len() == 18).to_numpy(dtype=bool), "ends_x": s.str.endswith("X").to_numpy(dtype=bool)}


def gather(flags: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[index] for k, v in flags.items()}


def plant_names(names: np.ndarray, rates: DefectRates, rng: np.random.Generator,
                flags: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, Hits]:
    """Names as a clerk types them: traditional forms, full-width letters, dot variants, stray spaces."""
    names = _obj(names)
    flags = flags if flags is not None else name_flags(names)
    out = names.copy()
    n = len(out)
    trad = _draw(rng, flags["traditional"], rates.name_traditional)
    out[trad] = _obj(_str(out[trad]).translate(TRADITIONAL_TABLE))
    latin = _draw(rng, flags["latin"], rates.name_fullwidth_latin)
    out[latin] = _obj(_str(out[latin]).translate(FULLWIDTH_LATIN))
    dotted = _draw(rng, flags["dot"], rates.name_dot_variant)
    variant = rng.integers(0, len(DOT_VARIANTS), n)
    for i, dot in enumerate(DOT_VARIANTS):
        m = dotted & (variant == i)
        out[m] = _obj(_str(out[m]).replace("·", dot, regex=False))
    space = rng.random(n) < rates.name_stray_space
    kind = rng.integers(0, 4, n)
    lead, trail, inner = space & (kind == 0), space & (kind == 1), space & (kind >= 2)
    out[lead] = " " + out[lead]
    out[trail] = out[trail] + " "
    sep = np.where(kind[inner] == 2, " ", "\u3000").astype(object)
    out[inner] = _obj(_str(out[inner]).slice(0, 1)) + sep + _obj(_str(out[inner]).slice(1))
    return out, [("traditional_chars", trad), ("fullwidth_letters", latin), ("middle_dot_variant", dotted),
                 ("stray_space", space)]


def plant_id_numbers(ids: np.ndarray, birth_years: np.ndarray, rates: DefectRates, rng: np.random.Generator,
                     flags: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, Hits]:
    """ID numbers with one defect at most: wrong check, legacy 15, full-width, separators, lowercase x."""
    ids = _obj(ids)
    flags = flags if flags is not None else id_flags(ids)
    out = ids.copy()
    n = len(out)
    applicable = flags["len18"]
    taken = np.zeros(n, dtype=bool)

    wrong = _draw(rng, applicable, rates.id_wrong_check)
    if wrong.any():
        chars = "0123456789X"
        pos = np.array([chars.index(v[17]) for v in out[wrong]])
        shift = rng.integers(1, 11, int(wrong.sum()))
        out[wrong] = _obj(_str(out[wrong]).slice(0, 17)) + np.array(list(chars), dtype=object)[(pos + shift) % 11]
    taken |= wrong

    legacy = _draw(rng, applicable & ~taken & (birth_years < 1985), rates.id_legacy15)
    v = _str(out[legacy])
    out[legacy] = _obj(v.slice(0, 6)) + _obj(v.slice(8, 17))
    taken |= legacy

    full = _draw(rng, applicable & ~taken, rates.id_fullwidth)
    out[full] = _obj(_str(out[full]).translate(FULLWIDTH_DIGITS))
    taken |= full

    sep = _draw(rng, applicable & ~taken, rates.id_separator)
    if sep.any():
        joiner = np.where(rng.random(int(sep.sum())) < 0.5, " ", "-").astype(object)
        v = _str(out[sep])
        out[sep] = _obj(v.slice(0, 6)) + joiner + _obj(v.slice(6, 14)) + joiner + _obj(v.slice(14))
    taken |= sep

    lower = _draw(rng, applicable & ~taken & flags["ends_x"], rates.id_lowercase_x)
    out[lower] = _obj(_str(out[lower]).slice(0, 17)) + "x"
    return out, [("wrong_check_digit", wrong), ("legacy_15_digit", legacy), ("fullwidth_digits", full),
                 ("separators", sep), ("lowercase_x", lower)]


def plant_sex(sex: np.ndarray, rates: DefectRates, rng: np.random.Generator) -> tuple[np.ndarray, Hits]:
    """男/女 as 1/2, M/F or blank."""
    out = _obj(sex).copy()
    male = out == "男"
    u = rng.random(len(out))
    e1, e2, e3 = np.cumsum([rates.sex_numeric, rates.sex_letter, rates.sex_blank])
    numeric, letter, blank = u < e1, (u >= e1) & (u < e2), (u >= e2) & (u < e3)
    out[numeric] = np.where(male[numeric], "1", "2").astype(object)
    out[letter] = np.where(male[letter], "M", "F").astype(object)
    out[blank] = ""
    return out, [("sex_code_numeric", numeric), ("sex_code_letter", letter), ("blank", blank)]


def canonical_dates(birth: pd.Series) -> np.ndarray:
    """YYYYMMDD text, built from integers (numpy's int-to-text is ~20x faster than strftime)."""
    ymd = (birth.dt.year.to_numpy() * 10000 + birth.dt.month.to_numpy() * 100 + birth.dt.day.to_numpy())
    return ymd.astype("U8").astype(object)


def plant_birth_dates(birth: pd.Series, rates: DefectRates, rng: np.random.Generator) -> tuple[np.ndarray, Hits]:
    """Birth dates as text: canonical YYYYMMDD, else dashed, slashed, Chinese or blank."""
    out = canonical_dates(birth)
    u = rng.random(len(out))
    e = np.cumsum([rates.birth_date_dash, rates.birth_date_slash, rates.birth_date_chinese, rates.birth_date_blank])
    dash, slash, chinese, blank = u < e[0], (u >= e[0]) & (u < e[1]), (u >= e[1]) & (u < e[2]), (u >= e[2]) & (u < e[3])
    y = birth.dt.year.to_numpy()
    m = birth.dt.month.to_numpy()
    d = birth.dt.day.to_numpy()

    def parts(mask: np.ndarray, pad: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fmt = "%02d" if pad else "%d"
        return (y[mask].astype("U4").astype(object), np.char.mod(fmt, m[mask]).astype(object),
                np.char.mod(fmt, d[mask]).astype(object))

    yy, mm, dd = parts(dash, True)
    out[dash] = yy + "-" + mm + "-" + dd
    yy, mm, dd = parts(slash, False)
    out[slash] = yy + "/" + mm + "/" + dd
    yy, mm, dd = parts(chinese, False)
    out[chinese] = yy + "年" + mm + "月" + dd + "日"
    out[blank] = ""
    return out, [("date_format_dash", dash), ("date_format_slash", slash), ("date_format_chinese", chinese),
                 ("blank", blank)]


def plant_phones(mobile: np.ndarray, landline: np.ndarray, rates: DefectRates,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Hits]:
    """Contact numbers in every shape: +86/86 prefixes, joined pairs, landline only, blank.

    Returns (canonical, delivered, hits); canonical is the mobile, else the landline, else blank.
    """
    mobile = _obj(mobile)
    landline = _obj(landline)
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
        k = int(multi.sum())
        seps = np.array(PHONE_SEPARATORS, dtype=object)[rng.integers(0, len(PHONE_SEPARATORS), k)]
        # the second number: the household landline, else another mobile (a relative's)
        second = np.where(has_land[multi], landline[multi], mobiles(k, rng)).astype(object)
        out[multi] = mobile[multi] + seps + second
    taken |= multi
    plus = _draw(rng, has_mobile & ~taken, rates.phone_plus86)
    out[plus] = np.where(rng.random(int(plus.sum())) < 0.3, "+86 ", "+86").astype(object) + mobile[plus]
    taken |= plus
    p86 = _draw(rng, has_mobile & ~taken, rates.phone_86)
    out[p86] = "86" + mobile[p86]
    return canonical, out, [("blank", blank), ("landline_only", land_only), ("multiple_numbers", multi),
                            ("prefix_plus86", plus), ("prefix_86", p86)]

"""Chinese personal names drawn by surname frequency, sex, birth era and ethnicity (vectorized)."""

from __future__ import annotations

import numpy as np

from community_dw.simulate.reference import (
    FOREIGN_GIVEN,
    FOREIGN_SURNAMES,
    GIVEN_CHARS,
    SURNAMES,
    TIBETAN_GIVEN,
    UYGHUR_GIVEN,
)

_SURNAME_ARRAY = np.array(list(SURNAMES), dtype=object)
_SURNAME_P = np.array(list(SURNAMES.values()), dtype=float)
_SURNAME_P /= _SURNAME_P.sum()


def surnames(n: int, rng: np.random.Generator) -> np.ndarray:
    """Surnames by frequency."""
    return rng.choice(_SURNAME_ARRAY, size=n, p=_SURNAME_P)


def given_names(sex: np.ndarray, birth_year: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One- or two-character given names in the fashion of the person's birth era and sex."""
    n = len(sex)
    era = np.where(birth_year < 1970, "old", np.where(birth_year < 2000, "mid", "young"))
    out = np.empty(n, dtype=object)
    two = rng.random(n) < np.where(era == "old", 0.7, 0.85)
    for (s, e), chars in GIVEN_CHARS.items():
        m = (sex == s) & (era == e)
        k = int(m.sum())
        if not k:
            continue
        pool = np.array(list(chars), dtype=object)
        first = pool[rng.integers(0, len(pool), k)]
        second = pool[rng.integers(0, len(pool), k)]
        out[m] = np.where(two[m], first + second, first)
    return out


def minority_names(ethnicity: np.ndarray, father_given: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Names for ethnicities that do not use a Han surname; None where the Han pattern applies.

    Uyghur names are a given name, the middle dot `·` and the father's name; Tibetan names are two
    two-character words without a surname.
    """
    n = len(ethnicity)
    out = np.full(n, None, dtype=object)
    uy = ethnicity == "维吾尔族"
    if uy.any():
        pool = np.array(UYGHUR_GIVEN, dtype=object)
        out[uy] = pool[rng.integers(0, len(pool), int(uy.sum()))] + "·" + father_given[uy]
    tb = ethnicity == "藏族"
    if tb.any():
        pool = np.array(TIBETAN_GIVEN, dtype=object)
        k = int(tb.sum())
        out[tb] = pool[rng.integers(0, len(pool), k)] + pool[rng.integers(0, len(pool), k)]
    return out


def uyghur_given(n: int, rng: np.random.Generator) -> np.ndarray:
    pool = np.array(UYGHUR_GIVEN, dtype=object)
    return pool[rng.integers(0, len(pool), n)]


def foreign_names(sex: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Passport names, surname first in capitals as the machine-readable zone prints them."""
    n = len(sex)
    sur = np.array(FOREIGN_SURNAMES, dtype=object)[rng.integers(0, len(FOREIGN_SURNAMES), n)]
    male = np.array(FOREIGN_GIVEN["男"], dtype=object)[rng.integers(0, len(FOREIGN_GIVEN["男"]), n)]
    female = np.array(FOREIGN_GIVEN["女"], dtype=object)[rng.integers(0, len(FOREIGN_GIVEN["女"]), n)]
    return sur + " " + np.where(sex == "男", male, female)


def han_names(n: int, rng: np.random.Generator, sex: np.ndarray | None = None,
              birth_year: np.ndarray | None = None) -> np.ndarray:
    """Complete Han names for staff registers (grid workers, building heads)."""
    sex = sex if sex is not None else np.where(rng.random(n) < 0.5, "男", "女")
    birth_year = birth_year if birth_year is not None else rng.integers(1960, 2000, n)
    return surnames(n, rng) + given_names(sex, birth_year, rng)

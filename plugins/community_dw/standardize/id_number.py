"""Normalize and validate 公民身份号码 (GB 11643) in bulk: one 18-character form, validity, and the
birth date, sex and region the number encodes.

python-stdnum's ``stdnum.cn.ric`` is the reference (tests check this module agrees with it), but it
works one string at a time; a resident file has a million distinct numbers, so the same arithmetic
(ISO 7064 MOD 11-2 with weights 2^(17-i) mod 11) runs here as one numpy matrix product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from community_dw.standardize import reasons
from community_dw.standardize._text import SPACE_CHARS, as_text, nfkc
from community_dw.standardize.dates import DATE_DTYPE, TZ, parse_dates
from community_dw.standardize.sex import standardize_sex

#: GB 11643 weights for the first 17 digits (2^(17-i) mod 11).
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
#: Check character for each weighted sum mod 11.
CHECK_CHARS = np.array(list("10X98765432"))

#: First two digits of a region code (GB/T 2260 provinces), plus 81/82/83 used by the residence
#: permits of Hong Kong, Macao and Taiwan residents, which share the GB 11643 layout.
PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
#: Earliest birth date taken as plausible; older dates in a number are typing errors.
MIN_BIRTH_DATE = pd.Timestamp("1890-01-01")

# Dashes of every width and the separators people type inside a number.
_SEPARATORS_RE = f"[{SPACE_CHARS}\\-‐‑‒–—―−﹣_.·]+"

COLUMNS = [
    "id_number", "id_valid", "id_upgraded_from_15", "id_birth_date", "id_sex", "id_region_code",
    "id_issue",
]


def compact_id_numbers(raw: pd.Series) -> pd.Series:
    """Full-width to half-width, separators and spaces removed, x upper-cased; NA when blank."""
    s = as_text(raw)
    # Most numbers arrive clean; only the rest pay for NFKC and separator removal.
    clean = s.str.fullmatch(r"[0-9]{17}[0-9X]|[0-9]{15}").fillna(False).astype(bool).to_numpy()
    if clean.all():
        return s
    out = s.copy()
    rest = nfkc(s[~clean]).str.replace(_SEPARATORS_RE, "", regex=True).str.upper()
    out[~clean] = rest.where(rest != "")
    return out


def _digit_matrix(bodies: pd.Series) -> np.ndarray:
    """(n, 17) int matrix of the digits of 17-digit bodies, via one buffer instead of n slices."""
    if len(bodies) == 0:
        return np.zeros((0, 17), dtype=np.int64)
    buf = "".join(bodies.tolist()).encode("ascii")
    return np.frombuffer(buf, dtype=np.uint8).reshape(-1, 17).astype(np.int64) - 48


def check_digits(bodies: pd.Series) -> np.ndarray:
    """GB 11643 check character for each 17-digit body (all values must be 17 ASCII digits)."""
    return CHECK_CHARS[(_digit_matrix(bodies) @ WEIGHTS) % 11]


def standardize_id_numbers(raw: pd.Series, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """Normalize ID numbers; returns DataFrame with the input's index and columns

    - ``id_number`` (str): the 18-character form (upper-case X), or NA when the input is not 15 or 18
      digits. Kept even when the check digit, date or region is wrong, because a number with one
      mistyped digit still matches its owner probabilistically;
    - ``id_valid`` (bool): check digit, birth date (1890-01-01 .. ``as_of``) and province all right;
    - ``id_upgraded_from_15`` (bool): a legacy 15-digit number, widened with century 19 and a
      computed check digit (so it is valid whenever its date and region are);
    - ``id_birth_date`` (datetime64[s]), ``id_sex`` ('M'/'F'), ``id_region_code`` (6 digits): what the
      number encodes, set whenever ``id_number`` is (birth date only when it is a real date);
    - ``id_issue`` (str): NA when valid, else the first of blank, non_digit, bad_length, bad_date,
      bad_region, bad_check_digit (see reasons.py).

    ``as_of`` is the latest plausible birth date (default: today in Shanghai).
    """
    s = compact_id_numbers(raw)
    n = len(s)
    idx = s.index
    blank = s.isna().to_numpy()
    is18 = s.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).astype(bool).to_numpy()
    is15 = s.str.fullmatch(r"[0-9]{15}").fillna(False).astype(bool).to_numpy()
    only_digits = s.str.fullmatch(r"[0-9]*X?").fillna(False).astype(bool).to_numpy()
    ok = is18 | is15

    body = pd.Series(pd.NA, index=idx, dtype="str")
    body[is18] = s[is18].str.slice(0, 17)
    fifteen = s[is15]
    body[is15] = fifteen.str.slice(0, 6) + "19" + fifteen.str.slice(6, 15)

    digits = _digit_matrix(body[ok])
    computed = CHECK_CHARS[(digits @ WEIGHTS) % 11]
    given = s[ok].str.slice(17, 18).to_numpy(dtype=object)
    check_ok = np.zeros(n, dtype=bool)
    check_ok[ok] = (given == computed) | is15[ok]

    # An 18-digit number keeps the check character it arrived with, right or wrong; only a
    # 15-digit one gets the computed character.
    number = s.where(is18)
    upgraded = pd.Series(computed, index=idx[ok], dtype="str")[is15[ok]]
    number[is15] = body[is15] + upgraded

    birth = pd.to_datetime(body.str.slice(6, 14), format="%Y%m%d", errors="coerce").astype(DATE_DTYPE)
    latest = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now(tz=TZ).tz_localize(None)
    date_ok = (birth.notna() & (birth >= MIN_BIRTH_DATE) & (birth <= latest.normalize())).to_numpy()
    birth = birth.where(date_ok)

    region_ok = np.zeros(n, dtype=bool)
    region_ok[ok] = np.isin(digits[:, 0] * 10 + digits[:, 1], list(PROVINCE_CODES))

    sex_values = np.full(n, None, dtype=object)
    sex_values[ok] = np.where(digits[:, 16] % 2 == 1, "M", "F")
    sex = pd.Series(sex_values, index=idx, dtype="str")

    issue = np.full(n, None, dtype=object)
    issue[ok & ~check_ok] = reasons.BAD_CHECK_DIGIT
    issue[ok & ~region_ok] = reasons.BAD_REGION
    issue[ok & ~date_ok] = reasons.BAD_DATE
    issue[~ok & only_digits] = reasons.BAD_LENGTH
    issue[~ok & ~only_digits] = reasons.NON_DIGIT
    issue[blank] = reasons.BLANK

    return pd.DataFrame(
        {
            "id_number": number,
            "id_valid": ok & check_ok & date_ok & region_ok,
            "id_upgraded_from_15": is15,
            "id_birth_date": birth,
            "id_sex": sex,
            "id_region_code": body.str.slice(0, 6),
            "id_issue": pd.Series(issue, index=idx, dtype="str"),
        },
        index=idx,
    )


def id_conflicts(id_df: pd.DataFrame, stated_birth_date: pd.Series, stated_sex: pd.Series) -> pd.DataFrame:
    """DataFrame[birth_date_conflict, sex_conflict] (bool): a stated value the ID number contradicts.

    A conflict needs both sides: a blank stated value or an ID without a readable date is no
    conflict (it is a gap, flagged elsewhere). Stated values may be raw text (parsed here) or
    already standardized. Compared whether or not the ID is valid: a contradiction with a
    mistyped number is exactly the evidence a reviewer needs.
    """
    if pd.api.types.is_datetime64_any_dtype(stated_birth_date.dtype):
        stated_date = stated_birth_date
        if getattr(stated_date.dt, "tz", None) is not None:
            stated_date = stated_date.dt.tz_convert(TZ).dt.tz_localize(None)
        stated_date = stated_date.dt.normalize().astype(DATE_DTYPE)
    else:
        stated_date = parse_dates(stated_birth_date)["date"]
    # Positional comparison: the three inputs are columns of one frame, whatever their index.
    id_date = id_df["id_birth_date"].to_numpy()
    stated = stated_date.to_numpy()
    birth_conflict = ~pd.isna(id_date) & ~pd.isna(stated) & (id_date != stated)

    sex = standardize_sex(stated_sex).to_numpy(dtype=object)
    id_sex = id_df["id_sex"].to_numpy(dtype=object)
    sex_conflict = ~pd.isna(id_sex) & ~pd.isna(sex) & (id_sex != sex)
    return pd.DataFrame(
        {"birth_date_conflict": birth_conflict, "sex_conflict": sex_conflict}, index=id_df.index
    )

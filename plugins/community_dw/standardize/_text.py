"""Shared text helpers for the standardizers: NA-safe text coercion, fast NFKC, map-over-uniques."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

#: Every whitespace a department export has been seen to contain, the ideographic space included.
WHITESPACE_RE = r"[\s\u3000\u00a0\u200b\ufeff]+"


def as_text(raw: pd.Series | Iterable) -> pd.Series:
    """Coerce any input column to pandas' string dtype, keeping the index and NA.

    Departments deliver text, but an xlsx sheet or a SQL driver may hand over ints, floats
    (``13812345678.0``) or dates; those are rendered as the text a person would have typed.
    """
    s = raw if isinstance(raw, pd.Series) else pd.Series(list(raw))
    if isinstance(s.dtype, pd.StringDtype) or s.dtype == "str":
        return s.astype("str")
    if pd.api.types.is_float_dtype(s.dtype):
        # 13812345678.0 -> "13812345678": integral floats come from spreadsheets, not from people.
        return s.map(_float_text, na_action="ignore").astype("str")
    if s.dtype == object:
        s = s.map(_cell_text)
    return s.astype("str")


def _float_text(v: float) -> str:
    return f"{int(v)}" if float(v).is_integer() else f"{v}"


def _cell_text(v: object) -> str | None:
    if isinstance(v, str):
        return v
    if _is_na(v):
        return None
    if isinstance(v, float):
        return _float_text(v)
    return str(v)


def _is_na(v: object) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def nfkc(s: pd.Series) -> pd.Series:
    """NFKC-normalize only the values that need it: ASCII text is already NFKC.

    Full-width digits and letters (１２３, Ｘ), the ideographic space and full-width punctuation
    become their ASCII forms; most values are ASCII, so skipping them halves the cost.
    """
    ascii_mask = s.str.isascii().fillna(True).astype(bool)
    if ascii_mask.all():
        return s
    out = s.copy()
    out[~ascii_mask] = s[~ascii_mask].str.normalize("NFKC")
    return out


def blank_mask(s: pd.Series) -> pd.Series:
    """True where a text value is NA or only whitespace (including the ideographic space)."""
    stripped = s.str.replace(WHITESPACE_RE, "", regex=True)
    return (stripped.isna() | (stripped == "")).astype(bool)


def map_unique(s: pd.Series, func: Callable[[np.ndarray], Iterable], dtype: str | None = "str") -> pd.Series:
    """Apply an expensive function once per distinct non-NA value and map the results back.

    ``func`` receives the array of distinct values and returns one result per value, so it may
    batch them (OpenCC converts one joined string far faster than many small ones).
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    results = np.asarray(list(func(np.asarray(uniques, dtype=object))), dtype=object)
    out = np.empty(len(s), dtype=object)
    out[:] = None
    valid = codes >= 0
    if len(results):
        out[valid] = results[codes[valid]]
    res = pd.Series(out, index=s.index)
    return res.astype(dtype) if dtype else res


def on_unique(s: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Run a vectorized ``func`` on the distinct non-NA values only and broadcast back.

    Columns like addresses repeat (one per household member), so normalizing the distinct
    values and taking them back by code costs a fraction of normalizing every row.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniques, dtype=object), dtype="str")
    res = func(u).to_numpy(dtype=object) if len(u) else np.empty(0, dtype=object)
    out = np.full(len(s), None, dtype=object)
    valid = codes >= 0
    out[valid] = res[codes[valid]]
    return pd.Series(out, index=s.index, dtype="str")

"""Sex codes to 'M'/'F': departments write 男/女, GB/T 2261.1 digits (1/2), M/F or English words."""

from __future__ import annotations

import pandas as pd

from community_dw.standardize._text import as_text, frame_on_unique
from community_dw.standardize.codes import _map_codes

#: GB/T 2261.1: 0 未知的性别 and 9 未说明的性别 say "not known", which is blank, not unknown_value.
SEX_MAP: dict[str, str] = {
    "男": "M", "男性": "M", "1": "M", "m": "M", "male": "M", "先生": "M",
    "女": "F", "女性": "F", "2": "F", "f": "F", "female": "F", "女士": "F",
}
_NOT_STATED = {"0", "9", "未知", "未说明", "未知的性别", "未说明的性别", "unknown", "u", "-"}


def standardize_sex_frame(raw: pd.Series) -> pd.DataFrame:
    """DataFrame[sex, sex_issue]: 'M'/'F'/NA with blank or unknown_value as the issue."""
    return frame_on_unique(as_text(raw), _sex_frame)


def _sex_frame(u: pd.Series) -> pd.DataFrame:
    not_stated = u.str.strip().str.lower().isin(_NOT_STATED).fillna(False).astype(bool)
    return _map_codes(u.where(~not_stated), SEX_MAP, "sex")


def standardize_sex(raw: pd.Series) -> pd.Series:
    """'M'/'F'/NA from 男/女/1/2/M/F/male/female/blank (full-width and spaces tolerated)."""
    return standardize_sex_frame(raw)["sex"]

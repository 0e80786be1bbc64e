"""Check longitude/latitude pairs: missing, zero, swapped (fixed and flagged) or outside the area.

Facility and building coordinates are WGS-84 degrees typed by people; the usual slips are a 0
placeholder and latitude in the longitude field. In China the two ranges cannot overlap
(longitude 73-136, latitude 3-54), so a swap is recognisable without guessing.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from community_dw.standardize import reasons
from community_dw.standardize._text import as_text, nfkc


class BBox(NamedTuple):
    """A lon/lat bounding box in WGS-84 degrees."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return (lon >= self.min_lon) & (lon <= self.max_lon) & (lat >= self.min_lat) & (lat <= self.max_lat)


#: China including the South China Sea islands; the default "area" and the swap test's ranges.
CHINA_BBOX = BBox(73.4, 3.3, 135.1, 53.6)


def _numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, blank, not_a_number): numbers from floats or text (full-width digits, 113.39°)."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.astype("float64").to_numpy()
        blank = np.isnan(values)
        return values, blank, np.zeros(len(raw), dtype=bool)
    text = nfkc(as_text(raw)).str.strip().str.replace(r"[°度\s]", "", regex=True)
    blank = (text.isna() | (text == "")).to_numpy()
    values = pd.to_numeric(text, errors="coerce").astype("float64").to_numpy()
    return values, blank, np.isnan(values) & ~blank


def standardize_coordinates(
    lon: pd.Series, lat: pd.Series, bbox: BBox | tuple[float, float, float, float] = CHINA_BBOX
) -> pd.DataFrame:
    """DataFrame[longitude, latitude, coord_issue] on ``lon``'s index.

    ``coord_issue`` and what happens to the point:
    - missing / not_a_number / zero (either value is 0): both set to NA;
    - swapped_fixed: the pair is in range only the other way round: swapped back and kept;
    - out_of_area: outside ``bbox`` (pass the city's box to catch typos that stay in China): NA.
    """
    box = BBox(*bbox)
    x, x_blank, x_nan = _numbers(lon)
    y, y_blank, y_nan = _numbers(lat)
    n = len(x)
    issue = np.full(n, None, dtype=object)
    out_lon, out_lat = x.copy(), y.copy()

    usable = ~(x_blank | y_blank | x_nan | y_nan)
    zero = usable & ((x == 0) | (y == 0))
    usable &= ~zero
    inside = usable & box.contains(x, y)
    swapped = usable & ~inside & box.contains(y, x)
    outside = usable & ~inside & ~swapped
    out_lon[swapped], out_lat[swapped] = y[swapped], x[swapped]

    issue[outside] = reasons.OUT_OF_AREA
    issue[swapped] = reasons.SWAPPED_FIXED
    issue[zero] = reasons.ZERO
    issue[x_nan | y_nan] = reasons.NOT_A_NUMBER
    issue[x_blank | y_blank] = reasons.MISSING
    unusable = ~(inside | swapped)
    out_lon[unusable] = np.nan
    out_lat[unusable] = np.nan
    return pd.DataFrame(
        {
            "longitude": out_lon,
            "latitude": out_lat,
            "coord_issue": pd.Series(issue, index=lon.index, dtype="str"),
        },
        index=lon.index,
    )

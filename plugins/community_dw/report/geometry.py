"""Grid polygons and points from WGS-84 to a local metric plane, and to SVG path data, with shapely."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: Metres per degree of latitude (WGS-84 mean); a degree of longitude is this times cos(latitude).
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class LocalPlane:
    """An equirectangular plane centred on (lon0, lat0), in metres, y growing southwards as SVG's does.

    At community and city scale (tens of kilometres) the distortion is far below a pixel, and a
    1 km radius is 1,000 units in every direction, so facility circles are true circles.
    """

    lon0: float
    lat0: float

    @classmethod
    def around(cls, geometries: list[BaseGeometry]) -> LocalPlane:
        minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geometries, dtype=object))
        return cls((minx + maxx) / 2, (miny + maxy) / 2)

    def project(self, geometry: BaseGeometry) -> BaseGeometry:
        kx = M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0))

        def to_plane(coords: np.ndarray) -> np.ndarray:
            return np.column_stack(((coords[:, 0] - self.lon0) * kx, (self.lat0 - coords[:, 1]) * M_PER_DEG_LAT))

        return shapely.transform(geometry, to_plane)

    def points(self, longitude: np.ndarray, latitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kx = M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0))
        return ((np.asarray(longitude, dtype=float) - self.lon0) * kx,
                (self.lat0 - np.asarray(latitude, dtype=float)) * M_PER_DEG_LAT)


def parse_wkt(values: list[str | None]) -> np.ndarray:
    """WKT strings to shapely geometries (None where missing or unreadable); one vectorized call."""
    return shapely.from_wkt(np.asarray(values, dtype=object), on_invalid="ignore")


def path_data(geometry: BaseGeometry | None) -> str:
    """SVG path data ("M x y L ... Z") for every ring of a (multi)polygon, rounded to whole metres.

    Holes are separate subpaths, drawn as holes with fill-rule="evenodd".
    """
    if geometry is None or geometry.is_empty:
        return ""
    parts: list[str] = []
    polygons = getattr(geometry, "geoms", [geometry])
    for polygon in polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            coords = np.rint(shapely.get_coordinates(ring)[:-1]).astype(np.int64)
            if len(coords) < 3:
                continue
            flat = " ".join(f"{x} {y}" for x, y in coords)
            parts.append(f"M{flat}Z")
    return "".join(parts)


@dataclass(frozen=True)
class ViewBox:
    minx: float
    miny: float
    width: float
    height: float

    @classmethod
    def of(cls, geometries: list[BaseGeometry], margin_m: float = 150.0) -> ViewBox:
        minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geometries, dtype=object))
        return cls(math.floor(minx - margin_m), math.floor(miny - margin_m),
                   math.ceil(maxx - minx + 2 * margin_m), math.ceil(maxy - miny + 2 * margin_m))

    def attribute(self) -> str:
        return f"{self.minx:.0f} {self.miny:.0f} {self.width:.0f} {self.height:.0f}"

    def contains(self, x: np.ndarray, y: np.ndarray, reach_m: float = 0.0) -> np.ndarray:
        return ((x >= self.minx - reach_m) & (x <= self.minx + self.width + reach_m)
                & (y >= self.miny - reach_m) & (y <= self.miny + self.height + reach_m))

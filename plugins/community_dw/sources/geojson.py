"""Parse the grid GeoJSON delivery: feature properties as text plus each grid's MultiPolygon as WKT."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon

from community_dw.sources.delivery import DeliveryError, ParsedDelivery, assemble, cell_to_text
from community_dw.sources.mapping import HeaderMatch, Mapping

GEOMETRY_WKT = "geometry_wkt"
GEOMETRY_ISSUE = "geometry_issue"
RING_CLOSED = "ring_closed"
MADE_VALID = "made_valid"


def read_grids_geojson(path: str | Path, mapping: Mapping, *, delivery: str | None = None) -> ParsedDelivery:
    """Read a FeatureCollection of grid polygons (WGS-84 lon/lat); source_row = feature number, 1-based.

    Every geometry becomes a MultiPolygon in WKT (a Polygon is wrapped), so one column type holds
    all grids. What is repaired is said in geometry_issue rather than hidden: `ring_closed` when a
    ring's last point did not repeat its first and we appended it, `made_valid` when the polygon was
    invalid (self-intersecting, …) and shapely.make_valid repaired it; several are joined by ";".
    Overlaps between neighbouring grids are not an issue of one feature and are left to geo/.

    A geometry that is missing, not a (Multi)Polygon, or has a non-numeric coordinate is an error
    naming the feature number and its grid_code: guessing a grid's shape would misplace people.
    """
    path = Path(path)
    name = delivery or path.name
    raw_bytes = path.read_bytes()
    if not raw_bytes.strip():
        raise DeliveryError(name, "empty file")
    try:
        document = json.loads(raw_bytes.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DeliveryError(name, f"not UTF-8 text (byte offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DeliveryError(name, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                            row=exc.lineno) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        kind = document.get("type") if isinstance(document, dict) else type(document).__name__
        raise DeliveryError(name, f"not a GeoJSON FeatureCollection (type {kind!r})")
    features = document.get("features")
    if not isinstance(features, list):
        raise DeliveryError(name, "FeatureCollection without a features list")

    keys: list[str] = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise DeliveryError(name, "not a GeoJSON Feature", row=number)
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise DeliveryError(name, "feature properties are not an object", row=number)
        keys.extend(key for key in properties if key not in keys)
    # An empty collection is a valid delivery of nothing (like a CSV with only its header): there are
    # no properties to check the mapping against.
    match = mapping.match_headers_positional(keys, name) if features else HeaderMatch({}, [], [], [])
    code_key = next((keys[p] for p, column in match.positions.items() if column == "grid_code"), None)

    wkts: list[str] = []
    issues: list[str | None] = []
    for number, feature in enumerate(features, start=1):
        properties = feature.get("properties") or {}
        grid_code = properties.get(code_key) if code_key else None
        geometry, issue = _geometry(feature.get("geometry"), name, number, grid_code)
        wkts.append(shapely.to_wkt(geometry, rounding_precision=-1))
        issues.append(issue)

    raw = pd.DataFrame(
        {position: pd.Series([cell_to_text((feature.get("properties") or {}).get(key)) for feature in features],
                             dtype="str")
         for position, key in enumerate(keys)},
        index=pd.RangeIndex(len(features)),
    )
    source_row = np.arange(1, len(features) + 1, dtype="int64")
    return assemble(name, mapping, match, raw, source_row, encoding="utf-8",
                    derived={GEOMETRY_WKT: wkts, GEOMETRY_ISSUE: issues})


def _geometry(geometry: Any, name: str, number: int, grid_code: Any) -> tuple[MultiPolygon, str | None]:
    def fail(message: str) -> DeliveryError:
        code = f" (grid_code {grid_code})" if grid_code not in (None, "") else ""
        return DeliveryError(name, message + code, row=number, column="geometry")

    if not isinstance(geometry, dict):
        raise fail("feature has no geometry")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        if not isinstance(coordinates, list):
            raise fail("MultiPolygon coordinates are not a list")
        polygons = coordinates
    else:
        raise fail(f"geometry is {kind!r}, expected Polygon or MultiPolygon")

    issues: list[str] = []
    shapes: list[Polygon] = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise fail("polygon without rings")
        rings = []
        for ring in polygon:
            points = _ring(ring, fail)
            if points[0] != points[-1]:
                points.append(points[0])
                if RING_CLOSED not in issues:
                    issues.append(RING_CLOSED)
            if len(points) < 4:
                raise fail(f"ring has {len(points)} points, a polygon ring needs at least 4 (first = last)")
            rings.append(points)
        shapes.append(Polygon(rings[0], rings[1:]))
    shape = MultiPolygon(shapes)
    if not shape.is_valid:
        repaired = shapely.make_valid(shape)
        parts = [part for part in getattr(repaired, "geoms", [repaired]) if isinstance(part, (Polygon, MultiPolygon))]
        flat = [p for part in parts for p in (part.geoms if isinstance(part, MultiPolygon) else [part])]
        if not flat:
            raise fail("polygon collapses to no area when repaired")
        shape = MultiPolygon(flat)
        issues.append(MADE_VALID)
    return shape, ";".join(issues) or None


def _ring(ring: Any, fail) -> list[tuple[float, float]]:
    if not isinstance(ring, list) or not ring:
        raise fail("ring is not a list of positions")
    points = []
    for index, position in enumerate(ring):
        if not isinstance(position, list) or len(position) < 2:
            raise fail(f"position {index} is not [longitude, latitude]: {position!r}")
        lon, lat = position[0], position[1]
        for value in (lon, lat):
            # bool is an int in Python but never a coordinate; strings like "113.38" are not numbers in JSON.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise fail(f"non-numeric coordinate {value!r} at position {index}")
        points.append((float(lon), float(lat)))
    return points

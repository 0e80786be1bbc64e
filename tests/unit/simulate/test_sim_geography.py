"""Every building lies inside its own grid polygon, and only there: ground truth is unambiguous."""

from __future__ import annotations

import json

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from community_dw.simulate.truth import read_truth

from .conftest import city_path


def _closed(ring: list) -> list:
    return ring if ring[0] == ring[-1] else [*ring, ring[0]]


def _geometry(geom: dict):
    if geom["type"] == "Polygon":
        return Polygon(_closed(geom["coordinates"][0]), [_closed(r) for r in geom["coordinates"][1:]])
    return MultiPolygon([Polygon(_closed(p[0]), [_closed(r) for r in p[1:]]) for p in geom["coordinates"]])


def test_buildings_fall_in_their_own_published_grid_only(small_city, rate_city) -> None:
    for city in (small_city, rate_city):
        doc = json.loads(city_path(city, "grid", "grids_20261101.geojson").read_text(encoding="utf-8"))
        polygons = {f["properties"]["grid_code"]: _geometry(f["geometry"]) for f in doc["features"]}
        codes = list(polygons)
        geoms = np.array([polygons[c] for c in codes], dtype=object)
        buildings = read_truth(city.out_dir, "buildings")
        points = shapely.points(buildings.longitude.to_numpy(), buildings.latitude.to_numpy())
        inside = np.stack([shapely.contains(g, points) for g in geoms])  # grids x buildings
        assert (inside.sum(axis=0) == 1).all(), "a building in no grid or in an overlap"
        assert (np.array(codes)[inside.argmax(axis=0)] == buildings.true_grid_code.to_numpy()).all()


def test_neighbouring_grids_overlap_by_a_few_metres(rate_city) -> None:
    grids = read_truth(rate_city.out_dir, "grids")
    published = shapely.from_wkt(grids.published_wkt.to_numpy())
    tree = shapely.STRtree(published)
    left, right = tree.query(published, predicate="intersects")
    pairs = left < right
    assert pairs.sum() > 0
    areas = shapely.area(shapely.intersection(published[left[pairs]], published[right[pairs]]))
    # degrees^2 -> m^2 at 22.5N: overlaps are thin strips, nothing like a whole grid
    m2 = areas * 110574 * 102800
    assert m2.max() < 6000 and m2.mean() > 10


def test_persons_live_in_buildings_of_their_grid(rate_city) -> None:
    persons = read_truth(rate_city.out_dir, "persons")
    buildings = read_truth(rate_city.out_dir, "buildings").set_index("building_code")
    assert (buildings.loc[persons.building_code, "true_grid_code"].to_numpy() == persons.grid_code.to_numpy()).all()
    households = buildings.households.sum()
    assert households == persons[persons.present_from_day == 1].household_no.nunique()

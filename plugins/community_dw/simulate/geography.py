"""The city's places: subdistricts, communities, grid polygons and building points around Zhongshan.

Grids are cells of a jittered lattice centred on 石岐, so neighbours share edges exactly; the grid
office's published polygons are those cells grown by a few metres (the overlaps SOURCES.md
promises), while buildings are placed at least `BUILDING_MARGIN_M` inside their true cell, so each
building falls in exactly one published polygon and the ground truth is unambiguous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from community_dw.simulate.identity import mobiles
from community_dw.simulate.names import han_names
from community_dw.simulate.reference import (
    CITY_CENTER,
    CITY_CODE,
    CITY_NAME,
    COMMUNITY_NAMES,
    ROADS,
    SUBDISTRICTS,
)

CELL_M = 350.0             # lattice spacing; ~400 households fit in high-rise Zhongshan blocks
JITTER = 0.18              # share of a cell interior vertices move, keeps every quad convex
OVERLAP_M = 3.0            # published polygons grow by this much: neighbours overlap by ~2x
ROAD_GAP_M = 16.0          # a MultiPolygon grid is split by a road this wide
BUILDING_MARGIN_M = 15.0   # buildings keep this far from their true cell edge
M_PER_DEG_LAT = 110574.0
M_PER_DEG_LON = 111320.0 * math.cos(math.radians(CITY_CENTER[1]))


@dataclass
class Geography:
    subdistricts: pd.DataFrame
    communities: pd.DataFrame
    grids: pd.DataFrame       # one row per grid, `geometry_m` the true cell in metres
    buildings: pd.DataFrame   # one row per building, true lon/lat and grid


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return CITY_CENTER[0] + x / M_PER_DEG_LON, CITY_CENTER[1] + y / M_PER_DEG_LAT


def geometry_to_lonlat(geom):
    """A shapely geometry in local metres -> WGS-84 degrees (equirectangular, fine at city scale)."""
    return shapely.transform(geom, lambda xy: np.column_stack(to_lonlat(xy[:, 0], xy[:, 1])))


def _community_names(n: int, rng: np.random.Generator) -> list[str]:
    names = [f"{stem}社区" for stem in COMMUNITY_NAMES]
    k = 0
    while len(names) < n:  # beyond the real-sounding list: combine stems, keep unique
        a, b = COMMUNITY_NAMES[k % len(COMMUNITY_NAMES)], COMMUNITY_NAMES[(k * 7 + 3) % len(COMMUNITY_NAMES)]
        candidate = f"{a[0]}{b[-1]}{'新村' if k % 3 == 0 else '社区'}"
        if candidate not in names:
            names.append(candidate)
        k += 1
        if k > 100000:
            names.append(f"第{len(names) + 1}社区")
    order = rng.permutation(len(COMMUNITY_NAMES))
    head = [names[i] for i in order]
    return (head + names[len(COMMUNITY_NAMES):])[:n]


def _serpentine(nx: int, ny: int) -> list[tuple[int, int]]:
    """Lattice cells in boustrophedon order so consecutive cells (one community) are adjacent."""
    return [(i if j % 2 == 0 else nx - 1 - i, j) for j in range(ny) for i in range(nx)]


def build_geography(n_households: int, residents: int, residents_per_community: int,
                    households_per_grid: int, rates, rng: np.random.Generator) -> Geography:
    """Lay out subdistricts → communities → grids → buildings for `n_households` households."""
    n_comm = max(1, round(residents / residents_per_community))
    n_grids = max(2 * n_comm, round(n_households / households_per_grid), 2)
    n_sub = max(1, math.ceil(n_comm / 8))
    sub_names = SUBDISTRICTS[:n_sub] if n_sub <= len(SUBDISTRICTS) else \
        SUBDISTRICTS + [f"第{i}街道" for i in range(len(SUBDISTRICTS) + 1, n_sub + 1)]
    subdistricts = pd.DataFrame({
        "subdistrict_code": [f"{CITY_CODE}{i + 1:03d}" for i in range(n_sub)],
        "subdistrict": sub_names,
    })
    comm_sub = np.minimum(np.arange(n_comm) * n_sub // n_comm, n_sub - 1)
    comm_seq = pd.Series(comm_sub).groupby(comm_sub).cumcount().to_numpy() + 1
    communities = pd.DataFrame({
        "community_code": [f"{subdistricts.subdistrict_code[s]}{k:03d}" for s, k in zip(comm_sub, comm_seq, strict=True)],
        "community": _community_names(n_comm, rng),
        "subdistrict_code": subdistricts.subdistrict_code.to_numpy()[comm_sub],
        "subdistrict": subdistricts.subdistrict.to_numpy()[comm_sub],
    })

    # grids: contiguous runs of lattice cells per community
    nx = math.ceil(math.sqrt(n_grids))
    ny = math.ceil(n_grids / nx)
    vx = (np.arange(nx + 1)[:, None] - nx / 2) * CELL_M + np.zeros((nx + 1, ny + 1))
    vy = (np.arange(ny + 1)[None, :] - ny / 2) * CELL_M + np.zeros((nx + 1, ny + 1))
    jit = rng.uniform(-JITTER, JITTER, (2, nx + 1, ny + 1)) * CELL_M
    jit[:, 0, :] = jit[:, -1, :] = 0
    jit[:, :, 0] = jit[:, :, -1] = 0
    vx, vy = vx + jit[0], vy + jit[1]
    cells = _serpentine(nx, ny)[:n_grids]
    grid_comm = np.minimum(np.arange(n_grids) * n_comm // n_grids, n_comm - 1)
    grid_seq = pd.Series(grid_comm).groupby(grid_comm).cumcount().to_numpy() + 1
    weights = rng.uniform(0.78, 1.22, n_grids)
    hh = np.floor(weights / weights.sum() * n_households).astype(int)
    hh[: n_households - hh.sum()] += 1
    # an exact share (not a coin per grid) so that even a four-grid city shows the shape it asks for
    multi = np.zeros(n_grids, dtype=bool)
    multi[rng.choice(n_grids, size=round(rates.grid_multipolygon * n_grids), replace=False)] = True
    geoms = []
    for g, (i, j) in enumerate(cells):
        quad = Polygon([(vx[i, j], vy[i, j]), (vx[i + 1, j], vy[i + 1, j]),
                        (vx[i + 1, j + 1], vy[i + 1, j + 1]), (vx[i, j + 1], vy[i, j + 1])])
        if multi[g]:
            mid = (quad.bounds[0] + quad.bounds[2]) / 2
            lo, hi = quad.bounds[1] - 1, quad.bounds[3] + 1
            west = quad.intersection(box(quad.bounds[0] - 1, lo, mid - ROAD_GAP_M / 2, hi))
            east = quad.intersection(box(mid + ROAD_GAP_M / 2, lo, quad.bounds[2] + 1, hi))
            geoms.append(MultiPolygon([west, east]))
        else:
            geoms.append(quad)
    comm_codes = communities.community_code.to_numpy()[grid_comm]
    worker_sex = np.where(rng.random(n_grids) < 0.6, "女", "男")
    grids = pd.DataFrame({
        "grid_code": [f"{c}{k:03d}" for c, k in zip(comm_codes, grid_seq, strict=True)],
        "grid_name": [f"{n}第{k}网格" for n, k in zip(communities.community.to_numpy()[grid_comm], grid_seq, strict=True)],
        "community_code": comm_codes,
        "community": communities.community.to_numpy()[grid_comm],
        "subdistrict": communities.subdistrict.to_numpy()[grid_comm],
        "grid_worker_name": han_names(n_grids, rng, sex=worker_sex),
        "grid_worker_phone": mobiles(n_grids, rng),
        "grid_leader_name": han_names(n_grids, rng),
        "households": hh,
        "cell_i": [c[0] for c in cells],
        "cell_j": [c[1] for c in cells],
        "is_multipolygon": multi,
        "geometry_m": geoms,
    })
    grids["road"] = np.array(ROADS, dtype=object)[rng.integers(0, len(ROADS), n_grids)]
    buildings = _place_buildings(grids, rng)
    return Geography(subdistricts, communities, grids, buildings)


def _building_sizes(total: int, rng: np.random.Generator) -> np.ndarray:
    """Households per building until `total` is covered: towers, mid-rise blocks and village houses."""
    sizes: list[int] = []
    left = total
    while left > 0:
        kind = rng.random()
        size = int(rng.integers(40, 151) if kind < 0.35 else rng.integers(12, 41) if kind < 0.75 else rng.integers(2, 13))
        size = min(size, left)
        sizes.append(size)
        left -= size
    return np.array(sizes, dtype=int)


def _points_inside(poly, k: int, rng: np.random.Generator) -> np.ndarray:
    """k random points strictly inside `poly` (rejection sampling in its bounding box)."""
    minx, miny, maxx, maxy = poly.bounds
    pts = np.empty((0, 2))
    while len(pts) < k:
        cand = np.column_stack([rng.uniform(minx, maxx, 4 * k + 8), rng.uniform(miny, maxy, 4 * k + 8)])
        inside = shapely.contains_xy(poly, cand[:, 0], cand[:, 1])
        pts = np.vstack([pts, cand[inside]])
    return pts[:k]


def _place_buildings(grids: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frames = []
    comm_counter: dict[str, int] = {}
    for g in grids.itertuples(index=False):
        sizes = _building_sizes(int(g.households), rng)
        inner = g.geometry_m.buffer(-BUILDING_MARGIN_M)
        xy = _points_inside(inner, len(sizes), rng)
        start = comm_counter.get(g.community_code, 0)
        comm_counter[g.community_code] = start + len(sizes)
        seq = np.arange(start + 1, start + len(sizes) + 1)
        lon, lat = to_lonlat(xy[:, 0], xy[:, 1])
        numbers = rng.choice(np.arange(1, 400), size=len(sizes), replace=len(sizes) > 399)
        tower = sizes >= 40
        addr = [f"广东省{CITY_NAME}{g.subdistrict}{g.road}{num}号" + (f"{k % 9 + 1}栋" if t else "")
                for num, t, k in zip(numbers, tower, seq, strict=True)]
        frames.append(pd.DataFrame({
            "building_code": [f"{g.community_code}{s:04d}" for s in seq],
            "address": addr,
            "longitude": np.round(lon, 6),
            "latitude": np.round(lat, 6),
            "grid_code": g.grid_code,
            "community_code": g.community_code,
            "community": g.community,
            "subdistrict": g.subdistrict,
            "households": sizes,
            "floors": np.where(tower, rng.integers(18, 34, len(sizes)), rng.integers(2, 8, len(sizes))),
        }))
    b = pd.concat(frames, ignore_index=True)
    b["head_name"] = han_names(len(b), rng)
    b["head_phone"] = mobiles(len(b), rng)
    return b

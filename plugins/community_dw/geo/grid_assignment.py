"""Place every building in the grid its point falls in (shapely), beside the grid it was registered to.

Neighbouring grid polygons overlap by a few metres, so a point can fall in two; it goes to the
grid whose boundary is farthest from it (the one it is most inside), and the overlap is flagged.
A point outside every grid keeps a null grid and is listed, not dropped.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from community_dw.warehouse.connection import raw_connection
from community_dw.warehouse.copy import copy_frame

#: Metres per degree at Zhongshan's latitude, for distances quoted in metres.
METRES_PER_DEGREE_LAT = 110_574.0


def assign_grids(building_lon: np.ndarray, building_lat: np.ndarray, grid_codes: list[str],
                 grid_wkt: list[str]) -> pd.DataFrame:
    """For each building point: spatial_grid_code, in_overlap (bool), outside_all_grids (bool)."""
    polygons = shapely.from_wkt(grid_wkt)
    points = shapely.points(building_lon, building_lat)
    tree = shapely.STRtree(polygons)
    point_idx, grid_idx = tree.query(points, predicate="within")
    chosen = np.full(len(points), -1)
    hits = np.bincount(point_idx, minlength=len(points)) if len(point_idx) else np.zeros(len(points), int)
    if len(point_idx):
        depth = shapely.distance(points[point_idx], shapely.boundary(polygons[grid_idx]))
        order = np.lexsort((-depth, point_idx))  # per point, deepest grid first
        first = np.unique(point_idx[order], return_index=True)[1]
        chosen[point_idx[order][first]] = grid_idx[order][first]
    codes = np.array(grid_codes, dtype=object)
    return pd.DataFrame({
        "spatial_grid_code": np.where(chosen >= 0, codes[np.maximum(chosen, 0)], None),
        "in_overlap": hits > 1,
        "outside_all_grids": hits == 0,
    })


def _read(conn, query: str) -> pd.DataFrame:
    buffer = io.StringIO()
    with conn.cursor() as cur:
        cur.copy_expert(f"copy ({query}) to stdout with (format csv, header true)", buffer)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype={"building_code": "string", "grid_code": "string",
                                      "registered_grid_code": "string"})


def build_core_building(engine: Engine) -> int:
    """Rebuild core.building from staging buildings and grids; returns the number of buildings."""
    with raw_connection(engine) as conn:
        grids = _read(conn, "select grid_code, geometry_wkt from staging.stg_grid__grid order by grid_code")
        buildings = _read(conn, "select building_code, address, address_key, longitude, latitude, coord_issue, "
                                "registered_grid_code, building_head_name, building_head_phone, household_count "
                                "from staging.stg_grid__building order by building_code")
        located = buildings["longitude"].notna() & buildings["latitude"].notna()
        placed = pd.DataFrame({"spatial_grid_code": pd.Series(None, index=buildings.index, dtype=object),
                               "in_overlap": False, "outside_all_grids": ~located})
        if located.any() and len(grids):
            found = assign_grids(buildings.loc[located, "longitude"].to_numpy(),
                                 buildings.loc[located, "latitude"].to_numpy(),
                                 grids["grid_code"].tolist(), grids["geometry_wkt"].tolist())
            found.index = buildings.index[located]
            placed.loc[located] = found
        building = pd.concat([buildings, placed], axis=1)
        building["grid_code"] = building["spatial_grid_code"]
        building["grid_disagrees"] = (building["registered_grid_code"].fillna("")
                                      != building["spatial_grid_code"].fillna("")) & building["grid_code"].notna()
        with conn.cursor() as cur:
            cur.execute("""
                drop table if exists core.building;
                create table core.building (
                    building_code text primary key, address text, address_key text,
                    longitude double precision, latitude double precision, coord_issue text,
                    grid_code text, registered_grid_code text, grid_disagrees boolean not null,
                    in_overlap boolean not null, outside_all_grids boolean not null,
                    building_head_name text, building_head_phone text, household_count integer);
                comment on table core.building is
                    '楼栋 — one row per building; grid_code is where its point falls, registered_grid_code what 所属网格 said';
            """)
        columns = ["building_code", "address", "address_key", "longitude", "latitude", "coord_issue", "grid_code",
                   "registered_grid_code", "grid_disagrees", "in_overlap", "outside_all_grids",
                   "building_head_name", "building_head_phone", "household_count"]
        building["household_count"] = building["household_count"].astype("Int64")
        return copy_frame(conn, "core.building", building, columns)

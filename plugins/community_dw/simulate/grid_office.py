"""Grid office deliveries: grid polygons as GeoJSON and the buildings register as XLSX.

Buildings sheet rows are numbered like public security rows: row 1 is the first row under the
header (Excel row 3, after the merged title row and the header row).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from community_dw.simulate.defects import DefectLog, DefectRates
from community_dw.simulate.geography import OVERLAP_M, Geography, geometry_to_lonlat
from community_dw.simulate.reference import CITY_NAME
from community_dw.simulate.xlsx import save_workbook

SOURCE = "grid"
BUILDING_HEADERS = ["楼栋编码", "楼栋地址", "经度", "纬度", "所属网格", "楼栋长", "楼栋长电话", "户数"]
BUILDINGS_HEADER_ROW = 2


def _coords(geom) -> list:
    """GeoJSON coordinates of a (Multi)Polygon, rounded to 7 decimals (~1 cm)."""
    def ring(r):
        return [[round(x, 7), round(y, 7)] for x, y in r.coords]

    def poly(p):
        return [ring(p.exterior)] + [ring(i) for i in p.interiors]

    if geom.geom_type == "MultiPolygon":
        return [poly(p) for p in geom.geoms]
    return poly(geom)


def write_grids(geo: Geography, landing: Path, date: pd.Timestamp, rates: DefectRates, rng: np.random.Generator,
                log: DefectLog) -> tuple[Path, pd.DataFrame]:
    """grids_YYYYMMDD.geojson; returns its path and the grid truth (true and published WKT)."""
    path = landing / SOURCE / f"grids_{date:%Y%m%d}.geojson"
    path.parent.mkdir(parents=True, exist_ok=True)
    true_ll = [geometry_to_lonlat(g) for g in geo.grids.geometry_m]
    # the office digitised each grid a little generously: neighbours overlap by ~2 * OVERLAP_M
    published = [geometry_to_lonlat(g.buffer(OVERLAP_M, join_style="mitre")) for g in geo.grids.geometry_m]
    unclosed = rng.random(len(published)) < rates.grid_unclosed_ring
    features = []
    for k, g in enumerate(geo.grids.itertuples(index=False)):
        coords = _coords(published[k])
        if unclosed[k]:
            first_poly = coords[0] if g.is_multipolygon else coords
            first_poly[0].pop()  # drop the closing position of the outer ring
        features.append({
            "type": "Feature",
            "geometry": {"type": "MultiPolygon" if g.is_multipolygon else "Polygon", "coordinates": coords},
            "properties": {
                "grid_code": g.grid_code, "grid_name": g.grid_name, "community": g.community,
                "subdistrict": g.subdistrict, "grid_worker_name": g.grid_worker_name,
                "grid_worker_phone": g.grid_worker_phone, "grid_leader_name": g.grid_leader_name,
            },
        })
    doc = {"type": "FeatureCollection", "name": f"{CITY_NAME}网格", "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    codes = geo.grids.grid_code.to_numpy()
    log.add(SOURCE, path.name, codes[unclosed], "geometry", "unclosed_ring")
    log.add(SOURCE, path.name, codes[geo.grids.is_multipolygon.to_numpy()], "geometry", "multipolygon")
    truth = geo.grids.drop(columns=["geometry_m"]).assign(
        true_wkt=shapely.to_wkt(np.array(true_ll, dtype=object), rounding_precision=7),
        published_wkt=shapely.to_wkt(np.array(published, dtype=object), rounding_precision=7),
        unclosed_ring=unclosed,
    )
    return path, truth


def write_buildings(geo: Geography, landing: Path, date: pd.Timestamp, rates: DefectRates, rng: np.random.Generator,
                    log: DefectLog) -> tuple[Path, pd.DataFrame]:
    """buildings_YYYYMMDD.xlsx: merged title row, header row, one row per building; returns path and truth."""
    from openpyxl import Workbook

    path = landing / SOURCE / f"buildings_{date:%Y%m%d}.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    b = geo.buildings.sort_values(["grid_code", "building_code"]).reset_index(drop=True)
    n = len(b)
    grid_codes = geo.grids.grid_code.to_numpy()
    grid_pos = pd.Series(np.arange(len(grid_codes)), index=grid_codes)
    true_grid = b.grid_code.to_numpy(dtype=object)
    merged_grids = set(grid_codes[rng.random(len(grid_codes)) < rates.building_merged_cells])
    in_merged = b.grid_code.isin(merged_grids).to_numpy() & (b.groupby("grid_code").grid_code.transform("size") > 1).to_numpy()
    registered = true_grid.copy()
    u = rng.random(n)
    blank = ~in_merged & (u < rates.building_grid_blank)
    stale = ~in_merged & (u >= rates.building_grid_blank) & (u < rates.building_grid_blank + rates.building_grid_stale)
    # stale: the code of the neighbouring grid (the register was not updated after a boundary change)
    gp = grid_pos.loc[true_grid[stale]].to_numpy()
    neighbour = np.where(gp + 1 < len(grid_codes), gp + 1, gp - 1)
    registered[stale] = grid_codes[neighbour]
    registered[blank] = ""
    row_number = np.arange(1, n + 1)
    keys = b.building_code.to_numpy()
    log.add(SOURCE, path.name, keys[blank], "所属网格", "blank", true_grid[blank], registered[blank])
    log.add(SOURCE, path.name, keys[stale], "所属网格", "stale_grid_code", true_grid[stale], registered[stale])
    log.add(SOURCE, path.name, keys[in_merged], "所属网格", "merged_cell", true_grid[in_merged], true_grid[in_merged])

    wb = Workbook()
    ws = wb.active
    ws.title = "楼栋信息"
    subs = b.subdistrict.unique()
    ws.append([f"{CITY_NAME}{subs[0] if len(subs) == 1 else ''}楼栋信息登记表"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(BUILDING_HEADERS))
    ws.append(BUILDING_HEADERS)
    cols = [keys, b.address.to_numpy(), b.longitude.to_numpy(), b.latitude.to_numpy(), registered,
            b.head_name.to_numpy(), b.head_phone.to_numpy(), b.households.to_numpy()]
    for row in zip(*cols, strict=True):
        ws.append([v.item() if isinstance(v, np.generic) else v for v in row])
    # merged 所属网格 cells: one value spanning the grid's consecutive rows, as clerks lay it out
    col = BUILDING_HEADERS.index("所属网格") + 1
    first_row = BUILDINGS_HEADER_ROW + 1
    merged_rows = pd.Series(np.arange(n))[in_merged]
    for _, rows in merged_rows.groupby(b.grid_code[in_merged]):
        start, end = first_row + int(rows.min()), first_row + int(rows.max())
        if end > start:
            ws.merge_cells(start_row=start, start_column=col, end_row=end, end_column=col)
    save_workbook(wb, path, date.to_pydatetime().replace(hour=8))
    truth = pd.DataFrame({
        "building_code": keys, "row_number": row_number, "sheet_row": row_number + BUILDINGS_HEADER_ROW,
        "true_grid_code": true_grid, "registered_grid_code": registered, "merged_cell": in_merged,
        "longitude": b.longitude.to_numpy(), "latitude": b.latitude.to_numpy(), "address": b.address.to_numpy(),
        "community_code": b.community_code.to_numpy(), "community": b.community.to_numpy(),
        "subdistrict": b.subdistrict.to_numpy(), "households": b.households.to_numpy(),
    })
    return path, truth

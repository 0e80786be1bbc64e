"""Grid GeoJSON deliveries: properties, MultiPolygon WKT, repaired rings and every bad input."""

from __future__ import annotations

import json

import pytest
import shapely

from community_dw.sources.delivery import DeliveryError
from community_dw.sources.geojson import read_grids_geojson
from community_dw.sources.mapping import load_mapping

MAPPING = load_mapping("grid_grids")
SQUARE = [[113.0, 22.0], [113.01, 22.0], [113.01, 22.01], [113.0, 22.01], [113.0, 22.0]]


def _properties(code, **more):
    return {"grid_code": code, "grid_name": f"{code}网格", "community": "第一社区", "subdistrict": "石岐街道",
            "grid_worker_name": "张网格", "grid_worker_phone": "13800138000", "grid_leader_name": "李网格长", **more}


def _feature(code, geometry, **more):
    return {"type": "Feature", "properties": _properties(code, **more), "geometry": geometry}


def _write(tmp_path, document, name="grids_20261101.geojson"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document, ensure_ascii=False),
                    encoding="utf-8")
    return path


def _read(tmp_path, features):
    return read_grids_geojson(_write(tmp_path, {"type": "FeatureCollection", "features": features}), MAPPING)


def test_polygons_become_multipolygon_wkt(tmp_path):
    shifted = [[x + 0.05, y] for x, y in SQUARE]
    parsed = _read(tmp_path, [
        _feature("WG001", {"type": "Polygon", "coordinates": [SQUARE]}),
        _feature("WG002", {"type": "MultiPolygon", "coordinates": [[SQUARE], [shifted]]}),
    ])
    frame = parsed.frame
    assert parsed.columns == ["grid_code", "grid_name", "community", "subdistrict", "grid_worker_name",
                              "grid_worker_phone", "grid_leader_name", "geometry_wkt", "geometry_issue"]
    assert frame["source_row"].tolist() == [1, 2]
    assert frame["grid_worker_phone"].tolist() == ["13800138000", "13800138000"]
    first = shapely.from_wkt(frame["geometry_wkt"].iloc[0])
    assert first.geom_type == "MultiPolygon" and first.equals(shapely.Polygon(SQUARE))
    assert "113.01" in frame["geometry_wkt"].iloc[0]  # full precision, not rounded
    assert len(shapely.from_wkt(frame["geometry_wkt"].iloc[1]).geoms) == 2
    assert frame["geometry_issue"].isna().all()
    assert parsed.drift == {"unknown_columns": [], "missing_optional": []}


def test_unclosed_ring_is_closed_and_flagged(tmp_path):
    parsed = _read(tmp_path, [_feature("WG001", {"type": "Polygon", "coordinates": [SQUARE[:-1]]})])
    assert parsed.frame["geometry_issue"].tolist() == ["ring_closed"]
    assert shapely.from_wkt(parsed.frame["geometry_wkt"].iloc[0]).equals(shapely.Polygon(SQUARE))


def test_self_intersecting_polygon_is_made_valid_and_flagged(tmp_path):
    bowtie = [[0, 0], [1, 1], [1, 0], [0, 1]]  # unclosed as well
    parsed = _read(tmp_path, [_feature("WG009", {"type": "Polygon", "coordinates": [bowtie]})])
    assert parsed.frame["geometry_issue"].tolist() == ["ring_closed;made_valid"]
    shape = shapely.from_wkt(parsed.frame["geometry_wkt"].iloc[0])
    assert shape.geom_type == "MultiPolygon" and shape.is_valid and shape.area == pytest.approx(0.5)


def test_unknown_property_goes_to_extra_and_missing_one_is_drift(tmp_path):
    feature = _feature("WG001", {"type": "Polygon", "coordinates": [SQUARE]}, area_m2=1234.5)
    del feature["properties"]["grid_leader_name"]
    parsed = _read(tmp_path, [feature])
    assert parsed.drift == {"unknown_columns": ["area_m2"], "missing_optional": ["grid_leader_name"]}
    assert json.loads(parsed.frame["extra"].iloc[0]) == {"area_m2": "1234.5"}


def test_empty_collection(tmp_path):
    parsed = _read(tmp_path, [])
    assert parsed.rows_read == 0


@pytest.mark.parametrize("bad", ["113.0", None, True, [113.0]])
def test_non_numeric_coordinates(tmp_path, bad):
    ring = [list(p) for p in SQUARE]
    ring[2] = ["113.01", 22.01] if bad == "113.0" else [bad, 22.01] if bad is not True else [113.01, True]
    if bad == [113.0]:
        ring[2] = [113.0]
    features = [_feature("WG001", {"type": "Polygon", "coordinates": [SQUARE]}),
                _feature("WG002", {"type": "Polygon", "coordinates": [ring]})]
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, features)
    error = caught.value
    assert (error.row, error.column) == (2, "geometry")
    assert "grid_code WG002" in str(error) and "position 2" in str(error)


@pytest.mark.parametrize("geometry", [
    {"type": "Point", "coordinates": [113.0, 22.0]},
    {"type": "LineString", "coordinates": SQUARE},
    None,
])
def test_non_polygon_geometry(tmp_path, geometry):
    features = [_feature("WG001", {"type": "Polygon", "coordinates": [SQUARE]}), _feature("WG002", geometry)]
    with pytest.raises(DeliveryError) as caught:
        _read(tmp_path, features)
    assert caught.value.row == 2 and "WG002" in str(caught.value)


def test_ring_too_short(tmp_path):
    with pytest.raises(DeliveryError, match="at least 4"):
        _read(tmp_path, [_feature("WG001", {"type": "Polygon", "coordinates": [SQUARE[:2]]})])


def test_invalid_json(tmp_path):
    path = _write(tmp_path, '{"type": "FeatureCollection", "features": [')
    with pytest.raises(DeliveryError, match="invalid JSON"):
        read_grids_geojson(path, MAPPING)


def test_html_error_page(tmp_path):
    with pytest.raises(DeliveryError, match="invalid JSON"):
        read_grids_geojson(_write(tmp_path, "<html>502 Bad Gateway</html>"), MAPPING)


@pytest.mark.parametrize("document", [
    {"type": "Feature", "properties": {}, "geometry": None},
    [1, 2],
    {"type": "FeatureCollection"},
])
def test_not_a_feature_collection(tmp_path, document):
    with pytest.raises(DeliveryError, match="FeatureCollection"):
        read_grids_geojson(_write(tmp_path, document), MAPPING)


def test_empty_file(tmp_path):
    with pytest.raises(DeliveryError, match="empty file"):
        read_grids_geojson(_write(tmp_path, ""), MAPPING)


def test_missing_grid_code_property(tmp_path):
    feature = _feature("WG001", {"type": "Polygon", "coordinates": [SQUARE]})
    del feature["properties"]["grid_code"]
    with pytest.raises(DeliveryError, match=r"grid_code \(grid_code\)"):
        _read(tmp_path, [feature])

"""Small simulated cities shared by the simulator tests (generated once per session, no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from community_dw.simulate.city import CityResult, generate_city
from community_dw.simulate.config import SimConfig


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> CityResult:
    """Five days, so every delivery format turns up once; grid defects forced on to be testable."""
    cfg = SimConfig(residents=4000, seed=7, days=5)
    cfg.defects = cfg.defects.override(grid_unclosed_ring=0.5, grid_multipolygon=0.5, building_merged_cells=0.5,
                                       delivery_resent=1.0)
    return generate_city(tmp_path_factory.mktemp("small_city"), cfg)


@pytest.fixture(scope="session")
def rate_city(tmp_path_factory: pytest.TempPathFactory) -> CityResult:
    """Large enough that planted rates can be measured within a few standard errors."""
    return generate_city(tmp_path_factory.mktemp("rate_city"), SimConfig(residents=40000, seed=11, days=2))


def city_path(city: CityResult, *parts: str) -> Path:
    return Path(city.out_dir, *parts)

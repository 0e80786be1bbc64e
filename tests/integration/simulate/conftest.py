"""A small city for the API and health-database tests."""

from __future__ import annotations

import pytest

from community_dw.simulate.city import CityResult, generate_city
from community_dw.simulate.config import SimConfig


@pytest.fixture(scope="module")
def api_city(tmp_path_factory: pytest.TempPathFactory) -> CityResult:
    return generate_city(tmp_path_factory.mktemp("api_city"), SimConfig(residents=3000, seed=5, days=3))

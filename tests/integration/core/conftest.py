"""The simulated city of the mart tests, built once for this package too (person history vs truth)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.marts.city import BuiltCity, built_city
from tests.integration.marts.truth_figures import Truth


@pytest.fixture(scope="package")
def city(pg_server_url: str, migrated_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltCity]:
    with built_city(pg_server_url, migrated_template, tmp_path_factory.mktemp("core_city")) as built:
        yield built


@pytest.fixture(scope="package")
def truth(city: BuiltCity) -> Truth:
    return Truth.load(city.landing)

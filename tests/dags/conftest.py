"""One DagBag for the whole session, parsed from the absolute dags folder with examples off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="session")
def dag_bag():
    # Parsing must not need a metadata database or any connection; a throwaway home proves it.
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))

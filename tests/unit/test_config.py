"""The warehouse URL resolution order: CDW_WAREHOUSE_URL, Airflow connection, embedded server."""

from __future__ import annotations

import json

import pytest

from community_dw import config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDW_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_CDW_WAREHOUSE", raising=False)


def test_env_url_wins_over_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDW_WAREHOUSE_URL", "postgresql://a@h1:5432/one")
    monkeypatch.setenv("AIRFLOW_CONN_CDW_WAREHOUSE", "postgres://b@h2:5432/two")
    resolved = config.resolve_warehouse_url()
    assert resolved == config.ResolvedUrl("postgresql+psycopg2://a@h1:5432/one", "env:CDW_WAREHOUSE_URL")


def test_airflow_connection_uri_is_used_when_no_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CDW_WAREHOUSE", "postgres://b@h2:5432/two")
    resolved = config.resolve_warehouse_url(start_embedded=False)
    assert resolved == config.ResolvedUrl("postgresql+psycopg2://b@h2:5432/two", "airflow:cdw_warehouse")


def test_airflow_connection_json_form(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "postgres", "login": "loader", "password": "p@ss", "host": "db", "port": 5432,
            "schema": "cdw"}
    monkeypatch.setenv("AIRFLOW_CONN_CDW_WAREHOUSE", json.dumps(conn))
    assert config.resolve_warehouse_url(start_embedded=False).url == (
        "postgresql+psycopg2://loader:p%40ss@db:5432/cdw"
    )


def test_without_either_the_embedded_server_is_refused_when_not_allowed() -> None:
    with pytest.raises(RuntimeError, match="no warehouse configured"):
        config.resolve_warehouse_url(start_embedded=False)


def test_embedded_server_is_the_last_resort(pg_server_url: str) -> None:
    import os

    if os.environ.get("CDW_TEST_DATABASE_URL"):
        pytest.skip("the suite runs against an external server; the embedded one is not started")
    resolved = config.resolve_warehouse_url()
    assert resolved.origin == "embedded"
    assert resolved.url.startswith("postgresql+psycopg2://postgres@127.0.0.1:")

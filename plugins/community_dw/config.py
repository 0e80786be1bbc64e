"""Settings from the environment (and Airflow connections), resolved in one place."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

TIMEZONE = "Asia/Shanghai"

#: The project checkout: plugins/community_dw/config.py -> two levels up.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def state_dir() -> Path:
    """Git-ignored folder for the embedded server, Airflow home and run outputs."""
    return Path(os.environ.get("CDW_STATE_DIR", PROJECT_ROOT / ".cdw"))


def landing_dir() -> Path:
    """Where departments drop files and where the landing archive lives."""
    return Path(os.environ.get("CDW_LANDING_DIR", state_dir() / "landing"))


def output_dir() -> Path:
    """Exports, reports and Data Docs that people open."""
    return Path(os.environ.get("CDW_OUTPUT_DIR", state_dir() / "out"))


def sql_dir() -> Path:
    return PROJECT_ROOT / "sql"


@dataclass(frozen=True)
class ResolvedUrl:
    """A database URL and where it came from, so commands can say which warehouse they use."""

    url: str
    origin: str  # "env:CDW_WAREHOUSE_URL", "airflow:cdw_warehouse" or "embedded"


def airflow_connection_uri(conn_id: str) -> str | None:
    """The URI of an Airflow connection, or None when Airflow does not define it.

    The environment form (AIRFLOW_CONN_<ID>) is read directly so a plain `cdw` command does not
    pay for importing Airflow; inside an Airflow process (airflow already imported) the SDK is asked,
    which also covers connections kept in the metadata database or a secrets backend.
    """
    env_value = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if env_value:
        if env_value.lstrip().startswith("{"):
            import json

            return _uri_from_json(json.loads(env_value))
        return env_value
    if "airflow" not in sys.modules:
        return None
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id).get_uri()
    except Exception:  # not defined, or no API server reachable outside a task
        return None


def _uri_from_json(conn: dict) -> str:
    login = quote(conn.get("login") or "", safe="")
    password = quote(conn.get("password") or "", safe="")
    auth = f"{login}:{password}@" if password else (f"{login}@" if login else "")
    port = f":{conn['port']}" if conn.get("port") else ""
    scheme = conn.get("conn_type", "postgres")
    return f"{scheme}://{auth}{conn.get('host', '')}{port}/{conn.get('schema', '')}"


def normalize_postgres_url(url: str) -> str:
    """SQLAlchemy wants postgresql+psycopg2://; Airflow writes postgres:// or postgresql://."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def resolve_warehouse_url(start_embedded: bool = True) -> ResolvedUrl:
    """CDW_WAREHOUSE_URL, else the Airflow connection cdw_warehouse, else the embedded server."""
    if url := os.environ.get("CDW_WAREHOUSE_URL"):
        return ResolvedUrl(normalize_postgres_url(url), "env:CDW_WAREHOUSE_URL")
    if url := airflow_connection_uri("cdw_warehouse"):
        return ResolvedUrl(normalize_postgres_url(url), "airflow:cdw_warehouse")
    if not start_embedded:
        raise RuntimeError("no warehouse configured: set CDW_WAREHOUSE_URL or the cdw_warehouse connection")
    from community_dw.warehouse import embedded

    return ResolvedUrl(embedded.ensure_database("cdw"), "embedded")

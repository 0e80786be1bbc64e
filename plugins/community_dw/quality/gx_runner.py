"""Great Expectations plumbing: runs a list of expectations against one PostgreSQL table and builds Data Docs.

Only this module imports great_expectations (about 3 s): gate.py imports it when a gate runs, so
DAG parsing and summaries stay fast.

Context choice: an *ephemeral* GX context per gate run, with the datasource defined in memory (the
warehouse URL and its password are never written to a great_expectations.yml), but with the
expectation-suite and validation-result stores on disk under ``output_dir()/gx``. Data Docs are
rendered from those stores, so keeping them on disk is what lets ``output_dir()/data_docs/index.html``
list every suite and the recent runs of every gate rather than only the current process's. Old
results beyond ``KEEP_RESULTS_PER_SUITE`` are pruned (and their pages with them) on each run.
The checks themselves run in PostgreSQL (GX's SQLAlchemy execution engine); no table is pulled into
pandas. Only up to ``SAMPLE_SIZE`` offending values/rows per expectation leave the database.
"""

from __future__ import annotations

import fcntl
import logging
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from community_dw.quality.suites import ExpectationSpec, SuiteSpec

SAMPLE_SIZE = 5
KEEP_RESULTS_PER_SUITE = 30
DATASOURCE_NAME = "warehouse"
SITE_NAME = "community_dw"

log = logging.getLogger(__name__)


def quiet_gx_logging(level: int = logging.WARNING) -> None:
    """GX logs every metric batch and store write at INFO (Airflow's structlog forwards all of it);
    we keep its warnings and errors only."""
    for name in ("great_expectations", "great_expectations.core", "posthog"):
        logging.getLogger(name).setLevel(level)


@cache
def _gx() -> Any:
    quiet_gx_logging()
    import great_expectations as gx

    quiet_gx_logging()  # GX may install handlers or levels while importing
    _share_compiled_templates()
    return gx


def _share_compiled_templates() -> None:
    """Let every Data Docs renderer reuse the Jinja templates compiled once in this process.

    GX makes a fresh Jinja environment per view, so each gate run compiled the same hundred templates
    again: about half of a small gate's time. A shared bytecode cache (a Jinja feature) skips that.
    """
    import jinja2
    from great_expectations.render.view.view import DefaultJinjaView

    class MemoryBytecodeCache(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self.compiled: dict[str, bytes] = {}

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if (code := self.compiled.get(bucket.key)) is not None:
                bucket.bytecode_from_string(code)

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            self.compiled[bucket.key] = bucket.bytecode_to_string()

    shared = MemoryBytecodeCache()
    make_view = DefaultJinjaView.__init__

    def init_with_shared_cache(self: Any, *args: Any, **kwargs: Any) -> None:
        make_view(self, *args, **kwargs)
        self.env.bytecode_cache = shared

    DefaultJinjaView.__init__ = init_with_shared_cache


@dataclass
class CheckOutcome:
    """What GX said about one expectation, in the suite's order."""

    spec: ExpectationSpec
    success: bool
    result: dict[str, Any]
    exception: str | None = None


@dataclass
class ValidationOutcome:
    checks: list[CheckOutcome]
    data_docs_index: Path | None
    data_docs_page: Path | None
    docs_error: str | None = None


def _store(base_directory: Path) -> dict[str, Any]:
    return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(base_directory)}


def build_context(store_root: Path, docs_dir: Path) -> Any:
    """An ephemeral context whose suites and results (and Data Docs) live on disk."""
    gx = _gx()
    from great_expectations.data_context.types.base import DataContextConfig

    memory = {"class_name": "InMemoryStoreBackend"}
    config = DataContextConfig(
        stores={
            "expectations_store": {"class_name": "ExpectationsStore",
                                   "store_backend": _store(store_root / "expectations")},
            "validation_results_store": {"class_name": "ValidationResultsStore",
                                         "store_backend": _store(store_root / "validations")},
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": memory},
            "validation_definition_store": {"class_name": "ValidationDefinitionStore",
                                            "store_backend": memory},
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": _store(docs_dir),
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                                       "validation_results_limit": 500},
            }
        },
        analytics_enabled=False,
        progress_bars={"globally": False},
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def gx_expectation(spec: ExpectationSpec, index: int) -> Any:
    """The GX Expectation object for one spec; the index travels in meta to match results back."""
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        cls = get_expectation_impl(spec.type)
    except Exception as exc:
        raise ValueError(f"unknown Great Expectations expectation type {spec.type!r}") from exc
    extra: dict[str, Any] = {"severity": spec.severity, "meta": {"cdw_index": index}}
    if spec.notes:
        extra["notes"] = spec.notes
    return cls(**spec.kwargs, **extra)


def gx_suite(suite: SuiteSpec, specs: list[ExpectationSpec]) -> Any:
    gx = _gx()
    return gx.ExpectationSuite(
        name=suite.name,
        expectations=[gx_expectation(spec, i) for i, spec in enumerate(specs)],
        meta={"table": suite.table, "grain": suite.grain,
              **({"description": suite.description} if suite.description else {})},
    )


def batch_query(suite: SuiteSpec, load_id: int | None) -> str:
    """The rows a gate checks: the whole table, or one load's rows when the suite has a load_column.

    int() keeps the load id a literal number: nothing from outside reaches the SQL text.
    """
    sql = f'select * from "{suite.schema_name}"."{suite.table_name}"'
    if suite.load_column and load_id is not None:
        sql += f' where "{suite.load_column}" = {int(load_id)}'
    return sql


def sample_unexpected_rows(conn: Any, suite: SuiteSpec, load_id: int | None, query: str,
                           limit: int = SAMPLE_SIZE) -> list[dict[str, Any]]:
    """A few rows of a failed unexpected_rows_expectation (GX returns only their count in SUMMARY).

    {batch} becomes an unaliased subquery (PostgreSQL 16+), so "{batch} b" and "{batch} where" both work.
    """
    import sqlalchemy as sa

    sql = query.replace("{batch}", f"({batch_query(suite, load_id)})")
    rows = conn.execute(sa.text(f"select * from ({sql}) as unexpected limit {int(limit)}"))
    return [dict(row._mapping) for row in rows]


def _run_name(run_id: str | None, load_id: int | None) -> str:
    """GX files results under the run name: keep it to path-safe characters."""
    raw = run_id or (f"load_{load_id}" if load_id is not None else "manual")
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", raw)[:120]


def _file_path(url: str | None) -> Path | None:
    if not url:
        return None
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme in ("file", "") else None


@contextmanager
def _suite_lock(store_root: Path, suite_name: str) -> Iterator[None]:
    """One gate of a suite at a time on this store. Two processes saving the same suite file race: the
    second rewrites its expectation ids and GX then refuses the first one's validation definition
    ("has changed since it has last been saved")."""
    store_root.mkdir(parents=True, exist_ok=True)
    with open(store_root / f".{suite_name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def validate(url: str, suite: SuiteSpec, specs: list[ExpectationSpec], *, store_root: Path, docs_dir: Path,
             load_id: int | None = None, run_id: str | None = None) -> ValidationOutcome:
    """Run `specs` against the suite's table (only rows of `load_id` when the suite has a load_column)."""
    with _suite_lock(store_root, suite.name):
        return _validate(url, suite, specs, store_root=store_root, docs_dir=docs_dir, load_id=load_id,
                         run_id=run_id)


def _validate(url: str, suite: SuiteSpec, specs: list[ExpectationSpec], *, store_root: Path, docs_dir: Path,
              load_id: int | None, run_id: str | None) -> ValidationOutcome:
    gx = _gx()
    from great_expectations.core.run_identifier import RunIdentifier

    context = build_context(store_root, docs_dir)
    datasource = context.data_sources.add_postgres(DATASOURCE_NAME, connection_string=url)
    if suite.load_column and load_id is not None:
        asset = datasource.add_query_asset(suite.table, query=batch_query(suite, load_id))
    else:
        asset = datasource.add_table_asset(suite.table, table_name=suite.table_name,
                                           schema_name=suite.schema_name)
    batch_definition = asset.add_batch_definition_whole_table("whole_table")
    gx_suite_obj = context.suites.add_or_update(gx_suite(suite, specs))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=gx_suite_obj)
    )
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
    if suite.key_columns:
        result_format["unexpected_index_column_names"] = list(suite.key_columns)
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=suite.name, validation_definitions=[definition], result_format=result_format)
    )
    checkpoint_result = checkpoint.run(run_id=RunIdentifier(run_name=_run_name(run_id, load_id)))
    (result_key, suite_result), = checkpoint_result.run_results.items()

    checks: list[CheckOutcome | None] = [None] * len(specs)
    for item in suite_result.results:
        index = (item.expectation_config.meta or {}).get("cdw_index")
        info = item.exception_info or {}
        exception = info.get("exception_message") if info.get("raised_exception") else None
        checks[index] = CheckOutcome(spec=specs[index], success=bool(item.success),
                                     result=dict(item.result or {}), exception=exception)
    missing = [specs[i].type for i, c in enumerate(checks) if c is None]
    if missing:
        raise RuntimeError(f"suite {suite.name}: GX returned no result for {missing}")

    index_path = page_path = None
    docs_error = None
    try:
        _prune_results(context, suite.name)
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[
            result_key, ExpectationSuiteIdentifier(name=suite.name)])
        index_path = docs_dir / "index.html"
        page_path = _file_path(context.get_docs_sites_urls(resource_identifier=result_key,
                                                           site_name=SITE_NAME)[0]["site_url"])
    except Exception as exc:  # Data Docs are for people; a rendering bug must not decide a gate
        docs_error = f"{type(exc).__name__}: {exc}"
        log.warning("Data Docs not updated for suite %s: %s", suite.name, docs_error)
    return ValidationOutcome(checks=[c for c in checks if c is not None], data_docs_index=index_path,
                             data_docs_page=page_path, docs_error=docs_error)


def _prune_results(context: Any, suite_name: str, keep: int = KEEP_RESULTS_PER_SUITE) -> None:
    """Keep the newest `keep` stored results of this suite; the docs index drops pages without one."""
    store = context.validation_results_store
    by_suite: dict[str, list[Any]] = defaultdict(list)
    for key in store.list_keys():
        by_suite[key.expectation_suite_identifier.name].append(key)
    keys = sorted(by_suite.get(suite_name, []), key=lambda k: k.run_id.run_time, reverse=True)
    for key in keys[keep:]:
        store.remove_key(key)

"""The data dictionary (docs/data-dictionary.md), generated from the warehouse's own catalogue.

The database is the source: table and column comments (Chinese label — meaning) are written by the
SQL that builds each table, so the document cannot drift from what is built. The grain of a table
comes from its SQL file's `Grain:` line (sql/<layer>/<table>.sql) where there is one, else from the
"one row per …" phrase of its comment. The output holds no timestamps or row counts: the same
warehouse structure always renders the same bytes, which lets a test compare it with the committed
file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
import typer

#: Layers in flow order (ARCHITECTURE.md); each is a PostgreSQL schema.
SCHEMAS = ("raw", "staging", "quarantine", "core", "mart", "outreach", "published")
SCHEMA_ROLES = {
    "raw": "exactly what arrived (all text), plus load_id and the source row number",
    "staging": "one typed, standardized row per usable source record",
    "quarantine": "one row per unusable source record, with its reason code",
    "core": "the conformed model: resolved persons, places, facilities, doses, history",
    "mart": "what departments read: coverage, key populations, facility access, workload",
    "outreach": "what community staff act on: prioritized lists, feedback",
    "published": "department-facing copies: masked, pseudonymous, row-level secured",
}
DEFAULT_PATH = Path("docs") / "data-dictionary.md"
KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view"}

CATALOGUE_QUERY = """
select n.nspname as schema_name, c.relname as table_name, c.relkind as kind,
       coalesce(obj_description(c.oid, 'pg_class'), '') as table_comment,
       a.attnum as position, a.attname as column_name,
       format_type(a.atttypid, a.atttypmod) as data_type, a.attnotnull as not_null,
       coalesce(col_description(c.oid, a.attnum), '') as column_comment
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where n.nspname = any(:schemas) and c.relkind in ('r', 'p', 'v', 'm') and not c.relispartition
order by n.nspname, c.relname, a.attnum
"""


@dataclass
class Column:
    name: str
    data_type: str
    not_null: bool
    comment: str


@dataclass
class Table:
    schema: str
    name: str
    kind: str
    comment: str
    columns: list[Column] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def read_catalogue(engine: sa.Engine, schemas: tuple[str, ...] = SCHEMAS) -> list[Table]:
    """Every table and view of the schemas with its comment and columns, in a stable order."""
    tables: dict[tuple[str, str], Table] = {}
    with engine.connect() as conn:
        for row in conn.execute(sa.text(CATALOGUE_QUERY), {"schemas": list(schemas)}).mappings():
            key = (row["schema_name"], row["table_name"])
            if key not in tables:
                tables[key] = Table(row["schema_name"], row["table_name"], KINDS[row["kind"]], row["table_comment"])
            tables[key].columns.append(Column(row["column_name"], row["data_type"], row["not_null"],
                                              row["column_comment"]))
    order = {schema: i for i, schema in enumerate(schemas)}
    return sorted(tables.values(), key=lambda t: (order[t.schema], t.name))


def grain_of(table: Table, sql_root: Path | None = None) -> str:
    """The table's grain: the `Grain:` line of its SQL file, else "one row per …" from its comment."""
    if sql_root is None:
        from community_dw.config import sql_dir

        sql_root = sql_dir()
    path = sql_root / table.schema / f"{table.name}.sql"
    if path.exists():
        for statement in _file_grains(path.read_text(encoding="utf-8")):
            if statement[0] == table.name:
                return statement[1]
    match = re.search(r"(one row per [^:]+)", table.comment)
    return match.group(1).strip() if match else ""


def _file_grains(text: str) -> list[tuple[str, str]]:
    """(table name, grain) for each `-- <schema>.<table>: …` header with a `Grain:` line under it."""
    grains: list[tuple[str, str]] = []
    current: str | None = None
    for line in text.splitlines():
        header = re.match(r"--\s*\w+\.(\w+):", line)
        if header:
            current = header.group(1)
        grain = re.search(r"Grain:\s*(.+?)(;|\.\s|\.$|$)", line)
        if grain and current:
            grains.append((current, grain.group(1).strip().rstrip(".")))
    return grains


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "—"


def render_data_dictionary(engine: sa.Engine, schemas: tuple[str, ...] = SCHEMAS,
                           sql_root: Path | None = None) -> str:
    """The whole document as Markdown."""
    tables = read_catalogue(engine, schemas)
    lines = [
        "# Data dictionary",
        "",
        "Generated from the warehouse catalogue by `cdw docs data-dictionary` "
        "(`community_dw.dictionary.write_data_dictionary`); do not edit by hand. Comments come from the "
        "SQL that builds each table (`comment on table/column`), grains from the SQL file's `Grain:` line.",
        "",
        "| schema | what it holds | tables |",
        "|---|---|---|",
    ]
    for schema in schemas:
        count = sum(1 for t in tables if t.schema == schema)
        lines.append(f"| `{schema}` | {SCHEMA_ROLES.get(schema, '')} | {count} |")
    for schema in schemas:
        lines += ["", f"## {schema}", "", SCHEMA_ROLES.get(schema, ""), ""]
        for table in (t for t in tables if t.schema == schema):
            lines.append(f"- [`{table.qualified}`](#{table.schema}{table.name})")
        for table in (t for t in tables if t.schema == schema):
            lines += ["", f"### {table.qualified}", ""]
            lines.append(f"{_cell(table.comment)}")
            lines.append("")
            lines.append(f"- kind: {table.kind}")
            lines.append(f"- grain: {_cell(grain_of(table, sql_root))}")
            lines += ["", "| column | type | not null | comment |", "|---|---|---|---|"]
            for column in table.columns:
                lines.append(f"| `{column.name}` | {column.data_type} | {'yes' if column.not_null else ''} | "
                             f"{_cell(column.comment)} |")
    return "\n".join(lines) + "\n"


def write_data_dictionary(engine: sa.Engine, path: Path | str = DEFAULT_PATH) -> Path:
    """Render the dictionary of the warehouse behind `engine` to `path` (docs/data-dictionary.md)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_data_dictionary(engine), encoding="utf-8")
    return path


dictionary_app = typer.Typer(help="Generated documentation of the warehouse.", no_args_is_help=True)


@dictionary_app.callback()
def _docs() -> None:
    """Generated documentation of the warehouse (a group, so `cdw docs data-dictionary` keeps its name)."""


@dictionary_app.command("data-dictionary")
def data_dictionary_command(
    out: Path = typer.Option(DEFAULT_PATH, "--out", help="Where to write the Markdown."),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 if the file is out of date."),
) -> None:
    """Write docs/data-dictionary.md from the warehouse: every schema, table, grain and column comment.

    Run it against a warehouse the pipeline has built (`cdw run`), so core, marts and the published
    copies exist.
    """
    from community_dw.warehouse.session import warehouse_engine

    engine = warehouse_engine()
    if check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != render_data_dictionary(engine):
            typer.echo(f"{out} is out of date: run `cdw docs data-dictionary`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{out} is up to date")
        return
    typer.echo(f"wrote {write_data_dictionary(engine, out)}")

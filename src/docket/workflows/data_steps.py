"""The steps that need no model: ``compute`` (SQL in DuckDB over CSV/XLSX files, SQLite and
PostgreSQL tables), ``chart`` (matplotlib PNG/SVG) and ``render`` (HTML, Markdown, PDF, DOCX)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass as pdataclass

from docket.errors import MissingExtraError, UserError
from docket.workflows.steps import STEP_CONFIG, STEPS, Problem, StepContext, StepFailed, _templates

__all__ = ["ChartStep", "ComputeStep", "RenderStep"]

_NAME = re.compile(r"[A-Za-z_]\w*")
_SELECT = re.compile(r"\s*\(?\s*(select|with|from|values)\b", re.I)
_SOURCE_KINDS = ("sqlite", "postgres")


@STEPS.register("compute")
@pdataclass(frozen=True, config=STEP_CONFIG)
class ComputeStep:
    """Figures by SQL (DuckDB, in memory) over tables loaded from ``tables`` (name → a CSV/XLSX
    file, ``{sqlite: FILE, table|query}`` or ``{postgres: URL, table|query}``) and/or one
    spreadsheet ``data`` loaded as table ``table`` (the default when ``tables`` is not given):
    the ``queries`` given (title → SELECT), or those a ``report`` spec file asks for (over
    ``table``). Each query is one SELECT with no access to files, stopped after ``timeout``
    seconds, at most ``max_rows`` rows. Output: ``{"title", "file", "tables": [{"title",
    "columns", "rows", "sql"}]}``."""

    data: str | None = None
    table: str = "data"
    tables: dict[str, str | dict[str, str]] = Field(default_factory=dict)
    queries: dict[str, str] = Field(default_factory=dict)
    report: str | None = None
    timeout: float = Field(default=30.0, gt=0)
    max_rows: int = Field(default=10_000, ge=1)
    needs_model = False

    def problems(self, earlier: set[str]) -> list[Problem]:
        problems = _templates(data=self.data, report=self.report)
        if not self.queries and self.report is None:
            problems.append(("queries", "give queries (title: SELECT ...) or a report spec (report: FILE)", 0))
        if not _NAME.fullmatch(self.table):
            problems.append(("table", "a table name is letters, digits and _", 0))
        for title, sql in self.queries.items():
            if not _SELECT.match(sql):
                problems.append((f"queries.{title}", "a query is one SELECT (or WITH ... SELECT) statement", 0))
        for name, source in self.tables.items():
            problems += _source_problems(f"tables.{name}", source)
            if not _NAME.fullmatch(name):
                problems.append((f"tables.{name}", "a table name is letters, digits and _", 0))
            elif name == self.table and self.data is not None:
                problems.append((f"tables.{name}", f"'data' is already loaded as table '{name}'", 0))
        if self.report is not None and self.tables and self.data is None and self.table not in self.tables:
            problems.append(("table", f"the report reads table '{self.table}': name one of tables", 0))
        return problems

    def run(self, ctx: StepContext) -> Any:
        from docket.workflows.database import Database, DataTable
        from docket.workflows.readers import read_sheet
        from docket.workflows.report import load_report_spec, report_queries

        database = Database()
        try:
            data = None
            if self.data is not None or not self.tables:
                data = _path(ctx, self.data or "{{ inputs.path }}")
                database.add(self.table, *read_sheet(data))
            for name, source in self.tables.items():
                database.add(name, *_read_source(ctx, name, source, self.timeout))
            database.lock()
            queries = list(self.queries.items())
            title = None
            if self.report is not None:
                spec = load_report_spec(_path(ctx, self.report))
                queries += report_queries(spec, DataTable(database, self.table))
                title = spec.title
            tables = [
                {"title": name, **database.query(sql, name, self.timeout, self.max_rows)} for name, sql in queries
            ]
        finally:
            database.close()
        return {"title": title, "file": None if data is None else str(data), "tables": tables}


def _path(ctx: StepContext, template: str) -> Path:
    path = Path(ctx.render(template))
    return path if path.is_absolute() else ctx.base_dir / path


def _source_problems(where: str, source: str | dict[str, str]) -> list[Problem]:
    if isinstance(source, str):
        return _templates(**{where: source})
    kinds = [k for k in _SOURCE_KINDS if k in source]
    reads = [k for k in ("table", "query") if k in source]
    unknown = sorted(set(source) - {*_SOURCE_KINDS, "table", "query"})
    problems: list[Problem] = []
    if unknown:
        problems.append((where, f"unknown key(s) {', '.join(unknown)}. Valid keys: sqlite, postgres, table, query", 0))
    if len(kinds) != 1:
        problems.append((where, "give a file (a CSV/XLSX path), {sqlite: FILE, ...} or {postgres: URL, ...}", 0))
    if len(reads) != 1:
        problems.append((where, "give table: NAME or query: SELECT ... (one of them)", 0))
    if "query" in source and not _SELECT.match(source["query"]):
        problems.append((f"{where}.query", "a query is one SELECT (or WITH ... SELECT) statement", 0))
    if "table" in source and not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?", source["table"]):
        problems.append((f"{where}.table", "a table name is letters, digits and _ (postgres: schema.table)", 0))
    for key in ("sqlite", "postgres"):
        if key in source:
            problems += _templates(**{f"{where}.{key}": source[key]})
    return problems


def _read_source(
    ctx: StepContext, name: str, source: str | dict[str, str], timeout: float
) -> tuple[list[str], list[list[Any]]]:
    """The header and columns of one ``tables:`` entry."""
    from docket.workflows.readers import read_postgres, read_sheet, read_sqlite

    if isinstance(source, str):
        path = _path(ctx, source)
        if path.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
            raise UserError(f"tables.{name}: for a SQLite file write {{sqlite: {source}, table: NAME}}")
        return read_sheet(path)
    table, query = source.get("table"), source.get("query")
    if "sqlite" in source:
        return read_sqlite(_path(ctx, source["sqlite"]), table, query, timeout)
    if "postgres" in source:
        url = ctx.render(source["postgres"])
        if url.startswith("env:"):
            url = os.environ.get(url[4:], "")
            if not url:
                raise UserError(f"tables.{name}: the environment variable {source['postgres'][4:]} is not set")
        return read_postgres(url, table, query, timeout)
    raise UserError(f"tables.{name}: give a file, {{sqlite: FILE, table: NAME}} or {{postgres: URL, table: NAME}}")


@STEPS.register("chart")
@pdataclass(frozen=True, config=STEP_CONFIG)
class ChartStep:
    """A chart of each table of a compute step (``source``) that has one label column and figures:
    the first figure by label (a line over time for periods, bars otherwise), as PNG or SVG files
    in the output folder. ``tables`` limits it to the tables with those titles."""

    source: str
    format: Literal["png", "svg"] = "png"
    tables: list[str] | None = None
    needs_model = False

    def problems(self, earlier: set[str]) -> list[Problem]:
        return [] if self.source in earlier else [("source", f"no earlier step '{self.source}'", 0)]

    def run(self, ctx: StepContext) -> Any:
        if ctx.output_dir is None:
            raise StepFailed("chart writes image files: give an output folder (--output DIR)")
        computed = ctx.outputs.get(self.source) or {}
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        charts = []
        for table in computed.get("tables", []):
            if self.tables is not None and table["title"] not in self.tables:
                continue
            if self.tables is None and not _chartable(table):
                continue
            name = "chart-" + re.sub(r"[^a-z0-9]+", "-", table["title"].lower()).strip("-") + f".{self.format}"
            _draw(table, ctx.output_dir / name, self.format)
            charts.append({"title": table["title"], "file": name})
        return {"charts": charts}


def _chartable(table: dict[str, Any]) -> bool:
    rows = table["rows"]
    if len(rows) < 2 or len(table["columns"]) < 2:
        return False
    label_is_text = all(not isinstance(r[0], (int, float)) for r in rows)
    second_is_number = all(isinstance(r[1], (int, float)) or r[1] is None for r in rows)
    return label_is_text and second_is_number


def _draw(table: dict[str, Any], path: Path, fmt: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError("matplotlib", "workflows", "Charts") from None
    labels = [str(r[0]) for r in table["rows"]]
    values = [float(r[1] or 0) for r in table["rows"]]
    metric, label = table["columns"][1], table["columns"][0]
    fig = Figure(figsize=(8, 4.2), dpi=100)
    ax = fig.add_subplot()
    over_time = label.lower() in ("year", "quarter", "month")
    if over_time:
        ax.plot(labels, values, marker="o")
        ax.set_xlabel(label)
        if len(labels) > 8:  # months of two years: slanted labels, every few of them
            ax.set_xticks(range(0, len(labels), max(1, len(labels) // 12)))
            ax.tick_params(axis="x", labelrotation=45)
    else:
        ax.barh(labels[::-1], values[::-1])
        ax.set_xlabel(metric)
    ax.set_title(f"{metric} — {table['title']}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    metadata: dict[str, Any] = {"Software": None} if fmt == "png" else {"Date": None}
    with matplotlib.rc_context({"svg.hashsalt": "docket"}):
        fig.savefig(path, format=fmt, metadata=metadata)


@STEPS.register("render")
@pdataclass(frozen=True, config=STEP_CONFIG)
class RenderStep:
    """A document from earlier steps (``sections``: their ids, in order): compute tables become
    tables, charts images, text paragraphs; notes from the run (a dropped narrative) are shown.
    Written to the output folder as ``NAME.html`` / ``.md`` / ``.pdf`` / ``.docx``."""

    sections: list[str]
    title: str = "Report"
    formats: list[Literal["html", "markdown", "pdf", "docx"]] = Field(default_factory=lambda: ["html"])  # type: ignore[arg-type]
    name: str = "report"
    needs_model = False

    def problems(self, earlier: set[str]) -> list[Problem]:
        problems = _templates(title=self.title)
        missing = [s for s in self.sections if s not in earlier]
        if missing:
            problems.append(("sections", f"no earlier step(s) {', '.join(missing)}", 0))
        if not re.fullmatch(r"[\w.-]+", self.name):
            problems.append(("name", "a file name without folders", 0))
        return problems

    def run(self, ctx: StepContext) -> Any:
        from docket.workflows.render import write_document

        if ctx.output_dir is None:
            raise StepFailed("render writes files: give an output folder (--output DIR)")
        blocks: list[dict[str, Any]] = [{"type": "note", "text": note} for note in ctx.notes]
        for section in self.sections:
            blocks.extend(_blocks(ctx.outputs.get(section)))
        title = ctx.render(self.title)
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        files = {fmt: str(write_document(title, blocks, ctx.output_dir, self.name, fmt)) for fmt in self.formats}
        return {"files": files}


def _blocks(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    if isinstance(value, dict) and "tables" in value:
        return [{"type": "table", **t} for t in value["tables"]]
    if isinstance(value, dict) and "charts" in value:
        return [{"type": "image", **c} for c in value["charts"]]
    if isinstance(value, dict):
        rows = [[k, v if isinstance(v, (int, float, str)) or v is None else str(v)] for k, v in value.items()]
        return [{"type": "table", "title": "", "columns": ["field", "value"], "rows": rows}]
    return [{"type": "text", "text": str(value)}]

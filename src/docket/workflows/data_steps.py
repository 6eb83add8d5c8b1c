"""The steps that need no model: ``compute`` (SQL over a CSV/XLSX file), ``chart`` (matplotlib
PNG/SVG) and ``render`` (HTML, Markdown, PDF, DOCX)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass as pdataclass

from docket.errors import MissingExtraError, UserError
from docket.workflows.steps import STEP_CONFIG, STEPS, Problem, StepContext, StepFailed, _templates

__all__ = ["ChartStep", "ComputeStep", "RenderStep"]


@STEPS.register("compute")
@pdataclass(frozen=True, config=STEP_CONFIG)
class ComputeStep:
    """Figures by SQL over one spreadsheet, loaded as table ``table``: the ``queries`` given
    (title → SELECT), or those a ``report`` spec file asks for. Output: ``{"title", "tables":
    [{"title", "columns", "rows", "sql"}]}``."""

    data: str = "{{ inputs.path }}"
    table: str = "data"
    queries: dict[str, str] = Field(default_factory=dict)
    report: str | None = None
    needs_model = False

    def problems(self, earlier: set[str]) -> list[Problem]:
        problems = _templates(data=self.data, report=self.report)
        if not self.queries and self.report is None:
            problems.append(("queries", "give queries (title: SELECT ...) or a report spec (report: FILE)", 0))
        if not re.fullmatch(r"[A-Za-z_]\w*", self.table):
            problems.append(("table", "a table name is letters, digits and _", 0))
        for title, sql in self.queries.items():
            if not re.match(r"\s*(select|with)\b", sql, re.I):
                problems.append((f"queries.{title}", "a query is one SELECT (or WITH ... SELECT) statement", 0))
        return problems

    def run(self, ctx: StepContext) -> Any:
        from docket.workflows.report import load_report_spec, load_table, report_queries

        data = Path(ctx.render(self.data))
        table = load_table(data if data.is_absolute() else ctx.base_dir / data, self.table)
        queries = list(self.queries.items())
        title = None
        if self.report is not None:
            spec_path = Path(ctx.render(self.report))
            spec = load_report_spec(spec_path if spec_path.is_absolute() else ctx.base_dir / spec_path)
            queries += report_queries(spec, table)
            title = spec.title
        tables = []
        for name, sql in queries:
            _read_only(sql)
            tables.append({"title": name, **table.query(sql)})
        return {"title": title, "file": str(data), "tables": tables}


def _read_only(sql: str) -> None:
    if not re.match(r"\s*(select|with)\b", sql, re.I) or ";" in sql.strip().rstrip(";"):
        raise UserError(f"compute runs one read-only SELECT per query, not: {sql[:80]}")


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

"""Reports from business data: load a CSV/XLSX file as a SQL table, turn a short report spec into
the queries that compute its figures, and check that a narrative only quotes those figures.

A report spec (YAML)::

    title: Sales by product line
    date_column: ORDERDATE
    period: year            # or month, quarter
    metrics:
      - {name: revenue, column: SALES, agg: sum}
      - {name: orders, column: ORDERNUMBER, agg: count_distinct}
    breakdowns: [PRODUCTLINE]

gives the tables *Totals*, *By year*, *By PRODUCTLINE* and *PRODUCTLINE by year*. Every figure is
computed by SQL (stdlib ``sqlite3``, in memory) over values typed the same way ``docket ask``
types spreadsheets: numbers with thousands separators, ISO, ``M/D/YYYY H:MM`` and ``M/D/YY``
dates, files in UTF-8 or Latin-1.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from docket.errors import UserError

__all__ = [
    "DataTable",
    "Metric",
    "ReportSpec",
    "allowed_numbers",
    "load_report_spec",
    "load_table",
    "report_queries",
    "unsupported_numbers",
]

Agg = Literal["sum", "count", "count_distinct", "avg", "min", "max"]


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    column: str = Field(min_length=1)
    agg: Agg = "sum"


class ReportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = "Report"
    date_column: str | None = None
    period: Literal["year", "quarter", "month"] = "year"
    metrics: list[Metric] = Field(min_length=1)
    breakdowns: list[str] = Field(default_factory=list)
    top: int = Field(20, ge=1, description="rows kept in a breakdown table, largest first")


def load_report_spec(path: str | Path) -> ReportSpec:
    """Read and validate a report spec; errors name the file, line and field."""
    from docket.workflows.spec import WorkflowError, yaml_with_lines

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no report spec '{path}': pass --spec FILE.yml (see docs/workflows.md, 'The report spec')")
    data, problems = yaml_with_lines(path.read_text(encoding="utf-8"), str(path))
    try:
        return ReportSpec.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.add(tuple(err["loc"]), str(err["msg"]))
        raise WorkflowError("invalid report spec:\n" + "\n".join(problems.items)) from None


# ---------------------------------------------------------------------- loading data


class DataTable:
    """One spreadsheet table in an in-memory SQLite database, as table ``name``."""

    def __init__(self, name: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.name, self.columns = name, columns
        self.db = sqlite3.connect(":memory:")
        cols = ", ".join(_quote(c) for c in columns)
        self.db.execute(f"CREATE TABLE {_quote(name)} ({cols})")
        marks = ", ".join("?" for _ in columns)
        self.db.executemany(f"INSERT INTO {_quote(name)} VALUES ({marks})", rows)

    def column(self, wanted: str) -> str:
        """The column a spec names: exactly, else ignoring case, spaces and punctuation."""
        if wanted in self.columns:
            return wanted
        key = _key(wanted)
        for column in self.columns:
            if _key(column) == key:
                return column
        raise UserError(f"no column '{wanted}' in the data. Columns: {', '.join(self.columns)}")

    def query(self, sql: str) -> dict[str, Any]:
        try:
            cursor = self.db.execute(sql)
        except sqlite3.Error as exc:
            raise UserError(f"SQL error: {exc}\nin: {sql}") from exc
        columns = [d[0] for d in cursor.description or ()]
        return {"columns": columns, "rows": [list(r) for r in cursor.fetchall()], "sql": sql}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


_SHORT_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _short_dates(values: list[Any]) -> list[Any] | None:
    """``M/D/YY`` texts as ISO dates (years 00-68 → 20xx), or None when the column is not all such."""
    out: list[Any] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        m = _SHORT_DATE.fullmatch(str(v).strip())
        if not m:
            return None
        year = int(m[3]) + (2000 if int(m[3]) < 69 else 1900)
        try:
            stamp = dt.datetime(year, int(m[1]), int(m[2]), int(m[4] or 0), int(m[5] or 0), int(m[6] or 0))
        except ValueError:
            return None
        out.append(stamp)
    timed = any(s is not None and s.time() != dt.time(0) for s in out)
    return [None if s is None else s.strftime("%Y-%m-%d %H:%M:%S" if timed else "%Y-%m-%d") for s in out]


def load_table(path: str | Path, name: str = "data") -> DataTable:
    """A CSV/TSV/XLSX/XLS file's first table, typed: numbers as numbers, dates as ISO text."""
    from docket.index.sheet_tables import raw_tables, typed_column

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no data file '{path}'")
    filetype = path.suffix.lower().lstrip(".")
    if filetype not in ("csv", "tsv", "xlsx", "xlsm", "xls"):
        raise UserError(f"'{path.name}' is not a spreadsheet; give a CSV, TSV, XLSX or XLS file")
    from docket.errors import ParseError

    try:
        tables = raw_tables(path.read_bytes(), filetype)
    except ParseError as exc:
        raise UserError(f"could not read '{path}': {exc}") from exc
    if not tables:
        raise UserError(f"'{path}' holds no table (no header row with data under it)")
    table = tables[0]
    header = [h or f"column_{i + 1}" for i, h in enumerate(table.header)]
    header = [h.lstrip("\ufeff") for h in header]
    converted = []
    for i in range(len(header)):
        values = [cells[i] for _, cells in table.rows]
        _, _, typed = typed_column(values)
        if all(v is None or isinstance(v, str) for v in typed):
            typed = _short_dates(typed) or typed
        converted.append(typed)
    rows = [list(r) for r in zip(*converted, strict=True)] if converted else []
    return DataTable(name, header, rows)


# ---------------------------------------------------------------------- spec → queries

_AGG_SQL = {
    "sum": "ROUND(SUM({c}), 2)",
    "count": "COUNT({c})",
    "count_distinct": "COUNT(DISTINCT {c})",
    "avg": "ROUND(AVG({c}), 2)",
    "min": "MIN({c})",
    "max": "MAX({c})",
}


def _period_sql(column: str, period: str) -> str:
    c = _quote(column)
    if period == "year":
        return f"substr({c}, 1, 4)"
    if period == "month":
        return f"substr({c}, 1, 7)"
    return f"substr({c}, 1, 4) || '-Q' || ((CAST(substr({c}, 6, 2) AS INTEGER) + 2) / 3)"


def report_queries(spec: ReportSpec, table: DataTable) -> list[tuple[str, str]]:
    """(title, SQL) for each table of the report, in the order they are shown."""
    t = _quote(table.name)
    metrics = ", ".join(
        f"{_AGG_SQL[m.agg].format(c=_quote(table.column(m.column)))} AS {_quote(m.name)}" for m in spec.metrics
    )
    first = _quote(spec.metrics[0].name)
    out = [("Totals", f"SELECT {metrics} FROM {t}")]
    period = None
    if spec.date_column:
        date = table.column(spec.date_column)
        period = _period_sql(date, spec.period)
        where = f"WHERE {_quote(date)} IS NOT NULL"
        out.append(
            (
                f"By {spec.period}",
                f"SELECT {period} AS {spec.period}, {metrics} FROM {t} {where} GROUP BY 1 ORDER BY 1",
            )
        )
    for breakdown in spec.breakdowns:
        b = _quote(table.column(breakdown))
        out.append(
            (
                f"By {breakdown}",
                f"SELECT {b} AS {_quote(breakdown)}, {metrics} FROM {t} GROUP BY 1 ORDER BY {first} DESC, 1 "
                f"LIMIT {spec.top}",
            )
        )
        if period is not None:
            out.append(
                (
                    f"{breakdown} by {spec.period}",
                    f"SELECT {period} AS {spec.period}, {b} AS {_quote(breakdown)}, {metrics} FROM {t} "
                    f"WHERE {_quote(table.column(spec.date_column or ''))} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
                )
            )
    return out


# ---------------------------------------------------------------------- the narrative may only quote figures

_NUMBER = re.compile(r"(?<![\w.])[-+−]?[$€£¥]?\d[\d,]*(?:\.\d+)?%?")


def _number_value(token: str) -> tuple[float, int] | None:
    body = re.sub(r"[^\d.]", "", token.replace(",", ""))
    if not body or body.count(".") > 1:
        return None
    decimals = len(body.split(".")[1]) if "." in body else 0
    return float(body), decimals


def allowed_numbers(computed: Any) -> list[float]:
    """Every number in a compute step's output: the figures and the numbers inside labels (years...)."""
    found: list[float] = []

    def walk(value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            found.append(abs(float(value)))
        elif isinstance(value, str):
            for token in _NUMBER.findall(value):
                parsed = _number_value(token)
                if parsed is not None:
                    found.append(parsed[0])
        elif isinstance(value, dict):
            for key, item in value.items():
                if key != "sql":
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(computed)
    return found


def unsupported_numbers(text: str, allowed: list[float]) -> list[str]:
    """The numbers in ``text`` that are not computed figures (at the precision the text writes them)."""
    bad = []
    for token in _NUMBER.findall(text):
        parsed = _number_value(token)
        if parsed is None:
            continue
        value, decimals = parsed
        if not any(round(a, decimals) == round(value, decimals) for a in allowed):
            bad.append(token)
    return bad

"""Report specs: a short YAML spec turned into the SQL queries that compute a report's figures over
one table of a :class:`~docket.workflows.database.Database`.

A report spec (YAML)::

    title: Sales by product line
    date_column: ORDERDATE
    period: year            # or month, quarter
    metrics:
      - {name: revenue, column: SALES, agg: sum}
      - {name: orders, column: ORDERNUMBER, agg: count_distinct}
    breakdowns: [PRODUCTLINE]

gives the tables *Totals*, *By year*, *By PRODUCTLINE* and *PRODUCTLINE by year*. Every figure is
computed by SQL (DuckDB, in process, one thread, so the same data gives the same figures) over
values typed the same way ``docket ask`` types spreadsheets: numbers with thousands separators,
ISO, ``M/D/YYYY H:MM`` and ``M/D/YY`` dates (as DATE / TIMESTAMP columns), files in UTF-8 or Latin-1.

Tables are read by :mod:`docket.workflows.readers` into :mod:`docket.workflows.database`; a
narrative written from the figures is checked by :mod:`docket.workflows.numbers`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from docket.errors import UserError
from docket.workflows.database import DataTable, _quote
from docket.workflows.spec import WorkflowError, yaml_with_lines

__all__ = ["Metric", "ReportSpec", "load_report_spec", "report_queries"]

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


_NUMERIC = re.compile(r"U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL")

_AGG_SQL = {
    "sum": "ROUND(SUM({c}), 2)",  # integers and decimals: exact
    "fsum": "docket_round(fsum({c}), 2)",  # floats: compensated sum, rounded as SQLite and people do
    "count": "COUNT({c})",
    "count_distinct": "COUNT(DISTINCT {c})",
    "avg": "docket_round(favg({c}), 2)",
    "min": "MIN({c})",
    "max": "MAX({c})",
}


def _period_sql(column: str, period: str, kind: str) -> str:
    c = _quote(column)
    if kind in ("DATE", "TIMESTAMP"):
        year = f"strftime({c}, '%Y')"
        return {"year": year, "month": f"strftime({c}, '%Y-%m')"}.get(period, f"{year} || '-Q' || quarter({c})")
    text = f"CAST({c} AS VARCHAR)"  # not typed as dates: cut the text, as ISO dates read
    if period == "year":
        return f"substr({text}, 1, 4)"
    if period == "month":
        return f"substr({text}, 1, 7)"
    return f"substr({text}, 1, 4) || '-Q' || ((TRY_CAST(substr({text}, 6, 2) AS INTEGER) + 2) // 3)"


def _metric_sql(metric: Metric, table: DataTable) -> str:
    column = table.column(metric.column)
    kind = table.types[column]
    agg: str = metric.agg
    if agg in ("sum", "avg") and not _NUMERIC.match(kind):
        raise UserError(
            f"metric '{metric.name}': column '{column}' holds {kind.lower()} values, not numbers; "
            f"{agg} needs a column of numbers (use count or count_distinct for others)"
        )
    if agg == "sum" and kind in ("FLOAT", "DOUBLE"):
        agg = "fsum"
    return f"{_AGG_SQL[agg].format(c=_quote(column))} AS {_quote(metric.name)}"


def report_queries(spec: ReportSpec, table: DataTable) -> list[tuple[str, str]]:
    """(title, SQL) for each table of the report, in the order they are shown."""
    t = _quote(table.name)
    metrics = ", ".join(_metric_sql(m, table) for m in spec.metrics)
    first = _quote(spec.metrics[0].name)
    out = [("Totals", f"SELECT {metrics} FROM {t}")]
    period = None
    if spec.date_column:
        date = table.column(spec.date_column)
        period = _period_sql(date, spec.period, table.types[date])
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

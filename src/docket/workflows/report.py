"""Reports from business data: load tables (CSV/XLSX files, SQLite, PostgreSQL) into an in-memory
DuckDB database, turn a short report spec into the queries that compute its figures, and check that a
narrative only quotes those figures.

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

The data is handed to DuckDB from Python (SQLite through ``sqlite3``, PostgreSQL through psycopg):
no DuckDB extension is installed or loaded. Once loaded, :meth:`Database.lock` turns off file
access and further configuration, so a query reads those tables and nothing else; each query is
one SELECT, stopped after a time limit, with a cap on the rows it returns.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from docket.errors import MissingExtraError, SourceError, UserError

__all__ = [
    "DataTable",
    "Database",
    "Metric",
    "ReportSpec",
    "allowed_numbers",
    "load_report_spec",
    "load_table",
    "read_postgres",
    "read_sheet",
    "read_sqlite",
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


# ---------------------------------------------------------------------- the database

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ROWS = 10_000
_NUMERIC = re.compile(r"U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL")
_LOAD = "__docket_load"


def duckdb_module() -> Any:
    try:
        import duckdb
    except ImportError:
        raise MissingExtraError("duckdb", "workflows", "The compute step") from None
    return duckdb


class Database:
    """Tables in an in-memory DuckDB database, for read-only SQL from a workflow.

    Add tables with :meth:`add` (columns of Python values, typed here), then :meth:`lock`; after
    that a query can read these tables and nothing else: no files, no other databases, no
    extensions, no settings changed.
    """

    def __init__(self) -> None:
        self._duckdb = duckdb_module()
        self.db = self._duckdb.connect(
            ":memory:",
            config={
                "enable_external_access": False,  # no files, no ATTACH, no extension install/load
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "allow_community_extensions": False,
                "python_enable_replacements": False,  # FROM name never finds a Python variable
                "threads": 1,  # one thread: the same data always gives the same float sums and row order
                "default_null_order": "nulls_first_on_asc_last_on_desc",  # as SQLite sorts NULLs
            },
        )
        # ROUND of a float's 15 significant digits, half away from zero: 0.285 → 0.29 and a sum that
        # is 246097.175 in decimal → 246097.18 (DuckDB's ROUND gives .28 and .17, from the binary value)
        self.db.execute(
            "CREATE MACRO docket_round(x, n) AS "
            "COALESCE(CAST(ROUND(TRY_CAST(printf('%.15g', x) AS DECIMAL(38, 12)), n) AS DOUBLE), ROUND(x, n))"
        )
        self.tables: dict[str, list[str]] = {}
        self.types: dict[str, list[str]] = {}

    def add(self, name: str, header: list[str], columns: list[list[Any]]) -> None:
        """Table ``name`` from its header and column values (None for empty), each column typed
        by its values: BIGINT, DOUBLE, DECIMAL, BOOLEAN, DATE, TIMESTAMP, TIME, BLOB or VARCHAR."""
        import numpy as np

        if name in self.tables:
            raise UserError(f"two tables are named '{name}': give each source its own name")
        header = _unique(header)
        typed = [_duck_column(values) for values in columns]
        definition = ", ".join(f"{_quote(h)} {kind}" for h, (kind, _) in zip(header, typed, strict=True))
        self.db.execute(f"CREATE TABLE {_quote(name)} ({definition})")
        if columns and columns[0]:
            # handed over as numpy arrays (numbers as such, with a mask for the empty cells; the rest
            # as text, then cast: exact for every type), scanned in one INSERT rather than row by row
            arrays: dict[str, Any] = {}
            selects = []
            for i, (kind, values) in enumerate(typed):
                if kind in ("BIGINT", "DOUBLE"):
                    mask = [v is None for v in values]
                    fill: Any = 0 if kind == "BIGINT" else 0.0
                    arrays[f"c{i}"] = np.array([fill if v is None else v for v in values], dtype=_NUMPY[kind])
                    if any(mask):
                        arrays[f"m{i}"] = np.array(mask, dtype=bool)
                        selects.append(f"CASE WHEN m{i} THEN NULL ELSE c{i} END")
                    else:
                        selects.append(f"c{i}")
                else:
                    arrays[f"c{i}"] = np.array(values, dtype=object)
                    selects.append(f"unhex(c{i})" if kind == "BLOB" else f"CAST(c{i} AS {kind})")
            self.db.register(_LOAD, arrays)
            try:
                self.db.execute(f"INSERT INTO {_quote(name)} SELECT {', '.join(selects)} FROM {_LOAD}")
            finally:
                self.db.unregister(_LOAD)
        self.tables[name] = header
        self.types[name] = [kind for kind, _ in typed]

    def lock(self) -> None:
        """No file or network access, no extensions, no further settings: only the tables added."""
        self.db.execute("SET enable_external_access = false")
        self.db.execute("SET lock_configuration = true")

    def close(self) -> None:
        self.db.close()

    def query(
        self, sql: str, title: str = "query", timeout: float = DEFAULT_TIMEOUT, max_rows: int = DEFAULT_MAX_ROWS
    ) -> dict[str, Any]:
        """``{"columns", "rows", "sql"}`` of one SELECT; errors name the query's title."""
        duckdb = self._duckdb
        try:
            statements = self.db.extract_statements(sql)
        except duckdb.Error as exc:
            raise UserError(f"SQL error in query '{title}': {exc}\nin: {sql}") from exc
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise UserError(f"query '{title}': compute runs one read-only SELECT (or WITH ... SELECT), not: {sql[:80]}")
        timer = threading.Timer(timeout, self.db.interrupt)
        timer.start()
        try:
            cursor = self.db.execute(sql)
            rows = cursor.fetchmany(max_rows + 1)
        except duckdb.InterruptException:
            raise UserError(
                f"query '{title}' ran longer than {timeout:g} s and was stopped: make it cheaper "
                "(filter, aggregate, avoid cross joins) or raise the step's timeout"
            ) from None
        except duckdb.Error as exc:
            raise UserError(f"SQL error in query '{title}': {exc}\nin: {sql}") from exc
        finally:
            timer.cancel()
        if len(rows) > max_rows:
            raise UserError(
                f"query '{title}' returns more than {max_rows:,} rows: aggregate it, add a LIMIT "
                "or raise the step's max_rows"
            )
        columns = [d[0] for d in cursor.description or ()]
        return {"columns": columns, "rows": [[_plain(v) for v in row] for row in rows], "sql": sql}


class DataTable:
    """One table of a :class:`Database` as a report spec sees it: its name, columns and their types."""

    def __init__(self, database: Database, name: str) -> None:
        if name not in database.tables:
            raise UserError(f"no table '{name}'. Tables: {', '.join(database.tables) or '(none)'}")
        self.database, self.name = database, name
        self.columns = database.tables[name]
        self.types = dict(zip(self.columns, database.types[name], strict=True))

    def column(self, wanted: str) -> str:
        """The column a spec names: exactly, else ignoring case, spaces and punctuation."""
        if wanted in self.columns:
            return wanted
        key = _key(wanted)
        for column in self.columns:
            if _key(column) == key:
                return column
        raise UserError(f"no column '{wanted}' in table '{self.name}'. Columns: {', '.join(self.columns)}")

    def query(self, sql: str, title: str = "query") -> dict[str, Any]:
        return self.database.query(sql, title)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _unique(header: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i, name in enumerate(header):
        name = name or f"column_{i + 1}"
        candidate, n = name, 1
        while candidate.lower() in seen:  # DuckDB column names are case-insensitive
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def _duck_column(values: list[Any]) -> tuple[str, list[Any]]:
    """(DuckDB type, the values: ints or floats for BIGINT and DOUBLE, else text that casts
    exactly to the type) for one column's values."""
    present = [v for v in values if v is not None]
    if not present:
        return "VARCHAR", [None] * len(values)
    kinds = {_KINDS.get(type(v)) or _kind(v) for v in present}
    if kinds == {"text"}:
        return "VARCHAR", values
    if kinds == {"bool"}:
        return "BOOLEAN", [None if v is None else ("true" if v else "false") for v in values]
    if kinds == {"int"}:
        if min(present) >= -(2**63) and max(present) < 2**63:
            return "BIGINT", values
        kinds = {"float"}
    if kinds <= {"int", "float"}:
        return "DOUBLE", [None if v is None else float(v) for v in values]
    if kinds <= {"int", "decimal"}:
        exact = [decimal.Decimal(v) for v in present]
        scale = max((-int(d.as_tuple().exponent) for d in exact if d.is_finite()), default=0)
        digits = max((d.adjusted() + 1 for d in exact if d.is_finite()), default=0)
        scale = max(scale, 0)
        if scale <= 18 and digits + scale <= 38 and all(d.is_finite() for d in exact):
            return f"DECIMAL(38, {scale})", [None if v is None else format(decimal.Decimal(v), "f") for v in values]
        return "DOUBLE", [None if v is None else float(v) for v in values]
    if kinds == {"date"}:
        return "DATE", [None if v is None else v.isoformat() for v in values]
    if kinds <= {"date", "datetime"}:
        return "TIMESTAMP", [None if v is None else _naive(v).isoformat(sep=" ") for v in values]
    if kinds == {"time"}:
        return "TIME", [None if v is None else v.replace(tzinfo=None).isoformat() for v in values]
    if kinds == {"bytes"}:
        return "BLOB", [None if v is None else bytes(v).hex() for v in values]
    return "VARCHAR", [None if v is None else _text(v) for v in values]


_KINDS: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "text",
    decimal.Decimal: "decimal",
    dt.datetime: "datetime",
    dt.date: "date",
    dt.time: "time",
    bytes: "bytes",
}
_NUMPY = {"BIGINT": "int64", "DOUBLE": "float64"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    return "text"


def _naive(value: dt.date) -> dt.datetime:
    """A date or date-time as a naive date-time; aware ones in UTC."""
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _plain(value: Any) -> Any:
    """A result value as JSON-friendly Python: dates as ISO text, decimals as floats."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.microsecond else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (uuid.UUID, dt.timedelta)):
        return str(value)
    return str(value)


# ---------------------------------------------------------------------- sources

SHEET_TYPES = ("csv", "tsv", "xlsx", "xlsm", "xls")
_SHORT_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?")


def _short_dates(values: list[Any]) -> list[Any] | None:
    """``M/D/YY`` texts as dates (years 00-68 → 20xx), or None when the column is not all such."""
    out: list[dt.datetime | None] = []
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
    return out if timed else [None if s is None else s.date() for s in out]


def _iso_dates(values: list[Any]) -> list[Any] | None:
    """ISO date / date-time texts as dates, or None when the column is not all such."""
    present = [v for v in values if v is not None]
    if not present or not all(isinstance(v, str) and _ISO_DATE.fullmatch(v.strip()) for v in present):
        return None
    try:
        stamps = [None if v is None else dt.datetime.fromisoformat(v.strip()) for v in values]
    except ValueError:
        return None
    timed = any(s is not None and s.time() != dt.time(0) for s in stamps)
    return stamps if timed else [None if s is None else s.date() for s in stamps]


def read_sheet(path: str | Path) -> tuple[list[str], list[list[Any]]]:
    """The header and typed columns of a CSV/TSV/XLSX/XLS file's first table: numbers as
    numbers, dates as dates, empty cells as None."""
    from docket.errors import ParseError
    from docket.index.sheet_tables import raw_tables, typed_column

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no data file '{path}'")
    filetype = path.suffix.lower().lstrip(".")
    if filetype not in SHEET_TYPES:
        raise UserError(f"'{path.name}' is not a spreadsheet; give a CSV, TSV, XLSX or XLS file")
    try:
        tables = raw_tables(path.read_bytes(), filetype)
    except ParseError as exc:
        raise UserError(f"could not read '{path}': {exc}") from exc
    if not tables:
        raise UserError(f"'{path}' holds no table (no header row with data under it)")
    table = tables[0]
    header = [(h or f"column_{i + 1}").lstrip("\ufeff") for i, h in enumerate(table.header)]
    columns = []
    for i in range(len(header)):
        _, note, typed = typed_column([cells[i] for _, cells in table.rows])
        if note.startswith("date"):
            typed = _iso_dates(typed) or typed
        elif all(v is None or isinstance(v, str) for v in typed):
            typed = _short_dates(typed) or typed
        columns.append(typed)
    return header, columns


def _by_column(width: int, rows: list[Any]) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


def read_sqlite(
    path: str | Path, table: str | None = None, query: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[str], list[list[Any]]]:
    """A table (or one SELECT's result) of a SQLite file, opened read-only; ISO date texts as dates."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no SQLite file '{path}'")
    what = f"table '{table}'" if table else "query"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UserError(f"could not open SQLite file '{path}': {exc}") from exc
    deadline = time.monotonic() + timeout
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    try:
        conn.execute("PRAGMA query_only = ON")
        cursor = conn.execute(f"SELECT * FROM {_quote(table)}" if table else str(query))
        header = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        if "interrupted" in str(exc):
            raise UserError(f"reading {what} of '{path}' took longer than {timeout:g} s") from exc
        raise UserError(f"could not read {what} of SQLite file '{path}': {exc}") from exc
    finally:
        conn.close()
    columns = [_iso_dates(values) or values for values in _by_column(len(header), rows)]
    return header, columns


def _safe_url(url: str) -> str:
    return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def read_postgres(
    url: str, table: str | None = None, query: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[str], list[list[Any]]]:
    """A table (``schema.table`` or ``table``) or one SELECT's result from PostgreSQL, in a
    read-only transaction with a statement timeout; values keep their PostgreSQL types."""
    try:
        import psycopg
        from psycopg import sql as pgsql
    except ImportError:
        raise MissingExtraError("psycopg", "postgres", "Reading PostgreSQL tables") from None
    where = _safe_url(url)
    what = f"table '{table}'" if table else "query"
    try:
        conn = psycopg.connect(url, connect_timeout=10, autocommit=False)
    except psycopg.Error as exc:
        raise SourceError(f"could not connect to PostgreSQL at {where}: {str(exc).strip()}") from exc
    try:
        conn.read_only = True
        conn.execute(pgsql.SQL("SET statement_timeout = {}").format(pgsql.Literal(int(timeout * 1000))))
        statement = pgsql.SQL("SELECT * FROM {}").format(pgsql.Identifier(*table.split("."))) if table else query
        cursor = conn.execute(statement)  # type: ignore[arg-type]
        header = [d.name for d in cursor.description or ()]
        rows = cursor.fetchall()
    except psycopg.errors.QueryCanceled as exc:
        raise UserError(f"reading {what} from PostgreSQL took longer than {timeout:g} s") from exc
    except psycopg.OperationalError as exc:
        raise SourceError(f"PostgreSQL at {where} failed while reading {what}: {str(exc).strip()}") from exc
    except psycopg.Error as exc:
        raise UserError(f"could not read {what} from PostgreSQL: {str(exc).strip()}") from exc
    finally:
        conn.close()
    return header, _by_column(len(header), rows)


def load_table(path: str | Path, name: str = "data") -> DataTable:
    """A CSV/TSV/XLSX/XLS file's first table, typed (numbers as numbers, dates as dates), alone
    in a locked database."""
    header, columns = read_sheet(path)
    database = Database()
    database.add(name, header, columns)
    database.lock()
    return DataTable(database, name)


# ---------------------------------------------------------------------- spec → queries

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
